// What the evaluator and the engines that score for it say to each other. Task files, prompts,
// tokenization and scoring are the evaluator's (so every engine is judged on the same token ids);
// an engine only answers the two questions lm-evaluation-harness asks of a model.
import type { Task } from '../../core/eval/tasks';
import type { VariantSpec } from '../../core/merge/virtual';
import type { EvaluateJob } from '../protocol';

export type EvalRequest = Omit<EvaluateJob, 'out' | 'name'>;

/** One scored example, as the result file's per-example records keep it. */
export interface ExampleRecord {
  task: string;
  id: string;
  prompt: string;
  prediction: string;
  target: string;
  metrics: Record<string, number>;
  /** Multiple choice: each choice's log-likelihood (so two evaluations compare beyond the argmax). */
  loglikelihoods?: number[];
}

export interface TaskScore {
  task: string;
  kind: Task['kind'];
  n: number;
  /** Mean of each metric over the examples, with its standard error (√(p(1−p)/(n−1)) for 0/1 metrics, as lm-eval reports). */
  metrics: Record<string, { value: number; stderr: number }>;
}

export interface EvalHooks {
  started(info: { backend: string; examples: number }): void;
  progress(done: number, total: number, task: string): void;
  log(message: string): void;
  cancelled(): boolean;
}

/** The checkpoint to evaluate, resolved: a model folder, plus the adapter to fold into it. */
export interface ModelToEvaluate {
  modelDir: string;
  adapterDir?: string;
  /** A merge variant of `modelDir` (the base) to evaluate without writing it (core/merge/virtual.ts). */
  variant?: VariantSpec & { keepAt?: string };
}

export interface LoglikelihoodRequest {
  context: number[];
  continuation: number[];
}

/** A loaded model that scores token ids. Calls are sequential; `batchSize` is how many examples a call should carry. */
export interface LanguageModel {
  readonly description: string;
  readonly batchSize: number;
  /** Σ log p(continuation token | everything before it), per request. */
  loglikelihood(requests: LoglikelihoodRequest[]): Promise<number[]>;
  /** Greedy continuation of each prompt: at most `maxNewTokens` tokens, ending before `stop`. */
  generate(prompts: number[][], maxNewTokens: number, stop: number): Promise<number[][]>;
  dispose(): Promise<void>;
}
