// The significance tests of the benchmark diff. No dependencies: each is a few lines, and the unit
// tests check them against values computed by hand.
import { rng } from '../util/random';

export type TestMethod = 'mcnemar-exact' | 'mcnemar-chi2' | 'bootstrap' | 'z-test';

export interface TestResult {
  method: TestMethod;
  /** Two-sided p-value. */
  p: number;
  /** z, χ² (McNemar), or the mean paired difference (bootstrap). */
  statistic: number;
  /** Examples paired (paired tests) or undefined (z-test). */
  n?: number;
  /** McNemar's discordant counts: b = baseline right and other wrong, c = the reverse. */
  discordant?: { b: number; c: number };
  /** 95% percentile interval of the mean difference (bootstrap). */
  ci?: [number, number];
}

/** Complementary error function (Numerical Recipes' erfcc, Chebyshev fit, relative error < 1.2e-7). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Two-sided p-value of a standard normal statistic. */
export const normalTwoSided = (z: number) => Math.min(1, erfc(Math.abs(z) / Math.SQRT2));

/**
 * Difference of two independent estimates with standard errors se1 and se2: z = (b − a) / √(se1² + se2²).
 * All that is possible when only the reported scores and their standard errors are known.
 */
export function zTest(a: number, se1: number, b: number, se2: number): TestResult | undefined {
  const se = Math.sqrt(se1 * se1 + se2 * se2);
  if (!(se > 0) || !Number.isFinite(se)) return undefined;
  const z = (b - a) / se;
  return { method: 'z-test', p: normalTwoSided(z), statistic: z };
}

/** Below this many discordant pairs the χ² approximation is poor: the exact binomial test is used. */
export const MCNEMAR_EXACT_BELOW = 25;

/**
 * McNemar's test on paired 0/1 outcomes. Only discordant pairs count: b (first right, second wrong)
 * and c (the reverse); under the null each is Binomial(b + c, ½). Exact two-sided p below 25
 * discordant pairs, else χ² = (|b − c| − 1)² / (b + c) with Yates' continuity correction, one degree of freedom.
 */
export function mcnemar(b: number, c: number): TestResult {
  const n = b + c;
  if (n < MCNEMAR_EXACT_BELOW) {
    // P(X ≤ min(b, c)) for X ~ Binomial(n, ½), doubled: the terms C(n, k) / 2ⁿ built up one from the last.
    let term = 0.5 ** n;
    let tail = 0;
    for (let k = 0; k <= Math.min(b, c); k++) {
      tail += term;
      term = (term * (n - k)) / (k + 1);
    }
    return { method: 'mcnemar-exact', p: Math.min(1, 2 * tail), statistic: Math.min(b, c), discordant: { b, c } };
  }
  const chi2 = Math.max(0, Math.abs(b - c) - 1) ** 2 / n;
  // χ² with one degree of freedom is the square of a standard normal.
  return { method: 'mcnemar-chi2', p: normalTwoSided(Math.sqrt(chi2)), statistic: chi2, discordant: { b, c } };
}

export const BOOTSTRAP_RESAMPLES = 10_000;
export const BOOTSTRAP_SEED = 20240531;

/**
 * Paired bootstrap of the mean difference d = y − x over examples (Efron & Tibshirani): resample the
 * examples with replacement, and count how often a resampled mean lies at least |D| from the observed
 * mean D — the null distribution is the bootstrap one shifted to zero. Seeded, so reruns agree.
 */
export function pairedBootstrap(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  resamples = BOOTSTRAP_RESAMPLES,
  seed = BOOTSTRAP_SEED,
): TestResult | undefined {
  const n = x.length;
  if (n === 0 || y.length !== n) return undefined;
  const d = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += d[i] = y[i] - x[i];
  const observed = sum / n;
  const random = rng(seed);
  const means = new Float64Array(resamples);
  let extreme = 0;
  for (let r = 0; r < resamples; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += d[(random() * n) | 0];
    const m = s / n;
    means[r] = m;
    // A tolerance, so a difference of exactly zero is not "extreme" through rounding.
    if (Math.abs(m - observed) >= Math.abs(observed) - 1e-12) extreme++;
  }
  means.sort();
  const at = (q: number) => means[Math.min(resamples - 1, Math.max(0, Math.floor(q * resamples)))];
  return {
    method: 'bootstrap',
    p: (extreme + 1) / (resamples + 1),
    statistic: observed,
    n,
    ci: [at(0.025), at(0.975)],
  };
}

/** Multiple-comparison corrections: Holm's step-down (family-wise error), Benjamini–Hochberg's step-up (false discovery rate). */
export type Correction = 'none' | 'holm' | 'bh';
export const CORRECTIONS: readonly Correction[] = ['none', 'holm', 'bh'];

/** Adjusted p-values of a family of tests, in the order given (each at most 1). */
export function adjustPValues(ps: readonly number[], method: Correction): number[] {
  const m = ps.length;
  if (method === 'none' || m === 0) return [...ps];
  const order = ps.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0]);
  const adjusted = new Array<number>(m);
  if (method === 'holm') {
    let running = 0;
    order.forEach(([p, i], k) => (adjusted[i] = running = Math.max(running, Math.min(1, (m - k) * p))));
  } else {
    let running = 1;
    for (let k = m - 1; k >= 0; k--) {
      const [p, i] = order[k];
      adjusted[i] = running = Math.min(running, Math.min(1, (m / (k + 1)) * p));
    }
  }
  return adjusted;
}

/** Significance marks: * p < 0.05, ** p < 0.01, *** p < 0.001. */
export function significanceMark(p: number | undefined): string {
  if (p === undefined) return '';
  return p < 0.001 ? '***' : p < 0.01 ? '**' : p < 0.05 ? '*' : '';
}
