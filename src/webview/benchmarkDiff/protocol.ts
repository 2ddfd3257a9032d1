// The one message contract between the extension host and the benchmark diff webview.
import type { ModelRef } from '../../core/results/compare';
import type { BenchmarkDiff } from '../../core/results/diff';
import type { ExamplesView } from '../../core/results/examples';
import type { Correction } from '../../core/results/stats';

/** A model of a result file: the file and the model's name in it (an OpenCompass summary holds several). */
export type { ModelRef };

export type ExportFormat = 'markdown' | 'csv' | 'latex';

export type ToWebview =
  /** The report (baseline first), the models it compares, and in `problems` lists files or models that could not be read. */
  | { type: 'init'; report: BenchmarkDiff; models: ModelRef[]; problems: string[] }
  | { type: 'error'; message: string }
  /** The examples behind a cell, or why they cannot be shown. */
  | { type: 'examples'; view?: ExamplesView; error?: string };

export type FromWebview =
  | { type: 'ready' }
  | { type: 'rendered'; rows: number }
  /** Compare against another model: the host recomputes the tests, which need the per-example records. */
  | { type: 'baseline'; model: string }
  /** Correct each model's p-values over its rows (the host recomputes the marks). */
  | { type: 'correction'; correction: Correction }
  /** The examples behind the cell of `model` (a report name) in a task × metric row, against the baseline. */
  | { type: 'examples'; task: string; metric: string; model: string }
  /** The table as shown (filter and sort applied), for the host to save. */
  | { type: 'export'; format: ExportFormat; content: string };

/** Which examples of a cell the page lists. */
export type ExampleFilter = 'flipped' | 'fixed' | 'broken' | 'all';

export type SortKey = { column: 'task' | 'metric' | number; descending: boolean };

/** What the page keeps with setState: the serializer reopens the same comparison after a reload. */
export interface BenchmarkDiffState {
  models: ModelRef[];
  baseline?: string;
  correction?: Correction;
  onlyDiffers: boolean;
  sort?: SortKey;
  /** The examples open below the table, and their filter. */
  examples?: { task: string; metric: string; model: string; filter: ExampleFilter };
}
