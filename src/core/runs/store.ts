import { hostname } from 'node:os';
import * as path from 'node:path';
import { appendFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { CheckpointError } from '../errors';
import { writeFileAtomic } from '../util/atomicWrite';
import { readJsonObject } from '../util/json';
import {
  CHECKPOINTS_DIR,
  CONFIG_FILE,
  FINISHED_STATES,
  METRICS_FILE,
  MetricRecord,
  RunConfig,
  RUNS_DIR,
  RunStatus,
  STATUS_FILE,
} from './types';

/** Writes JSON atomically: status.json is read by other windows while the trainer updates it. */
export function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  return writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/** A sortable, readable run id: UTC time, then the experiment name made safe for a folder. */
export function newRunId(name: string, now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/\.\d+Z$/, '')
    .replace(/:/g, '-');
  const safe =
    name
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^[-.]+|-+$/g, '')
      .slice(0, 60) || 'run';
  return `${stamp}-${safe}`;
}

/** Creates `<root>/.taia/runs/<id>/` with the resolved config and a queued status. */
export async function createRun(root: string, config: RunConfig): Promise<{ id: string; dir: string }> {
  const runs = path.join(root, RUNS_DIR);
  await mkdir(runs, { recursive: true });
  let id = newRunId(config.name);
  // Two runs of one experiment in the same second get a suffix rather than sharing a folder.
  for (let n = 2; ; n++) {
    try {
      await mkdir(path.join(runs, id));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      id = `${newRunId(config.name)}-${n}`;
    }
  }
  const dir = path.join(runs, id);
  await writeJsonAtomic(path.join(dir, CONFIG_FILE), config);
  const status: RunStatus = {
    id,
    name: config.name,
    state: 'queued',
    createdAt: new Date().toISOString(),
    engine: config.engine,
    step: 0,
  };
  await writeJsonAtomic(path.join(dir, STATUS_FILE), status);
  return { id, dir };
}

export async function readRunConfig(dir: string): Promise<RunConfig> {
  return (await readJsonObject(path.join(dir, CONFIG_FILE))) as unknown as RunConfig;
}

export async function readStatus(dir: string): Promise<RunStatus> {
  const status = (await readJsonObject(path.join(dir, STATUS_FILE))) as unknown as RunStatus;
  if (typeof status.id !== 'string' || typeof status.state !== 'string')
    throw new CheckpointError(path.join(dir, STATUS_FILE), 'is not a run status (no id or state)');
  return status;
}

/** Reads, changes and writes the status. Only one process writes a run's status at a time: its trainer, or its launcher once the trainer is gone. */
export async function updateStatus(dir: string, patch: Partial<RunStatus>): Promise<RunStatus> {
  const next = { ...(await readStatus(dir)), ...patch };
  await writeJsonAtomic(path.join(dir, STATUS_FILE), next);
  return next;
}

export function isFinished(status: RunStatus): boolean {
  return FINISHED_STATES.includes(status.state);
}

/** Whether a process with this pid exists (signal 0 checks without signalling). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The status as it really is: a run that says it is running but whose trainer process is gone (a
 * crash, a reboot, a killed window) is interrupted, and resumable from its last checkpoint. A run on
 * another host cannot be checked and is left as it says.
 */
export async function reconcileStatus(dir: string): Promise<RunStatus> {
  const status = await readStatus(dir);
  // A Slurm job's state comes from Slurm (core/slurm/follow.ts), not from a pid on this machine.
  if (status.slurm) return status;
  const stale =
    (status.state === 'running' || status.state === 'queued') &&
    status.pid !== undefined &&
    (status.host ?? hostname()) === hostname() &&
    !isAlive(status.pid);
  return stale
    ? updateStatus(dir, { state: 'interrupted', endedAt: new Date().toISOString(), pid: undefined })
    : status;
}

export interface RunSummary {
  dir: string;
  status: RunStatus;
}

/** Runs of a workspace folder, newest first; folders without a readable status are skipped. */
export async function listRuns(root: string): Promise<RunSummary[]> {
  const runs = path.join(root, RUNS_DIR);
  let names: string[];
  try {
    names = await readdir(runs);
  } catch {
    return [];
  }
  const found = await Promise.all(
    names.map(async (name) => {
      const dir = path.join(runs, name);
      try {
        return { dir, status: await reconcileStatus(dir) };
      } catch {
        return undefined;
      }
    }),
  );
  return found
    .filter((r): r is RunSummary => r !== undefined)
    .sort((a, b) => b.status.createdAt.localeCompare(a.status.createdAt));
}

/** The newest run of an experiment file that has a checkpoint, with its config and that checkpoint's folder. */
export async function latestRunOf(
  root: string,
  experimentFile: string,
): Promise<(RunSummary & { config: RunConfig; checkpoint: string }) | undefined> {
  const file = path.resolve(experimentFile);
  for (const run of await listRuns(root)) {
    if (!run.status.lastCheckpoint) continue;
    const config = await readRunConfig(run.dir).catch(() => undefined);
    if (config?.experimentFile && path.resolve(config.experimentFile) === file)
      return { ...run, config, checkpoint: path.join(run.dir, run.status.lastCheckpoint) };
  }
  return undefined;
}

export async function appendMetric(dir: string, record: MetricRecord): Promise<void> {
  await appendFile(path.join(dir, METRICS_FILE), JSON.stringify(record) + '\n');
}

/** Metrics so far; a half-written last line (the trainer is appending) is left for the next read. */
export async function readMetrics(dir: string): Promise<MetricRecord[]> {
  let text: string;
  try {
    text = await readFile(path.join(dir, METRICS_FILE), 'utf-8');
  } catch {
    return [];
  }
  const out: MetricRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as MetricRecord);
    } catch {
      break;
    }
  }
  return out;
}

/** Checkpoint folders of a run, oldest first, named as Hugging Face Trainer names them (`checkpoint-<step>`). */
export async function listCheckpoints(dir: string): Promise<{ step: number; dir: string }[]> {
  let names: string[];
  try {
    names = await readdir(path.join(dir, CHECKPOINTS_DIR));
  } catch {
    return [];
  }
  return names
    .map((n) => /^checkpoint-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ step: Number(m[1]), dir: path.join(dir, CHECKPOINTS_DIR, m[0]) }))
    .sort((a, b) => a.step - b.step);
}

export function checkpointDir(runDir: string, step: number): string {
  return path.join(runDir, CHECKPOINTS_DIR, `checkpoint-${step}`);
}
