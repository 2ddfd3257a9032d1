// The one message contract between the extension host and its merge worker thread.
import type { MergeOptions } from '../../core/merge/plan';
import type { PlanSummary } from '../../core/merge/summary';

/** The merge options as plain data: the recipe by name or file (the worker loads it). */
export interface MergeRequest extends Omit<MergeOptions, 'recipe'> {
  type: 'plan' | 'merge';
  /** A built-in recipe name or a recipe file path. */
  recipe: string;
}

export type { PlanSummary };

/** What the worker reports before its result: the plan first, then the bytes written. */
export type MergeProgress =
  { type: 'plan'; plan: PlanSummary } | { type: 'progress'; bytesDone: number; bytesTotal: number; tensor: string };

/** What a merge request (not a plan request) ends with. */
export interface MergeResult {
  out: string;
  bytes: number;
  seconds: number;
}
