// The one message contract between the extension host and the weight-delta review webview.
import type { DeltaReport, TensorDelta } from '../../core/delta/diff';

/** What the delta worker streams before its report; the host forwards it to the page as it is. */
export type DeltaProgress =
  | { type: 'tensor'; tensor: TensorDelta }
  /** `tensors` of `count` compared so far. */
  | { type: 'progress'; bytesDone: number; bytesTotal: number; tensors?: number; count?: number };

export type ToWebview =
  | { type: 'start'; base: string; finetuned: string; merged?: string; spectrum: number }
  | DeltaProgress
  | { type: 'done'; report: DeltaReport }
  | { type: 'cancelled' }
  | { type: 'error'; message: string };

export type FromWebview = { type: 'ready' } | { type: 'cancel' } | { type: 'export'; format: 'markdown' | 'csv' };

/** What the webview keeps with setState, so a reload (or a restored window) redraws without recomputing. */
export interface ReviewState {
  base: string;
  finetuned: string;
  merged?: string;
  tensors: TensorDelta[];
  report?: DeltaReport;
  status: 'running' | 'done' | 'cancelled' | 'error';
  message?: string;
  metric: Metric;
  filter: string;
  selected?: string;
  sort?: 'relative' | 'normDelta' | 'cosine' | 'maxAbs' | 'changedFraction' | 'name';
  sortDescending?: boolean;
}

export type Metric = 'relative' | 'absolute' | 'cosine' | 'spectrum';
