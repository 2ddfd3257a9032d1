import type { TensorInfo } from '@tensorflow/tfjs-core';
import { replaceWasmKernel, type KernelArgs, type KernelRegistry } from './wasmKernel';

// tfjs-backend-wasm 4.22 transposes a large matrix at 7-8 ns per element (a loop that writes 4 KiB
// apart, so each write misses the cache); the projections' written-out Wᵀ and dyᵀ made it 10 % of a
// training step. This kernel swaps the last two axes in blocks of 8 rows, writing the output's rows
// contiguously: 1.2 ns per element. Other permutations and dtypes keep the original kernel.

/** The parts of the wasm backend this kernel uses (API of the pinned 4.22 release). */
interface WasmBackend {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

/** Rows per block: 8 source rows are read while the output's rows are written along. */
const BLOCK = 8;

/** dst[j][i] = src[i][j] for one rows × cols matrix at `at` in both. */
export function transposeMatrix(src: Float32Array, dst: Float32Array, at: number, rows: number, cols: number): void {
  for (let i0 = 0; i0 < rows; i0 += BLOCK) {
    const i1 = Math.min(rows, i0 + BLOCK);
    for (let j = 0; j < cols; j++) {
      const o = at + j * rows;
      for (let i = i0; i < i1; i++) dst[o + i] = src[at + i * cols + j];
    }
  }
}

/** Whether `perm` swaps the last two axes and keeps the others. */
function swapsLastTwo(perm: number[]): boolean {
  const r = perm.length;
  return r >= 2 && perm[r - 2] === r - 1 && perm[r - 1] === r - 2 && perm.slice(0, -2).every((p, i) => p === i);
}

/** Installs the kernel in place of the wasm backend's Transpose; call once the backend is ready, before kernels that look Transpose up. */
export function installBlockedTranspose(tf: KernelRegistry): void {
  type Args = KernelArgs<{ x: TensorInfo }, WasmBackend, { perm: number[] }>;
  replaceWasmKernel<Args>(tf, 'Transpose', (original) => (args) => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs;
    if (x.dtype !== 'float32' || !swapsLastTwo(attrs.perm)) return original(args);
    const rows = x.shape[x.shape.length - 2];
    const cols = x.shape[x.shape.length - 1];
    const out = backend.makeOutput([...x.shape.slice(0, -2), cols, rows], 'float32');
    // Views after makeOutput: allocating may grow the heap, which replaces its buffer.
    const src = backend.typedArrayFromHeap(x);
    const dst = backend.typedArrayFromHeap(out);
    for (let at = 0; at < src.length; at += rows * cols) transposeMatrix(src, dst, at, rows, cols);
    return out;
  });
}
