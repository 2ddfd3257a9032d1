import type { TensorInfo } from '@tensorflow/tfjs-core';
import { nativeAddon, type NativeAddon } from '../../../core/native/addon';
import { replaceWasmKernel, type KernelRegistry, type MatMulArgs } from './wasmKernel';

// Matrix products of the wasm backend on a system BLAS. XNNPACK in WebAssembly has 128-bit SIMD and no
// FMA: about 22 GFLOP/s a core here, against 80-100 for OpenBLAS's AVX2 kernels, and the matmuls are
// most of a training step. The addon (native/blas.c, built by esbuild.mjs with the system's C compiler)
// opens the BLAS at run time and multiplies in place in the wasm heap, so no tensor is copied. Without
// the addon or the library the backend keeps XNNPACK, and the run's backend line says why.

export interface NativeBlas {
  addon: NativeAddon;
  /** e.g. "OpenBLAS 0.3.21 … Haswell". */
  description: string;
}

/** Debian's libopenblas0-{pthread,openmp,serial} all provide this name; TAIA_BLAS names another cblas. */
const DEFAULT_LIBRARY = process.platform === 'darwin' ? 'libopenblas.dylib' : 'libopenblas.so.0';

let loaded: NativeBlas | { reason: string } | undefined;

/** The addon with its BLAS opened, or why not. TAIA_BLAS=off keeps XNNPACK (for comparisons). */
export function loadNativeBlas(): NativeBlas | { reason: string } {
  if (loaded) return loaded;
  const library = process.env.TAIA_BLAS || DEFAULT_LIBRARY;
  if (library === 'off') return (loaded = { reason: 'TAIA_BLAS=off' });
  const native = nativeAddon();
  if ('reason' in native) return (loaded = native);
  const { addon } = native;
  try {
    const description = addon.open(library).trim();
    // OpenBLAS starts a thread per core by default; the engine's data-parallel ranks already fill the cores.
    addon.threads(1);
    return (loaded = { addon, description });
  } catch (e) {
    return (loaded = { reason: `${library}: ${(e as Error).message}` });
  }
}

/** BLAS threads per call (process-wide): cores ÷ the data-parallel ranks that call at once. */
export function setBlasThreads(blas: NativeBlas, threads: number): void {
  blas.addon.threads(Math.max(1, Math.floor(threads)));
}

/** The parts of the wasm backend this kernel uses (internal API of the pinned 4.22 release). */
interface WasmBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(id: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
}

const product = (shape: number[]) => shape.reduce((x, y) => x * y, 1);

/** `shape` with leading 1s up to `rank` axes, as broadcasting aligns shapes on their last axis. */
const padded = (shape: number[], rank: number) => [...Array<number>(rank - shape.length).fill(1), ...shape];

/** Row-major offsets (in matrices) of each output batch slice's operand, broadcasting `shape` to `out`. */
function broadcastSlices(shape: number[], out: number[]): number[] {
  const rank = out.length;
  const dims = padded(shape, rank);
  const slices: number[] = [];
  const total = product(out);
  for (let i = 0; i < total; i++) {
    let rest = i;
    let offset = 0;
    let stride = 1;
    for (let d = rank - 1; d >= 0; d--) {
      const index = rest % out[d];
      rest = Math.floor(rest / out[d]);
      if (dims[d] !== 1) offset += index * stride;
      stride *= dims[d];
    }
    slices.push(offset);
  }
  return slices;
}

/**
 * Installs a BatchMatMul on the BLAS in place of the wasm backend's: transpose flags go to the BLAS as
 * such, and batch dimensions broadcast as in NumPy (one call with a zero stride when a whole operand is
 * shared, a call per slice otherwise; tfjs 4.22's own cpu and wasm kernels get [2,1,…]·[1,3,…] wrong).
 * Other dtypes and empty products go to the kernel it replaces.
 */
export function installBlasMatMul(tf: KernelRegistry, blas: NativeBlas): void {
  replaceWasmKernel<MatMulArgs<WasmBackend>>(tf, 'BatchMatMul', (fallback) => (args) => {
    const { inputs, backend, attrs } = args;
    const { a, b } = inputs;
    const [ra, ca] = a.shape.slice(-2);
    const [rb, cb] = b.shape.slice(-2);
    const [m, k] = attrs.transposeA ? [ca, ra] : [ra, ca];
    const n = attrs.transposeB ? rb : cb;
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || m * n * k === 0) return fallback(args);
    if (k !== (attrs.transposeB ? cb : rb))
      throw new Error(`matMul: inner dimensions ${k} and ${attrs.transposeB ? cb : rb} differ`);
    const batchA = a.shape.slice(0, -2);
    const batchB = b.shape.slice(0, -2);
    const rank = Math.max(batchA.length, batchB.length);
    const paddedB = padded(batchB, rank);
    const batchShape = padded(batchA, rank).map((d, i) => {
      const e = paddedB[i];
      if (d !== e && d !== 1 && e !== 1)
        throw new Error(`matMul: batch shapes [${batchA}] and [${batchB}] do not broadcast`);
      return Math.max(d, e);
    });
    const out = backend.makeOutput([...batchShape, m, n], 'float32');
    const batch = product(batchShape);
    const offset = (t: TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset;
    const [ao, bo, co] = [offset(a), offset(b), offset(out)];
    // The heap is read after makeOutput: growing the wasm memory replaces its buffer.
    const heap = backend.wasm.HEAPU8.buffer as ArrayBuffer;
    const call = (count: number, aAt: number, aStride: number, bAt: number, bStride: number, cAt: number) =>
      blas.addon.sgemm(heap, count, m, n, k, attrs.transposeA, attrs.transposeB, aAt, aStride, bAt, bStride, cAt);
    const [countA, countB] = [product(batchA), product(batchB)];
    if ((countA === batch || countA === 1) && (countB === batch || countB === 1)) {
      call(batch, ao, countA === 1 ? 0 : m * k, bo, countB === 1 ? 0 : k * n, co);
    } else {
      const sliceA = broadcastSlices(batchA, batchShape);
      const sliceB = broadcastSlices(batchB, batchShape);
      for (let i = 0; i < batch; i++)
        call(1, ao + sliceA[i] * m * k * 4, 0, bo + sliceB[i] * k * n * 4, 0, co + i * m * n * 4);
    }
    return out;
  });
}
