// Output folders of the Hugging Face Trainer and the tools built on it (TRL, LLaMA-Factory, axolotl):
// `trainer_state.json` with its `log_history`, `checkpoint-<step>/` folders each holding their own
// trainer_state.json, and the tool's config beside them. `training_args.bin` is a pickle and is never read.
import { readdir, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { MetricRecord } from '../types';
import { TRAINER_STATE_FILE } from '../types';

/** One evaluation in the log: `eval_loss`, `eval_accuracy`… without the prefix. */
export interface EvalRecord {
  step: number;
  epoch?: number;
  values: Record<string, number>;
}

export interface TrainerState {
  file: string;
  globalStep: number;
  maxSteps?: number;
  epoch?: number;
  metrics: MetricRecord[];
  evals: EvalRecord[];
  /** The end-of-training summary entry (`train_loss`, `train_runtime`…), when the run got there. */
  summary?: Record<string, number>;
  /** The top-level settings the Trainer records (batch size, logging/save/eval steps, epochs…). */
  settings: Record<string, unknown>;
  bestModelCheckpoint?: string;
}

const CHECKPOINT = /^checkpoint-(\d+)$/;
const SETTINGS = [
  'train_batch_size',
  'num_train_epochs',
  'max_steps',
  'logging_steps',
  'save_steps',
  'eval_steps',
  'best_metric',
  'best_model_checkpoint',
];

/**
 * JSON as Python's json.dump writes it: a diverged run logs `NaN` and `Infinity`, which JSON.parse
 * refuses; as values they are turned into numbers again here.
 */
export function parsePythonJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    const marked = text.replace(/([:[,]\s*)(-?Infinity|NaN)(?=\s*[,\]}])/g, '$1"\\u0000$2"');
    return JSON.parse(marked, (_k, v: unknown) =>
      typeof v === 'string' && v.startsWith('\u0000') ? Number(v.slice(1)) : v,
    );
  }
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/** Splits a log_history into training records, evaluations and the closing summary. */
export function readLogHistory(history: unknown[]): Pick<TrainerState, 'metrics' | 'evals' | 'summary'> {
  const metrics: MetricRecord[] = [];
  const evals: EvalRecord[] = [];
  let summary: Record<string, number> | undefined;
  for (const entry of history) {
    if (typeof entry !== 'object' || entry === null) continue;
    const e = entry as Record<string, unknown>;
    const step = num(e.step);
    if (step === undefined) continue;
    if (num(e.loss) !== undefined) {
      metrics.push({
        step,
        epoch: num(e.epoch),
        loss: e.loss as number,
        lr: num(e.learning_rate),
        gradNorm: num(e.grad_norm),
      });
      continue;
    }
    const evalValues = Object.entries(e).filter(([k, v]) => k.startsWith('eval_') && typeof v === 'number');
    if (evalValues.length) {
      evals.push({
        step,
        epoch: num(e.epoch),
        values: Object.fromEntries(evalValues.map(([k, v]) => [k.slice(5), v as number])),
      });
      continue;
    }
    if (num(e.train_loss) !== undefined || num(e.train_runtime) !== undefined)
      summary = Object.fromEntries(Object.entries(e).filter(([, v]) => typeof v === 'number')) as Record<
        string,
        number
      >;
  }
  return { metrics, evals, summary };
}

/** Reads one trainer_state.json; throws with the file named when it is not one. */
export async function readTrainerState(file: string): Promise<TrainerState> {
  let value: unknown;
  try {
    value = parsePythonJson(await readFile(file, 'utf-8'));
  } catch (e) {
    throw new Error(
      `${file}: ${(e as NodeJS.ErrnoException).code ? `cannot read (${(e as NodeJS.ErrnoException).code})` : `invalid JSON (${(e as Error).message})`}`,
      { cause: e },
    );
  }
  if (typeof value !== 'object' || value === null || !Array.isArray((value as { log_history?: unknown }).log_history))
    throw new Error(`${file}: not a Trainer state (no log_history list)`);
  const s = value as Record<string, unknown>;
  const settings = Object.fromEntries(
    SETTINGS.filter((k) => s[k] !== undefined && s[k] !== null).map((k) => [k, s[k]]),
  );
  return {
    file,
    globalStep: num(s.global_step) ?? 0,
    maxSteps: num(s.max_steps) || undefined,
    epoch: num(s.epoch),
    ...readLogHistory(s.log_history as unknown[]),
    settings,
    bestModelCheckpoint: typeof s.best_model_checkpoint === 'string' ? s.best_model_checkpoint : undefined,
  };
}

/** `checkpoint-<step>` folders of an output folder, oldest first. */
export async function trainerCheckpoints(dir: string): Promise<{ step: number; dir: string }[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => [CHECKPOINT.exec(e.name), e.name] as const)
    .filter((m): m is [RegExpExecArray, string] => m[0] !== null)
    .map(([m, name]) => ({ step: Number(m[1]), dir: path.join(dir, name) }))
    .sort((a, b) => a.step - b.step);
}

/** LLaMA-Factory's live log in its output folder: a line per logging step, before any checkpoint is saved. */
export const LLAMA_FACTORY_LOG = 'trainer_log.jsonl';

/** Whether a folder is a Trainer output folder: its own trainer_state.json, a checkpoint holding one, or LLaMA-Factory's log. */
export async function isTrainerOutput(dir: string): Promise<boolean> {
  if ((await exists(path.join(dir, TRAINER_STATE_FILE))) || (await exists(path.join(dir, LLAMA_FACTORY_LOG))))
    return true;
  for (const c of await trainerCheckpoints(dir)) if (await exists(path.join(c.dir, TRAINER_STATE_FILE))) return true;
  return false;
}

