import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { replaceWasmKernel, type KernelRegistry, type MatMulArgs } from './wasmKernel';

// tfjs-backend-wasm 4.22 sends a matmul to XNNPACK only when the batch is 1 and no transpose flag is set;
// any other BatchMatMul (all of attention, forward and backward) runs a scalar loop about 6x slower
// (measured: 32 × [128×64]·[64×128] in 43 ms batched, 7 ms as 32 single matmuls). This kernel replaces it:
// operands are made flag-free with one transpose, and each batch slice is multiplied through the
// XNNPACK path in place, by registering views of the slices' memory as tensors of their own.

/** The parts of the wasm backend this kernel uses (internal API of the pinned 4.22 release). */
interface WasmBackend {
  wasm: {
    cwrap(name: string, ret: null, args: string[]): (...a: unknown[]) => void;
    tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void };
  };
  dataIdMap: {
    get(id: object): { id: number; memoryOffset: number };
    set(id: object, v: unknown): void;
    delete(id: object): void;
  };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  disposeData(id: object): boolean;
}

/** Installs the kernel in place of the wasm backend's BatchMatMul; call once the backend is ready. */
export function installSlicedBatchMatMul(tf: KernelRegistry): void {
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (!transpose) throw new Error('the wasm backend has no Transpose kernel');
  let raw: ((...a: unknown[]) => void) | undefined;
  replaceWasmKernel<MatMulArgs<WasmBackend>>(tf, 'BatchMatMul', (original) => (args) => {
    const { inputs, backend, attrs } = args;
    const { a, b } = inputs;
    const batchOf = (t: TensorInfo) => t.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    const batch = batchOf(a);
    if (
      a.dtype !== 'float32' ||
      b.dtype !== 'float32' ||
      batch !== batchOf(b) ||
      batch === 1 ||
      a.shape.length !== b.shape.length
    ) {
      return original(args);
    }
    raw ??= backend.wasm.cwrap('BatchMatMul', null, [
      'number',
      'array',
      'number',
      'number',
      'array',
      'number',
      'number',
      'number',
      'number',
    ]);
    const flagFree = (t: TensorInfo, flag: boolean): TensorInfo => {
      if (!flag) return t;
      const perm = [...t.shape.keys()];
      [perm[perm.length - 2], perm[perm.length - 1]] = [perm[perm.length - 1], perm[perm.length - 2]];
      return (transpose.kernelFunc as KernelFunc)({
        inputs: { x: t },
        backend: backend as never,
        attrs: { perm },
      }) as TensorInfo;
    };
    const a2 = flagFree(a, attrs.transposeA);
    const b2 = flagFree(b, attrs.transposeB);
    const [m, k] = a2.shape.slice(-2);
    const n = b2.shape[b2.shape.length - 1];
    const out = backend.makeOutput([...a.shape.slice(0, -2), m, n], 'float32');
    const base = [a2, b2, out].map((t) => backend.dataIdMap.get(t.dataId).memoryOffset);
    const sizes = [m * k, k * n, m * n];
    const shapeBytes = (s: number[]) => new Uint8Array(new Int32Array(s).buffer);
    for (let i = 0; i < batch; i++) {
      // Fresh ids per slice: XNNPACK caches its packed weights by the id of b.
      const ids = sizes.map((size, j) => {
        const id = backend.dataIdNextNumber++;
        backend.wasm.tfjs.registerTensor(id, size, base[j] + i * size * 4);
        return id;
      });
      raw(ids[0], shapeBytes([1, m, k]), 3, ids[1], shapeBytes([1, k, n]), 3, false, false, ids[2]);
      // Views are forgotten, never freed: their memory belongs to the tensors they view.
      for (const id of ids) backend.wasm.tfjs.disposeData(id);
    }
    if (a2 !== a) backend.disposeData(a2.dataId);
    if (b2 !== b) backend.disposeData(b2.dataId);
    return out;
  });
}
