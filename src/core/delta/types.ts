// A delta report's options and the report itself (the JSON of `taia diff --json`, and what the review page shows).
import { Block } from '../classify/types';
import { DeltaStats } from './stats';

/** Version of the JSON report; bumped on any incompatible change (see README, "taia diff --json"). */
export const DELTA_REPORT_VERSION = 1;

export interface DeltaOptions {
  base: string;
  /** A full fine-tuned model, or a PEFT LoRA adapter (its folded delta is compared). */
  finetuned: string;
  /** A merged output to check against both (three-way form). */
  merged?: string;
  /** Top-K singular values of Δ for 2-D tensors; 0 or absent for none. */
  spectrum?: number;
  signal?: AbortSignal;
  onProgress?: (p: { tensor: string; index: number; count: number; bytesDone: number; bytesTotal: number }) => void;
  /** Called with each tensor's result as soon as it is computed (the review webview fills in progressively). */
  onTensor?: (t: TensorDelta) => void;
  /**
   * Spread tensors over worker threads running `script` (a build of ./partWorker): the statistics are
   * compute-bound when the page cache holds the files, and more reads are in flight when it does not
   * (2.6 GB pair from disk: 1.8 s with two threads, 2.6-3.9 s with one). Without it, everything runs
   * on this thread.
   */
  parallel?: { workers: number; script: string };
  /** Compute only these tensors (how a part worker gets its share). */
  only?: readonly string[];
}

export type MergedSource = 'base' | 'finetuned' | 'neither';

export interface TensorDelta extends DeltaStats {
  name: string;
  layer: number | null;
  block: Block;
  module: string;
  expert?: number;
  known: boolean;
  shape: number[];
  dtype: { base: string; finetuned: string };
  /** Top-K singular values of Δ (2-D tensors, with --spectrum). */
  spectrum?: number[];
  /** Three-way form: which input the merged tensor equals, and which the merge's recipe says it should. */
  merged?: { source: MergedSource; expected?: 'base' | 'finetuned' };
}

export interface BlockTotals {
  tensors: number;
  changedTensors: number;
  parameters: number;
  normBase: number;
  normDelta: number;
  relative: number;
}

export interface ThreeWay {
  merged: string;
  recipe?: string;
  /** Tensors whose merged value is not where the recipe says it should come from. */
  violations: { name: string; expected: 'base' | 'finetuned'; actual: MergedSource }[];
  /** Merged tensors per block that equal base / fine-tune / neither. */
  sources: Record<Block, Record<MergedSource, number>>;
  verdict: string;
  /** True when the output was checked against its recorded recipe and something is wrong. */
  failed: boolean;
}

export interface DeltaReport {
  version: number;
  base: string;
  finetuned: string;
  finetunedKind: 'model' | 'adapter';
  family?: string;
  layers: number;
  spectrumMethod?: string;
  tensors: TensorDelta[];
  blocks: Record<Block, BlockTotals>;
  /** Tensors present on one side only (compared against nothing, listed instead). */
  onlyInBase: string[];
  onlyInFinetuned: string[];
  threeWay?: ThreeWay;
  bytesRead: number;
  seconds: number;
}
