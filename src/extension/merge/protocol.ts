// The one message contract between the extension host and its merge worker thread.
import type { OutputDtype } from '../../core/merge/plan';
import type { PlanSummary } from '../../core/merge/summary';

export interface MergeRequest {
  type: 'plan' | 'merge';
  base: string;
  finetuned: string;
  out: string;
  /** A built-in recipe name or a recipe file path. */
  recipe: string;
  scale?: number;
  layers?: [number, number];
  dtype?: OutputDtype;
  maxShardBytes?: number;
  force?: boolean;
  /** Folders of architecture files (the workspace's .taia/architectures) used before the bundled ones. */
  architectureDirs?: string[];
  /** Write even when unrecognised tensors look like layer weights. */
  allowUnknown?: boolean;
}

export type { PlanSummary };

/** What the worker reports before its result: the plan first, then the bytes written. */
export type MergeProgress =
  | { type: 'plan'; plan: PlanSummary }
  | { type: 'progress'; bytesDone: number; bytesTotal: number; tensor: string };

/** What a merge request (not a plan request) ends with. */
export interface MergeResult {
  out: string;
  bytes: number;
  seconds: number;
}
