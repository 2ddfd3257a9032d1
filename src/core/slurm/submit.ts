// Submitting runs and evaluations as Slurm jobs: the job script is written into the job's folder, then
// `sbatch --parsable` submits it and the job id goes into status.json (for an evaluation, job.json).
import { mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import { EXPERIMENT_SCHEMA, type SlurmSettings } from '../experiment/schema';
import { readStatus, updateStatus } from '../runs/store';
import type { RunConfig, RunStatus } from '../runs/types';
import { writeFileAtomic } from '../util/atomicWrite';
import { sbatch, SlurmError } from './commands';
import { JOB_OUTPUT_FILE, JOB_SCRIPT_FILE, jobScript } from './script';

/** How the job starts the trainer: node (or Electron as node) and the trainer bundle, as seen from the compute nodes. */
export interface TrainerLaunch {
  node: string;
  trainer: string;
  /** Environment passed into the job (e.g. TAIA_PYTHON). */
  env: Record<string, string>;
}

/** The `slurm` section's defaults, for evaluations (which have no experiment file), with `overrides` on top. */
export function slurmSettings(overrides: Partial<SlurmSettings> = {}): SlurmSettings {
  const fields = EXPERIMENT_SCHEMA.slurm.fields as Record<string, { default?: unknown }>;
  const defaults = Object.fromEntries(
    Object.entries(fields).map(([k, f]) => [
      k,
      Array.isArray(f.default) ? [...(f.default as string[])] : (f.default ?? ''),
    ]),
  );
  return { ...(defaults as SlurmSettings), ...overrides };
}

/** Environment every job gets: Electron runs as plain node (the editor's own runtime may be Electron). */
function jobEnv(launch: TrainerLaunch): Record<string, string> {
  return {
    ...(path.basename(launch.node).toLowerCase().includes('node') ? {} : { ELECTRON_RUN_AS_NODE: '1' }),
    ...launch.env,
  };
}

/** The batch script of a training run (what the dry run prints and the run folder keeps). */
export function trainingScript(runDir: string, config: RunConfig, launch: TrainerLaunch): string {
  return jobScript({
    name: `taia-${config.name}`,
    dir: runDir,
    settings: config.slurm,
    torchrun: config.engine === 'torch',
    command: [launch.node, launch.trainer, '--run', runDir],
    env: jobEnv(launch),
    origin: `TAIA Lab training run ${path.basename(runDir)} (engine ${config.engine})${config.experimentFile ? ` from ${config.experimentFile}` : ''}`,
  });
}

/**
 * Writes the run's job script and submits it. The status says `pending` with the job before sbatch is
 * asked, so a job that starts at once finds it; a rejected submission marks the run failed with
 * Slurm's message as it is, and throws it (a SlurmError).
 */
export async function submitRun(runDir: string, config: RunConfig, launch: TrainerLaunch): Promise<RunStatus> {
  const script = path.join(runDir, JOB_SCRIPT_FILE);
  const previous = await readStatus(runDir);
  let jobId: string;
  try {
    await writeFileAtomic(script, trainingScript(runDir, config, launch));
    await updateStatus(runDir, {
      state: 'pending',
      slurm: { script, output: path.join(runDir, JOB_OUTPUT_FILE), partition: config.slurm.partition || undefined },
      error: undefined,
      stderrTail: undefined,
      endedAt: undefined,
      pid: undefined,
      host: undefined,
    });
    jobId = await sbatch(script);
  } catch (e) {
    if (!(e instanceof SlurmError)) throw e;
    await updateStatus(runDir, {
      state: previous.lastCheckpoint ? previous.state : 'failed',
      error: (e as Error).message,
      endedAt: new Date().toISOString(),
    });
    throw e;
  }
  const now = await readStatus(runDir);
  return updateStatus(runDir, { slurm: { ...now.slurm!, jobId } });
}

/** The folder of an evaluation job: beside its result file, named after it. */
export function evaluationJobDir(resultsFile: string): string {
  return resultsFile.replace(/\.taia-results\.json$/, '') + '.slurm';
}

export const EVALUATION_JOB_FILE = 'job.json';

/** Writes an evaluation's job (its EvaluateJob as JSON) and script, and submits it; returns the job id. */
export async function submitEvaluation(
  evaluateJob: { out: string; name: string; engine: string },
  settings: SlurmSettings,
  launch: TrainerLaunch,
): Promise<{ jobId: string; dir: string; script: string; output: string }> {
  const dir = evaluationJobDir(evaluateJob.out);
  await mkdir(dir, { recursive: true });
  const jobFile = path.join(dir, EVALUATION_JOB_FILE);
  await writeFileAtomic(jobFile, JSON.stringify(evaluateJob, null, 2) + '\n');
  const script = path.join(dir, JOB_SCRIPT_FILE);
  const text = jobScript({
    name: `taia-eval-${evaluateJob.name}`,
    dir,
    settings,
    torchrun: false,
    command: [launch.node, launch.trainer, '--evaluate', jobFile],
    env: jobEnv(launch),
    origin: `TAIA Lab evaluation ${evaluateJob.name} (engine ${evaluateJob.engine})`,
  });
  await writeFileAtomic(script, text);
  return { jobId: await sbatch(script), dir, script, output: path.join(dir, JOB_OUTPUT_FILE) };
}
