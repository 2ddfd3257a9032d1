/** Number of Δ values kept per tensor for histograms: evenly strided, so deterministic and cheap. */
export const SAMPLE_SIZE = 4096;

export interface NonFinite {
  nan: number;
  inf: number;
}

/** Statistics of one chunk, as a kernel computes them. */
export interface ChunkSums {
  sumB2: number;
  sumF2: number;
  sumD2: number;
  dot: number;
  maxAbs: number;
  changed: number;
  base: NonFinite;
  finetuned: NonFinite;
}

/** Streaming accumulator of the statistics of Δ = finetuned − base over one tensor. */
export class DeltaAccumulator {
  private sumB2 = 0;
  private sumF2 = 0;
  private sumD2 = 0;
  private dot = 0;
  private maxAbs = 0;
  private changed = 0;
  /** Elements left until the next sampled one: a countdown, since a modulo per element costs more than the rest. */
  private untilSample = 0;
  readonly base: NonFinite = { nan: 0, inf: 0 };
  readonly finetuned: NonFinite = { nan: 0, inf: 0 };
  readonly samples: number[] = [];
  private readonly stride: number;

  constructor(readonly elements: number) {
    this.stride = Math.max(1, Math.ceil(elements / SAMPLE_SIZE));
  }

  /** Adds the next chunk: base and fine-tuned values of the same elements, in order. The reference implementation of ./simd/kernel.ts. */
  add(b: Float32Array, f: Float32Array): void {
    const stride = this.stride;
    let sumB2 = 0;
    let sumF2 = 0;
    let sumD2 = 0;
    let dot = 0;
    let maxAbs = this.maxAbs;
    let changed = 0;
    let untilSample = this.untilSample;
    for (let i = 0; i < b.length; i++) {
      const bi = b[i];
      const fi = f[i];
      if (bi - bi !== 0 || fi - fi !== 0) {
        // NaN or ±Inf on either side: counted, kept out of the norms.
        if (bi !== bi) this.base.nan++;
        else if (bi - bi !== 0) this.base.inf++;
        if (fi !== fi) this.finetuned.nan++;
        else if (fi - fi !== 0) this.finetuned.inf++;
        if (--untilSample < 0) untilSample = stride - 1;
        continue;
      }
      const d = fi - bi;
      sumB2 += bi * bi;
      sumF2 += fi * fi;
      dot += bi * fi;
      sumD2 += d * d;
      // Math.abs/Math.max compile branch-free; `d < 0 ? -d : d` on random signs ran 4x slower.
      maxAbs = Math.max(maxAbs, Math.abs(d));
      changed += d !== 0 ? 1 : 0;
      if (--untilSample < 0) {
        untilSample = stride - 1;
        this.samples.push(d);
      }
    }
    // Chunk sums are added once: fewer writes to fields in the hot loop, and a shorter float64 sum chain.
    this.merge({ sumB2, sumF2, sumD2, dot, maxAbs, changed });
    this.untilSample = untilSample;
  }

  /**
   * Adds a chunk of `n` elements whose sums a kernel computed (./kernel.ts); `delta(i)` is element i's
   * Δ, not finite where either side is not, read only for the samples: the same elements as add().
   */
  addSums(s: ChunkSums, n: number, delta: (i: number) => number): void {
    this.merge(s);
    for (const k of ['nan', 'inf'] as const) {
      this.base[k] += s.base[k];
      this.finetuned[k] += s.finetuned[k];
    }
    let i = this.untilSample;
    for (; i < n; i += this.stride) {
      const d = delta(i);
      if (d - d === 0) this.samples.push(d);
    }
    this.untilSample = i - n;
  }

  private merge(s: Omit<ChunkSums, 'base' | 'finetuned'>): void {
    this.sumB2 += s.sumB2;
    this.sumF2 += s.sumF2;
    this.sumD2 += s.sumD2;
    this.dot += s.dot;
    this.maxAbs = Math.max(this.maxAbs, s.maxAbs);
    this.changed += s.changed;
  }

  result(): DeltaStats {
    const normBase = Math.sqrt(this.sumB2);
    const normFinetuned = Math.sqrt(this.sumF2);
    const normDelta = Math.sqrt(this.sumD2);
    return {
      normBase,
      normDelta,
      relative: normBase > 0 ? normDelta / normBase : normDelta > 0 ? Infinity : 0,
      cosine:
        normBase > 0 && normFinetuned > 0 ? this.dot / (normBase * normFinetuned) : normBase === normFinetuned ? 1 : 0,
      maxAbs: this.maxAbs,
      changedFraction: this.elements > 0 ? this.changed / this.elements : 0,
      nonFinite: { base: { ...this.base }, finetuned: { ...this.finetuned } },
      histogram: histogram(this.samples),
    };
  }
}

export interface Histogram {
  /** Bin edges, length counts.length + 1, symmetric around 0. */
  edges: number[];
  counts: number[];
}

export interface DeltaStats {
  normBase: number;
  normDelta: number;
  /** ‖Δ‖ / ‖W_base‖ */
  relative: number;
  /** cos(W_base, W_finetuned) */
  cosine: number;
  maxAbs: number;
  /** Fraction of elements whose value changed at all. */
  changedFraction: number;
  nonFinite: { base: NonFinite; finetuned: NonFinite };
  /** Histogram of the sampled Δ values. */
  histogram: Histogram;
}

const BINS = 32;

function histogram(samples: number[]): Histogram {
  const max = samples.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
  if (max === 0) return { edges: [-0, 0], counts: [samples.length] };
  const width = (2 * max) / BINS;
  const counts = new Array<number>(BINS).fill(0);
  for (const x of samples) counts[Math.min(BINS - 1, Math.floor((x + max) / width))]++;
  return { edges: Array.from({ length: BINS + 1 }, (_, i) => -max + i * width), counts };
}
