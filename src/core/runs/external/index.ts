// Runs that TAIA Lab did not start: Trainer output folders and TensorBoard log folders found in the
// workspace, read into the same status and metric records as the project's own runs, so the Runs view,
// the dashboard and the comparison show them side by side.
import { readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { MetricRecord, RunStatus } from '../types';
import {
  EvalRecord,
  isTrainerOutput,
  LLAMA_FACTORY_LOG,
  latestTrainerState,
  readLlamaFactoryLog,
  readToolConfig,
  trainerCheckpoints,
} from './hfTrainer';
import { eventFilesIn, readEventFile, Scalar } from './tensorboard';

export type { EvalRecord } from './hfTrainer';

/** A run folder still changing this recently is taken as being written. */
export const LIVE_WINDOW_MS = 120_000;

export interface ExternalRun {
  dir: string;
  kind: 'trainer' | 'tensorboard';
  status: RunStatus;
  metrics: MetricRecord[];
  evals: EvalRecord[];
  /** The tool's settings and config files, for the dashboard and the comparison table. */
  hyperparameters: Record<string, unknown>;
  checkpoints: { step: number; dir: string }[];
  /** What could not be read, or was not read on purpose. */
  notes: string[];
}

const SKIP = new Set([
  'node_modules',
  '.git',
  '.taia',
  '__pycache__',
  '.venv',
  'venv',
  'site-packages',
  '.vscode-test',
  'wandb',
]);
const MAX_DEPTH = 6;
const MAX_FOLDERS = 5000;

/** Output folders of external tools under a workspace folder: Trainer outputs first, then TensorBoard folders not inside one. */
export async function discoverExternalRuns(root: string): Promise<{ dir: string; kind: ExternalRun['kind'] }[]> {
  const found: { dir: string; kind: ExternalRun['kind'] }[] = [];
  let visited = 0;
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (visited++ > MAX_FOLDERS) return;
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    if (await isTrainerOutput(dir)) return void found.push({ dir, kind: 'trainer' });
    if (entries.some((e) => e.isFile() && e.name.startsWith('events.out.tfevents.')))
      found.push({ dir, kind: 'tensorboard' });
    if (depth >= MAX_DEPTH) return;
    for (const e of entries) {
      // The Trainer's hparams writer adds a `<timestamp>/` folder of its own beside a run's event file.
      if (!e.isDirectory() || SKIP.has(e.name) || /^checkpoint-\d+$/.test(e.name) || /^\d+(\.\d+)?$/.test(e.name))
        continue;
      await walk(path.join(dir, e.name), depth + 1);
    }
  };
  await walk(root, 0);
  return found;
}

/** All external runs of a workspace folder, newest first; folders that cannot be read are left out. */
export async function listExternalRuns(root: string): Promise<ExternalRun[]> {
  const found = await discoverExternalRuns(root);
  const runs = await Promise.all(found.map((f) => readExternalRun(f.dir, root, f.kind).catch(() => undefined)));
  return runs
    .filter((r): r is ExternalRun => r !== undefined)
    .sort((a, b) => b.status.createdAt.localeCompare(a.status.createdAt));
}

/** Reads a Trainer output folder or a TensorBoard folder. `root` names it (the id is its path in the workspace). */
export async function readExternalRun(
  dir: string,
  root = path.dirname(dir),
  kind?: ExternalRun['kind'],
): Promise<ExternalRun> {
  kind ??= (await isTrainerOutput(dir)) ? 'trainer' : 'tensorboard';
  return kind === 'trainer' ? readTrainerRun(dir, root) : readTensorBoardRun(dir, root);
}

/** Whether a folder is an external run (for the dashboard, which opens both kinds). */
export async function isExternalRun(dir: string): Promise<boolean> {
  return (await isTrainerOutput(dir)) || (await eventFilesIn(dir)).length > 0;
}

