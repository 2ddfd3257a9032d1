// The one message contract between the extension host and the experiments table webview.
import type { ExperimentsTable } from '../../core/experiments/table';

export type ToWebview =
  /** The whole table; sent when the page loads and whenever runs or results change. */
  { type: 'init'; table: ExperimentsTable } | { type: 'error'; message: string };

export type FromWebview =
  | { type: 'ready' }
  /** After each render of an init: the rows shown (tests and the host wait on it). */
  | { type: 'rendered'; rows: number }
  /** Open the run comparison of these run folders. */
  | { type: 'compare'; dirs: string[] }
  /** Open the dashboard of one run. */
  | { type: 'open'; dir: string };

/** The plotted curves, by their key in RunSeries. */
export type PlotKey = 'loss' | 'lr' | 'gradNorm' | 'tokensPerSecond';

/** What the page keeps with setState: the table as the user arranged it survives a reload. */
export interface ExperimentsState {
  sorting: { id: string; desc: boolean }[];
  filter: string;
  /** Column id → shown; columns not listed follow their default. */
  columns: Record<string, boolean>;
  /** Run folders selected to plot or compare. */
  selected: string[];
  /** Exponential moving average weight, 0 (none) to 0.99, as TensorBoard's smoothing. */
  smoothing: number;
  logScale: boolean;
}
