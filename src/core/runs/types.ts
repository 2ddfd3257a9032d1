import type { ExperimentConfig } from '../experiment/schema';

/** Where runs live, relative to a workspace folder. */
export const RUNS_DIR = '.taia/runs';
export const STATUS_FILE = 'status.json';
export const CONFIG_FILE = 'config.json';
export const METRICS_FILE = 'metrics.jsonl';
export const LOG_FILE = 'train.log';
export const CHECKPOINTS_DIR = 'checkpoints';
/** Inside a checkpoint: what resuming needs beyond the weights (as Hugging Face Trainer's checkpoints). */
export const TRAINER_STATE_FILE = 'trainer_state.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';

/** `pending` is a Slurm job waiting in the queue; `timeout`, `preempted` and `node_fail` are how Slurm jobs end. */
export type RunState =
  | 'queued'
  | 'pending'
  | 'running'
  | 'done'
  | 'failed'
  | 'cancelled'
  | 'interrupted'
  | 'timeout'
  | 'preempted'
  | 'node_fail';
export const FINISHED_STATES: readonly RunState[] = [
  'done',
  'failed',
  'cancelled',
  'interrupted',
  'timeout',
  'preempted',
  'node_fail',
];

/** The Slurm job of a run (`launcher: slurm`), as last seen. */
export interface SlurmJobInfo {
  jobId?: string;
  /** The job script (in the run folder) and its output file, which the dashboard tails. */
  script: string;
  output: string;
  partition?: string;
  nodeList?: string;
  /** Slurm's own state name, e.g. PENDING, RUNNING, TIMEOUT. */
  jobState?: string;
  /** Why a pending job waits (Priority, Resources, …). */
  reason?: string;
}

/** `status.json`: the run's state, written atomically by whoever changes it. */
export interface RunStatus {
  id: string;
  name: string;
  state: RunState;
  /** The trainer's process while it runs; with `host`, how a reloaded window re-attaches or finds it gone. */
  pid?: number;
  host?: string;
  createdAt: string;
  startedAt?: string;
  endedAt?: string;
  /** The engine of the project's own runs; absent for runs found in the workspace (see `source`). */
  engine?: ExperimentConfig['engine'];
  /** For a run TAIA Lab did not start: the tool that wrote it (HF Trainer, TRL, LLaMA-Factory, axolotl, TensorBoard). */
  source?: string;
  /** The backend the engine actually used, e.g. "tfjs wasm (SIMD)". */
  backend?: string;
  step: number;
  totalSteps?: number;
  /** Latest checkpoint folder, relative to the run folder. */
  lastCheckpoint?: string;
  finalLoss?: number;
  error?: string;
  /** Last lines of the trainer's stderr when it crashed. */
  stderrTail?: string;
  /** `engine: command`: the tool's output folder that the run follows (its checkpoints and trainer_state.json). */
  outputDir?: string;
  /** `engine: command`: the signal that stopped the command on cancel (SIGINT first, then SIGTERM, then SIGKILL). */
  stopSignal?: 'SIGINT' | 'SIGTERM' | 'SIGKILL';
  /** How many times the run was resumed. */
  resumes?: number;
  /** Set for runs submitted to Slurm: the job is then the source of truth for the state, not a pid. */
  slurm?: SlurmJobInfo;
}

/** `config.json` of a run: the experiment with every path resolved and every default filled in. */
export interface RunConfig extends ExperimentConfig {
  /** The experiment file it came from, if any. */
  experimentFile?: string;
}

/** One line of `metrics.jsonl`. */
export interface MetricRecord {
  step: number;
  /** Absent where the tool did not log it. */
  epoch?: number;
  loss: number;
  /** Absent where the tool did not log it (a TensorBoard run without a learning-rate scalar). */
  lr?: number;
  gradNorm?: number;
  tokensPerSecond?: number;
  /** Tensors alive after the step: flat across steps unless memory leaks. */
  liveTensors?: number;
  /** Peak GPU memory in bytes (PyTorch engine on CUDA). */
  gpuMemory?: number;
  /** Seconds since the run (or its latest resume) started; absent where the tool records no times (trainer_state.json). */
  elapsed?: number;
  /** ISO time of the record. */
  time?: string;
}