function baseStatus(dir: string, root: string, source: string, times: number[]): RunStatus {
  const id = path.relative(root, dir).split(path.sep).join('/') || path.basename(dir);
  const first = Math.min(...times);
  const last = Math.max(...times);
  const live = Date.now() - last < LIVE_WINDOW_MS;
  return {
    id,
    name: path.basename(dir),
    state: live ? 'running' : 'done',
    createdAt: new Date(first).toISOString(),
    startedAt: new Date(first).toISOString(),
    endedAt: live ? undefined : new Date(last).toISOString(),
    source,
    step: 0,
  };
}

async function mtimes(files: string[]): Promise<number[]> {
  const out: number[] = [];
  for (const f of files) {
    const s = await stat(f).catch(() => undefined);
    if (s) out.push(s.mtimeMs);
  }
  return out;
}

async function readTrainerRun(dir: string, root: string): Promise<ExternalRun> {
  const { state, problems } = await latestTrainerState(dir);
  const checkpoints = await trainerCheckpoints(dir);
  const config = await readToolConfig(dir, state);
  // LLaMA-Factory's log is written at every logging step: the surest sign of a live run.
  const times = await mtimes([
    ...(state ? [state.file] : []),
    ...checkpoints.map((c) => c.dir),
    dir,
    path.join(dir, LLAMA_FACTORY_LOG),
  ]);
  const status = baseStatus(dir, root, config.tool, times);
  // trainer_state.json records no times: file dates say when it was last written, not how long it ran.
  delete status.startedAt;
  const notes = [...problems, ...config.notRead];
  let metrics: MetricRecord[] = state?.metrics ?? [];
  let evals: EvalRecord[] = state?.evals ?? [];
  if (state) {
    status.step = state.globalStep;
    status.totalSteps = state.maxSteps;
    status.finalLoss = state.summary?.train_loss ?? metrics.at(-1)?.loss;
    const finished =
      state.summary !== undefined || (state.maxSteps !== undefined && state.globalStep >= state.maxSteps);
    // Stopped short of its steps and no longer written: a crash or a cancel, resumable from its last checkpoint.
    if (!finished && status.state === 'done') status.state = 'interrupted';
    if (finished) status.state = 'done';
  }
  // LLaMA-Factory logs each step to trainer_log.jsonl, ahead of its checkpoints' states.
  const lf = config.tool === 'LLaMA-Factory' ? await readLlamaFactoryLog(dir) : undefined;
  if (lf && lf.step > (state?.globalStep ?? -1)) {
    status.step = lf.step;
    status.totalSteps = lf.totalSteps ?? status.totalSteps;
    if (lf.metrics.length > metrics.length) metrics = lf.metrics;
    status.finalLoss ??= metrics.at(-1)?.loss;
    if (!state)
      status.state =
        status.state === 'running'
          ? 'running'
          : lf.totalSteps !== undefined && lf.step >= lf.totalSteps
            ? 'done'
            : 'interrupted';
  }
  // A Trainer run that logged to TensorBoard only (no state saved yet) still has a curve.
  if (!metrics.length) {
    const tb = await tensorBoardUnder(path.join(dir, 'runs'));
    if (tb) {
      ({ metrics, evals } = tb.read);
      notes.push(...tb.notes);
    }
  }
  const last = checkpoints.at(-1);
  if (last) status.lastCheckpoint = path.relative(dir, last.dir);
  const hyperparameters: Record<string, unknown> = {
    tool: config.tool,
    ...(state ? { trainer_state: state.settings } : {}),
    ...config.files,
  };
  return { dir, kind: 'trainer', status, metrics, evals, hyperparameters, checkpoints, notes };
}

/** The newest TensorBoard folder directly under `dir` (the Trainer's `runs/<date>_<host>/`). */
async function tensorBoardUnder(
  dir: string,
): Promise<{ read: ReturnType<typeof scalarsToRecords>; notes: string[] } | undefined> {
  const subs = (await readdir(dir, { withFileTypes: true }).catch(() => []))
    .filter((e) => e.isDirectory())
    .map((e) => path.join(dir, e.name));
  for (const sub of subs.sort().reverse()) {
    const files = await eventFilesIn(sub);
    if (!files.length) continue;
    const reads = await Promise.all(files.map(readEventFile));
    return {
      read: scalarsToRecords(reads.flatMap((r) => r.scalars)),
      notes: reads.flatMap((r) => (r.problem ? [r.problem] : [])),
    };
  }
  return undefined;
}

