import { rng } from '../util/random';

/** How the singular values are estimated; printed with every result that has them. */
export const SPECTRUM_METHOD =
  'randomized range finder (Halko, Martinsson & Tropp 2011) with 8 extra columns and no power iteration, in float64: exact for Δ of rank ≤ K+8 (e.g. LoRA), an estimate otherwise';
const OVERSAMPLE = 8;

/**
 * Top-K singular values of a [rows, cols] matrix that is seen only as row blocks, twice: pass one
 * forms Y = ΔΩ, pass two B = QᵀΔ with Q an orthonormal basis of Y; the singular values of the small B
 * approximate those of Δ. Memory is O((rows + cols)·(K + 8)).
 */
export class SpectrumEstimator {
  readonly l: number;
  private readonly omega: Float64Array; // [cols, l]
  private readonly y: Float64Array; // [rows, l]
  private q: Float64Array | undefined;
  private readonly bt: Float64Array; // Bᵀ [cols, l]

  constructor(
    readonly rows: number,
    readonly cols: number,
    readonly k: number,
    seed = 1,
  ) {
    this.l = Math.min(k + OVERSAMPLE, rows, cols);
    const r = rng(seed);
    // Gaussian test matrix by Box-Muller.
    this.omega = Float64Array.from(
      { length: cols * this.l },
      () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()),
    );
    this.y = new Float64Array(rows * this.l);
    this.bt = new Float64Array(cols * this.l);
  }

  /** Pass one: rows [row0, row0 + block.length / cols) of Δ. */
  addRowsPass1(row0: number, block: Float32Array): void {
    const { cols, l, omega, y } = this;
    const n = block.length / cols;
    for (let i = 0; i < n; i++) {
      const yi = (row0 + i) * l;
      for (let j = 0; j < cols; j++) {
        const d = block[i * cols + j];
        if (d === 0 || d !== d) continue;
        const oj = j * l;
        for (let c = 0; c < l; c++) y[yi + c] += d * omega[oj + c];
      }
    }
  }

  /** Pass two: the same rows again. */
  addRowsPass2(row0: number, block: Float32Array): void {
    const q = (this.q ??= orthonormalColumns(this.y, this.rows, this.l));
    const { cols, l, bt } = this;
    const n = block.length / cols;
    for (let i = 0; i < n; i++) {
      const qi = (row0 + i) * l;
      for (let j = 0; j < cols; j++) {
        const d = block[i * cols + j];
        if (d === 0 || d !== d) continue;
        const bj = j * l;
        for (let c = 0; c < l; c++) bt[bj + c] += q[qi + c] * d;
      }
    }
  }

  /** The K largest singular values, descending. */
  result(): number[] {
    const { cols, l, bt } = this;
    // BBᵀ = (Bᵀ)ᵀBᵀ is l×l; its eigenvalues are the squared singular values of B.
    const g = new Float64Array(l * l);
    for (let a = 0; a < l; a++) {
      for (let b = a; b < l; b++) {
        let s = 0;
        for (let j = 0; j < cols; j++) s += bt[j * l + a] * bt[j * l + b];
        g[a * l + b] = g[b * l + a] = s;
      }
    }
    return symmetricEigenvalues(g, l)
      .map((e) => Math.sqrt(Math.max(e, 0)))
      .sort((a, b) => b - a)
      .slice(0, this.k);
  }
}

/** Modified Gram-Schmidt on the columns of a [rows, l] matrix (twice, for stability); zero columns stay zero. */
function orthonormalColumns(m: Float64Array, rows: number, l: number): Float64Array {
  const q = Float64Array.from(m);
  for (let pass = 0; pass < 2; pass++) {
    for (let c = 0; c < l; c++) {
      for (let p = 0; p < c; p++) {
        let dot = 0;
        for (let i = 0; i < rows; i++) dot += q[i * l + p] * q[i * l + c];
        for (let i = 0; i < rows; i++) q[i * l + c] -= dot * q[i * l + p];
      }
      let norm = 0;
      for (let i = 0; i < rows; i++) norm += q[i * l + c] ** 2;
      norm = Math.sqrt(norm);
      for (let i = 0; i < rows; i++) q[i * l + c] = norm > 1e-300 ? q[i * l + c] / norm : 0;
    }
  }
  return q;
}

/** Eigenvalues of a small symmetric matrix by cyclic Jacobi rotations. */
export function symmetricEigenvalues(input: Float64Array, n: number): number[] {
  const a = Float64Array.from(input);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
      }
    }
  }
  return Array.from({ length: n }, (_, i) => a[i * n + i]);
}