/**
 * The most advanced state of an output folder: the Trainer writes trainer_state.json into each
 * checkpoint while it trains, and into the folder itself only when a script calls save_state at the end.
 */
export async function latestTrainerState(dir: string): Promise<{ state?: TrainerState; problems: string[] }> {
  const candidates = [
    path.join(dir, TRAINER_STATE_FILE),
    ...(await trainerCheckpoints(dir)).reverse().map((c) => path.join(c.dir, TRAINER_STATE_FILE)),
  ];
  const problems: string[] = [];
  let best: TrainerState | undefined;
  for (const file of candidates) {
    if (!(await exists(file))) continue;
    try {
      const s = await readTrainerState(file);
      if (!best || s.globalStep > best.globalStep) best = s;
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  return { state: best, problems };
}

/** `1:39:39` or `2 days, 1:39:39` (Python's timedelta) in seconds. */
function timedelta(text: unknown): number | undefined {
  const m = typeof text === 'string' ? /^(?:(\d+) days?, )?(\d+):(\d\d):(\d\d(?:\.\d+)?)$/.exec(text) : null;
  return m ? Number(m[1] ?? 0) * 86400 + Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]) : undefined;
}

/**
 * LLaMA-Factory's trainer_log.jsonl (`current_steps`, `total_steps`, `loss`, `lr`, `epoch`,
 * `elapsed_time`, `throughput`): the newest step and the loss records so far. A half-written last line is left for the next read.
 */
export async function readLlamaFactoryLog(
  dir: string,
): Promise<{ step: number; totalSteps?: number; metrics: MetricRecord[] } | undefined> {
  const text = await readFile(path.join(dir, LLAMA_FACTORY_LOG), 'utf-8').catch(() => undefined);
  if (text === undefined) return undefined;
  const metrics: MetricRecord[] = [];
  let step = 0;
  let totalSteps: number | undefined;
  for (const line of text.split('\n')) {
    let e: Record<string, unknown>;
    try {
      e = parsePythonJson(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (typeof e !== 'object' || e === null || num(e.current_steps) === undefined) continue;
    step = Math.max(step, e.current_steps as number);
    totalSteps = num(e.total_steps) ?? totalSteps;
    if (num(e.loss) !== undefined)
      metrics.push({
        step: e.current_steps as number,
        epoch: num(e.epoch),
        loss: e.loss as number,
        lr: num(e.lr),
        elapsed: timedelta(e.elapsed_time),
        tokensPerSecond: num(e.throughput),
      });
  }
  return { step, totalSteps, metrics };
}

export type ToolName = 'HF Trainer' | 'TRL' | 'LLaMA-Factory' | 'axolotl';

export interface ToolConfig {
  tool: ToolName;
  /** Config files read, by name, as mappings. */
  files: Record<string, unknown>;
  /** Files named but not read, with why (the pickle). */
  notRead: string[];
}

/**
 * The tool that wrote an output folder and its config files: LLaMA-Factory leaves training_args.yaml
 * (and llamaboard_config.yaml from its web UI), axolotl's YAML has `base_model`, TRL's SFTTrainer logs
 * mean_token_accuracy; PEFT's adapter_config.json and the model's config.json are read where present.
 */
export async function readToolConfig(dir: string, state?: TrainerState): Promise<ToolConfig> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const files: Record<string, unknown> = {};
  const notRead: string[] = [];
  let tool: ToolName = 'HF Trainer';
  for (const name of names.sort()) {
    const file = path.join(dir, name);
    if (name === 'training_args.bin')
      notRead.push(`${name}: a Python pickle, which is never loaded (loading one runs code)`);
    else if (name === 'adapter_config.json' || name === 'config.json') {
      const value = await readFile(file, 'utf-8')
        .then(parsePythonJson, () => undefined)
        .catch(() => undefined);
      if (value && typeof value === 'object')
        files[name] =
          name === 'config.json'
            ? pick(value as Record<string, unknown>, [
                'architectures',
                'model_type',
                'torch_dtype',
                'num_hidden_layers',
                'hidden_size',
              ])
            : pick(value as Record<string, unknown>, [
                'base_model_name_or_path',
                'peft_type',
                'r',
                'lora_alpha',
                'lora_dropout',
                'target_modules',
                'use_rslora',
              ]);
    } else if (/\.ya?ml$/.test(name)) {
      const value = await readFile(file, 'utf-8')
        .then((t) => parseYaml(t) as unknown)
        .catch(() => undefined);
      if (!value || typeof value !== 'object' || Array.isArray(value)) continue;
      const v = value as Record<string, unknown>;
      if (name === 'training_args.yaml' || name === 'llamaboard_config.yaml') tool = 'LLaMA-Factory';
      else if ('base_model' in v) tool = 'axolotl';
      else continue;
      files[name] = v;
    }
  }
  if (tool === 'HF Trainer' && (names.includes('trainer_log.jsonl') || names.includes('llamaboard_config.yaml')))
    tool = 'LLaMA-Factory';
  if (
    tool === 'HF Trainer' &&
    state?.metrics.length &&
    state.file.endsWith(TRAINER_STATE_FILE) &&
    (await logHasTrlKeys(state.file))
  )
    tool = 'TRL';
  return { tool, files, notRead };
}

async function logHasTrlKeys(file: string): Promise<boolean> {
  const text = await readFile(file, 'utf-8').catch(() => '');
  return /"mean_token_accuracy"|"rewards\/chosen"/.test(text);
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined && o[k] !== null).map((k) => [k, o[k]]));
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
