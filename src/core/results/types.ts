// The normalised form every result importer returns, whatever file it read: one model's scores per
// task and metric, with standard errors and per-example values where the file has them.

/** The file formats TAIA Lab reads (see README, "Benchmarks"). */
export type ResultFormat = 'lm-eval' | 'opencompass' | 'taia-log' | 'taia-results';

export interface MetricResult {
  value: number;
  stderr?: number;
  higherIsBetter: boolean;
  /**
   * 'fraction' (0–1) or 'percent' (0–100) where the format says so: lm-evaluation-harness reports
   * accuracy as 0.5123 and OpenCompass as 51.23, and a diff across the two must not read that as a
   * gain of 50 points.
   */
  scale?: 'fraction' | 'percent';
}

/** Per-example values of one metric, by example id (lm-eval's doc_id, our `id`). */
export type SampleValues = Map<string, number>;

export interface TaskResult {
  metrics: Map<string, MetricResult>;
  /** Examples evaluated. */
  n?: number;
  /** An aggregate of other tasks (lm-eval groups): averages leave its subtasks out. */
  group?: boolean;
  /** A part of a group: averages count the group instead. */
  subtask?: boolean;
  /**
   * An average the tool took over other rows of the same file without naming them (OpenCompass's
   * naive_average): averages count those rows and leave this one out.
   */
  aggregate?: boolean;
  /** Per metric, the per-example values, when the evaluator logged them and they were asked for. */
  samples?: Map<string, SampleValues>;
}

export interface ModelResults {
  model: string;
  /** The file it was read from. */
  file: string;
  format: ResultFormat;
  tasks: Map<string, TaskResult>;
  /** When the evaluation ran, if the file says. */
  date?: string;
  /** The checkpoint folder evaluated, where the file records it (this project's files do). */
  checkpoint?: string;
}

export interface LoadOptions {
  /** Read per-example records too (the paired tests need them; the tree does not). */
  samples?: boolean;
}

/** A result file that cannot be read; the message names the file and, for line formats, the line. */
export class ResultsError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly line?: number,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${problem}`);
    this.name = 'ResultsError';
  }
}

/**
 * Metrics where less is better, for files that do not say (lm-eval 0.3 and 0.4.0-0.4.2, TAIA logs,
 * OpenCompass): perplexities (word_, byte_, token_), bits per byte, losses, error rates, and the
 * CrowS-Pairs bias scores (likelihood_difference, pct_stereotype), which lm-eval marks lower-is-better.
 */
const LOWER_IS_BETTER =
  /(^|_)(perplexity|ppl|loss|bits_per_byte|bpb|ter|wer|cer|error|latency|likelihood_difference|likelihood_diff|pct_stereotype)($|_)/i;

export function defaultHigherIsBetter(metric: string): boolean {
  return !LOWER_IS_BETTER.test(metric);
}

/** Metric names that mean the same across tools, so lm-eval's `acc` and OpenCompass's `accuracy` align. */
export function canonicalMetric(name: string): string {
  const n = name.trim();
  return /^acc(uracy)?$/i.test(n) ? 'acc' : n;
}

/** A finite number, or undefined for lm-eval's "N/A", OpenCompass's "-", null and the like. */
export function finite(value: unknown): number | undefined {
  const x = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof x === 'number' && Number.isFinite(x) ? x : undefined;
}
