import { toFloat32 } from '../safetensors/convert';
import { FloatDtype, isFloatDtype } from '../safetensors/dtypes';
import { CheckpointError } from '../errors';
import { LoraModule } from './adapter';

/**
 * A LoRA delta as two factors, ΔW = L·R with L [rows, r] (scaling folded in) and R [r, cols], in the
 * layout of the stored weight, so it can be added to any block of W's rows.
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
  for (const ref of [m.a, m.b]) {
    if (!isFloatDtype(ref.info.dtype)) throw new CheckpointError(ref.file.path, `LoRA weights must be F32, F16 or BF16, not ${ref.info.dtype}`, ref.info.name);
  }
  const a = toFloat32(await m.a.file.read(m.a.info.name), m.a.info.dtype as FloatDtype);
  const b = toFloat32(await m.b.file.read(m.b.info.name), m.b.info.dtype as FloatDtype);
  const r = m.r;
  const inDim = m.a.info.shape[1];
  const outDim = m.b.info.shape[0];
  const s = m.scaling * scale;
  if (!m.transpose) {
    // L = s·B [out, r], R = A [r, in]
    const left = Float64Array.from(b, (x) => x * s);
    return { rows: outDim, cols: inDim, r, left, right: Float64Array.from(a) };
  }
  // L = s·Aᵀ [in, r], R = Bᵀ [r, out]
  const left = new Float64Array(inDim * r);
  for (let k = 0; k < r; k++) for (let j = 0; j < inDim; j++) left[j * r + k] = a[k * inDim + j] * s;
  const right = new Float64Array(r * outDim);
  for (let i = 0; i < outDim; i++) for (let k = 0; k < r; k++) right[k * outDim + i] = b[i * r + k];
  return { rows: inDim, cols: outDim, r, left, right };
}

/**
 * Adds rows [rowStart, rowStart + w.length / cols) of L·R to `w` in place. Each row's delta is
 * accumulated in float64 and added once, so the result is rounded once.
 */
export function addDeltaRows(w: Float32Array, rowStart: number, f: LoraFactors, acc = new Float64Array(f.cols)): void {
  const { cols, r, left, right } = f;
  const rows = w.length / cols;
  for (let i = 0; i < rows; i++) {
    acc.fill(0);
    const li = (rowStart + i) * r;
    for (let k = 0; k < r; k++) {
      const c = left[li + k];
      if (c === 0) continue;
      const rk = k * cols;
      for (let j = 0; j < cols; j++) acc[j] += c * right[rk + j];
    }
    const wi = i * cols;
    for (let j = 0; j < cols; j++) w[wi + j] += acc[j];
  }
}