/** Tag names that tools give the training loss, learning rate, gradient norm and epoch (HF Trainer first). */
const TAGS = {
  loss: ['train/loss', 'loss', 'train_loss', 'Loss/train', 'train/loss_step', 'training_loss'],
  lr: ['train/learning_rate', 'learning_rate', 'lr', 'train/lr'],
  gradNorm: ['train/grad_norm', 'grad_norm'],
  epoch: ['train/epoch', 'epoch'],
};
const EVAL_PREFIX = /^(eval|val|validation)[/_]/;

export function scalarsToRecords(scalars: Scalar[]): {
  metrics: MetricRecord[];
  evals: EvalRecord[];
  lossTag?: string;
  tags: string[];
} {
  const byTag = new Map<string, Map<number, Scalar>>();
  // A restarted writer logs the same steps again: the later value wins.
  for (const s of scalars) {
    let m = byTag.get(s.tag);
    if (!m) byTag.set(s.tag, (m = new Map()));
    m.set(s.step, s);
  }
  const tags = [...byTag.keys()];
  const find = (names: string[]) => names.find((n) => byTag.has(n));
  const lossTag = find(TAGS.loss);
  const lrTag = find(TAGS.lr);
  const gradTag = find(TAGS.gradNorm);
  const epochTag = find(TAGS.epoch);
  const metrics: MetricRecord[] = [];
  if (lossTag) {
    const losses = [...byTag.get(lossTag)!.values()].sort((a, b) => a.step - b.step);
    const t0 = losses[0]?.wallTime ?? 0;
    for (const s of losses) {
      metrics.push({
        step: s.step,
        epoch: epochTag ? byTag.get(epochTag)!.get(s.step)?.value : undefined,
        loss: s.value,
        lr: lrTag ? byTag.get(lrTag)!.get(s.step)?.value : undefined,
        gradNorm: gradTag ? byTag.get(gradTag)!.get(s.step)?.value : undefined,
        elapsed: s.wallTime - t0,
        time: new Date(s.wallTime * 1000).toISOString(),
      });
    }
  }
  const evalSteps = new Map<number, EvalRecord>();
  for (const tag of tags.filter((t) => EVAL_PREFIX.test(t))) {
    for (const s of byTag.get(tag)!.values()) {
      let e = evalSteps.get(s.step);
      if (!e) evalSteps.set(s.step, (e = { step: s.step, values: {} }));
      e.values[tag.replace(EVAL_PREFIX, '')] = s.value;
    }
  }
  return { metrics, evals: [...evalSteps.values()].sort((a, b) => a.step - b.step), lossTag, tags };
}

async function readTensorBoardRun(dir: string, root: string): Promise<ExternalRun> {
  const files = await eventFilesIn(dir);
  const reads = await Promise.all(files.map(readEventFile));
  const scalars = reads.flatMap((r) => r.scalars);
  const { metrics, evals, lossTag, tags } = scalarsToRecords(scalars);
  const wall = scalars.map((s) => s.wallTime * 1000);
  const times = [...(await mtimes(files)), ...(wall.length ? [Math.min(...wall)] : [])];
  const status = baseStatus(dir, root, 'TensorBoard', times);
  if (wall.length) {
    status.startedAt = status.createdAt = new Date(Math.min(...wall)).toISOString();
    if (status.endedAt) status.endedAt = new Date(Math.max(...wall)).toISOString();
  }
  status.step = scalars.reduce((m, s) => Math.max(m, s.step), 0);
  status.finalLoss = metrics.at(-1)?.loss;
  const notes = reads.flatMap((r) => (r.problem ? [r.problem] : []));
  if (!lossTag) notes.push(`no loss scalar (looked for ${TAGS.loss.join(', ')}); tags: ${tags.join(', ') || 'none'}`);
  return {
    dir,
    kind: 'tensorboard',
    status,
    metrics,
    evals,
    hyperparameters: { tool: 'TensorBoard', event_files: files.length, scalar_tags: tags.join(', ') },
    checkpoints: [],
    notes,
  };
}
