import { toFloat32 } from '../safetensors/convert';
import { FloatDtype } from '../safetensors/dtypes';
import { LoraModule } from './adapter';
import { threadKernel } from './kernel';

/**
 * A LoRA delta as two factors, ΔW = L·R with L [rows, r] (scaling folded in) and R [r, cols], in the
 * layout of the stored weight, so it can be added to any block of W's rows. Float64, so that each
 * element's delta is a float64 sum of exact products of the stored float values.
 */
export interface LoraFactors {
  rows: number;
  cols: number;
  r: number;
  left: Float64Array;
  right: Float64Array;
}

/**
 * Builds the factors of one module: s·B·A for a linear layer stored [out, in]; its transpose
 * (s·Aᵀ)·Bᵀ for fan_in_fan_out weights and embeddings stored [in, out].
 */
export async function loraFactors(m: LoraModule, scale = 1): Promise<LoraFactors> {
  // openLoraAdapter refused non-float pairs.
  const a = toFloat32(await m.a.file.read(m.a.info.name), m.a.info.dtype as FloatDtype); // [r, in]
  const b = toFloat32(await m.b.file.read(m.b.info.name), m.b.info.dtype as FloatDtype); // [out, r]
  const r = m.r;
  const inDim = m.a.info.shape[1];
  const outDim = m.b.info.shape[0];
  const s = m.scaling * scale;
  if (!m.transpose)
    return { rows: outDim, cols: inDim, r, left: Float64Array.from(b, (x) => x * s), right: Float64Array.from(a) };
  const left = new Float64Array(inDim * r); // s·Aᵀ [in, r]
  const right = new Float64Array(r * outDim); // Bᵀ [r, out]
  for (let k = 0; k < r; k++) for (let j = 0; j < inDim; j++) left[j * r + k] = a[k * inDim + j] * s;
  for (let i = 0; i < outDim; i++) for (let k = 0; k < r; k++) right[k * outDim + i] = b[i * r + k];
  return { rows: inDim, cols: outDim, r, left, right };
}

/**
 * Adds rows [rowStart, rowStart + w.length / cols) of L·R to `w` in place: with the WebAssembly SIMD
 * kernel (./kernel.ts) where it runs, else with the reference below; both give the same bits.
 */
export function addDeltaRows(w: Float32Array, rowStart: number, f: LoraFactors): void {
  const kernel = threadKernel();
  if (kernel) kernel.addRows(w, rowStart, f);
  else addDeltaRowsReference(w, rowStart, f);
}

/**
 * The reference: each element's delta is a float64 sum of the products in order k = 0 … r-1, added
 * once to the float32 value, so the result is rounded once. A row's sums are kept in one float64 row,
 * so R is read along its rows.
 */
export function addDeltaRowsReference(w: Float32Array, rowStart: number, f: LoraFactors): void {
  const { cols, r, left, right } = f;
  const rows = w.length / cols;
  const d = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    d.fill(0);
    for (let k = 0; k < r; k++) {
      const l = left[(rowStart + i) * r + k];
      const o = k * cols;
      for (let j = 0; j < cols; j++) d[j] += l * right[o + j];
    }
    const wi = i * cols;
    for (let j = 0; j < cols; j++) w[wi + j] += d[j];
  }
}
