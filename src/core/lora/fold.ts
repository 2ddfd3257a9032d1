import { toFloat32 } from '../safetensors/convert';
import { FloatDtype } from '../safetensors/dtypes';
import { LoraModule } from './adapter';
import { threadKernel } from './kernel';

/**
 * A LoRA delta as two factors and a scaling, ΔW = (L·R)·scale with L [rows, r] and R [r, cols], in the
 * layout of the stored weight, so it can be added to any block of W's rows. Float32, as PEFT merges on
 * a CPU: the factors' products are summed in float32 and the sum scaled in float32.
 */
export interface LoraFactors {
  rows: number;
  cols: number;
  r: number;
  left: Float32Array;
  right: Float32Array;
  /** PEFT's scaling (alpha / r, or alpha / √r) times the merge's scale, as a float32. */
  scale: number;
}

/**
 * Builds the factors of one module: B·A for a linear layer stored [out, in]; its transpose Aᵀ·Bᵀ for
 * fan_in_fan_out weights and embeddings stored [in, out].
 */
export async function loraFactors(m: LoraModule, scale = 1): Promise<LoraFactors> {
  // openLoraAdapter refused non-float pairs.
  const a = toFloat32(await m.a.file.read(m.a.info.name), m.a.info.dtype as FloatDtype); // [r, in]
  const b = toFloat32(await m.b.file.read(m.b.info.name), m.b.info.dtype as FloatDtype); // [out, r]
  const r = m.r;
  const inDim = m.a.info.shape[1];
  const outDim = m.b.info.shape[0];
  const s = Math.fround(m.scaling * scale);
  if (!m.transpose) return { rows: outDim, cols: inDim, r, left: b, right: a, scale: s };
  const left = new Float32Array(inDim * r); // Aᵀ [in, r]
  const right = new Float32Array(r * outDim); // Bᵀ [r, out]
  for (let k = 0; k < r; k++) for (let j = 0; j < inDim; j++) left[j * r + k] = a[k * inDim + j];
  for (let i = 0; i < outDim; i++) for (let k = 0; k < r; k++) right[k * outDim + i] = b[i * r + k];
  return { rows: inDim, cols: outDim, r, left, right, scale: s };
}

/**
 * Adds rows [rowStart, rowStart + w.length / cols) of (L·R)·scale to `w` in place: with the
 * WebAssembly SIMD kernel (./kernel.ts) where it runs, else with the reference below; both give the
 * same bits.
 */
export function addDeltaRows(w: Float32Array, rowStart: number, f: LoraFactors): void {
  const kernel = threadKernel();
  if (kernel) kernel.addRows(w, rowStart, f);
  else addDeltaRowsReference(w, rowStart, f);
}

/**
 * The reference, PEFT's arithmetic in float32: each element's sum of products in order k = 0 … r-1
 * (each product and each addition rounded), times the scale, added to the stored value. A row's sums
 * are kept in one float32 row, so R is read along its rows.
 */
export function addDeltaRowsReference(w: Float32Array, rowStart: number, f: LoraFactors): void {
  const { cols, r, left, right, scale } = f;
  const rows = w.length / cols;
  const d = new Float32Array(cols);
  for (let i = 0; i < rows; i++) {
    d.fill(0);
    for (let k = 0; k < r; k++) {
      const l = left[(rowStart + i) * r + k];
      const o = k * cols;
      // Float32Array stores round the sum; the product is rounded first, as float32 arithmetic does.
      for (let j = 0; j < cols; j++) d[j] += Math.fround(l * right[o + j]);
    }
    const wi = i * cols;
    for (let j = 0; j < cols; j++) w[wi + j] += Math.fround(d[j] * scale);
  }
}
