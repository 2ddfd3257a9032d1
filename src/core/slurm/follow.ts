// A Slurm run's state follows its job. The trainer inside the job writes status.json while it runs; this
// side writes only what the trainer cannot: the queue (pending and why), a requeue, and an end the
// trainer did not live to record (time limit, preemption, node failure, a job that died before it).
import { readFileSync } from 'node:fs';
import { isFinished, readStatus, updateStatus, type RunSummary } from '../runs/store';
import type { RunState, RunStatus } from '../runs/types';
import { queryJobs, type SlurmJob } from './commands';

const QUEUED = new Set([
  'PENDING',
  'CONFIGURING',
  'REQUEUED',
  'REQUEUE_HOLD',
  'REQUEUE_FED',
  'RESV_DEL_HOLD',
  'SUSPENDED',
  'RESIZING',
]);
const ACTIVE = new Set(['RUNNING', 'COMPLETING', 'STAGE_OUT', 'SIGNALING']);
/** Slurm's end states that say more than the trainer could (it was killed, or never ran). */
const ENDS: Record<string, RunState> = {
  TIMEOUT: 'timeout',
  DEADLINE: 'timeout',
  PREEMPTED: 'preempted',
  NODE_FAIL: 'node_fail',
  BOOT_FAIL: 'node_fail',
  CANCELLED: 'cancelled',
  FAILED: 'failed',
  OUT_OF_MEMORY: 'failed',
  COMPLETED: 'failed',
};

/** The last lines of a job's output file: why a job died before its trainer said anything. */
export function outputTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf-8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * What to change in a Slurm run's status given what Slurm says of its job (undefined: Slurm no longer
 * knows it), or undefined when nothing changes. Pure, apart from reading the job's output tail.
 */
export function reconcileSlurm(
  status: RunStatus,
  job: SlurmJob | undefined,
  now = new Date(),
): Partial<RunStatus> | undefined {
  const slurm = status.slurm;
  if (!slurm?.jobId) return undefined;
  if (!job) {
    if (isFinished(status)) return undefined;
    return {
      state: 'failed',
      error: `Slurm no longer knows job ${slurm.jobId}, and the trainer did not record an end`,
      stderrTail: outputTail(slurm.output),
      endedAt: now.toISOString(),
      pid: undefined,
    };
  }
  const seen = {
    ...slurm,
    jobState: job.state,
    reason: job.reason,
    partition: job.partition ?? slurm.partition,
    nodeList: job.nodeList ?? slurm.nodeList,
  };
  const changed =
    seen.jobState !== slurm.jobState ||
    seen.reason !== slurm.reason ||
    seen.nodeList !== slurm.nodeList ||
    seen.partition !== slurm.partition;
  if (QUEUED.has(job.state)) {
    // Waiting, or requeued after the trainer stopped: pending either way.
    return status.state !== 'pending' || changed ? { state: 'pending', slurm: seen, endedAt: undefined } : undefined;
  }
  // Running: the trainer inside writes its state and node list itself (this side writing too could undo its writes).
  if (ACTIVE.has(job.state)) return undefined;
  const end = ENDS[job.state] ?? 'failed';
  const trainerEnded = isFinished(status);
  // The trainer's own end stands, except where Slurm knows better why it stopped.
  if (
    trainerEnded &&
    (status.state === 'done' || status.state === 'timeout' || end === 'cancelled' || end === 'failed')
  )
    return changed ? { slurm: seen } : undefined;
  if (trainerEnded && status.state === end) return changed ? { slurm: seen } : undefined;
  const error =
    end === 'failed' && !trainerEnded
      ? `job ${slurm.jobId} ended ${job.state}${job.exitCode ? ` (exit code ${job.exitCode})` : ''} before the trainer finished${job.reason ? `; Slurm's reason: ${job.reason}` : ''}`
      : status.error;
  return {
    state: end,
    slurm: seen,
    error,
    stderrTail: end === 'failed' && !trainerEnded ? outputTail(slurm.output) : status.stderrTail,
    endedAt: status.endedAt ?? now.toISOString(),
    pid: undefined,
  };
}

/** Whether a run's job may still change: submitted, and not yet seen in an end state Slurm reports. */
export function followsJob(s: RunStatus): boolean {
  if (!s.slurm?.jobId) return false;
  return !isFinished(s) || !s.slurm.jobState || QUEUED.has(s.slurm.jobState) || ACTIVE.has(s.slurm.jobState);
}

/**
 * Brings the Slurm runs among `runs` up to date with one query for all their jobs (see queryJobs) and
 * returns the runs as they are now. Throws a SlurmError when Slurm cannot be asked.
 */
export async function followSlurmRuns(runs: RunSummary[]): Promise<RunSummary[]> {
  const open = runs.filter((r) => followsJob(r.status));
  if (!open.length) return runs;
  const jobs = await queryJobs(open.map((r) => r.status.slurm!.jobId!));
  const updated = new Map<string, RunStatus>();
  for (const run of open) {
    // Re-read after asking Slurm: a trainer writes its end before its job ends, so a status read before
    // the query can miss an end the trainer recorded in between and turn a finished run into a failed one.
    const status = await readStatus(run.dir);
    const patch = reconcileSlurm(status, jobs.get(run.status.slurm!.jobId!));
    updated.set(run.dir, patch ? await updateStatus(run.dir, patch) : status);
  }
  return runs.map((r) => ({ ...r, status: updated.get(r.dir) ?? r.status }));
}

/** Whether Slurm may still change a job's state. */
export const jobActive = (job: SlurmJob | undefined): boolean =>
  job !== undefined && (QUEUED.has(job.state) || ACTIVE.has(job.state));

/**
 * Polls one job (an evaluation's) until it ends or `stopped()` says to stop following; `onChange`
 * hears each new state. Returns the last answer (undefined: Slurm no longer knows the job).
 */
export async function watchJob(
  jobId: string,
  pollMs: number,
  onChange: (job: SlurmJob | undefined) => void,
  stopped: () => boolean,
): Promise<SlurmJob | undefined> {
  let last = '';
  for (;;) {
    const job = (await queryJobs([jobId])).get(jobId);
    const seen = JSON.stringify(job ?? null);
    if (seen !== last) onChange(job);
    last = seen;
    if (!jobActive(job) || stopped()) return job;
    await new Promise((r) => setTimeout(r, pollMs));
    if (stopped()) return job;
  }
}

/** What an ended evaluation job left: the error when it did not write its result file. */
export function evaluationOutcome(
  job: SlurmJob | undefined,
  jobId: string,
  results: string,
  output: string,
  written: boolean,
): string | undefined {
  if (job?.state === 'COMPLETED' && written) return undefined;
  return `job ${jobId} ended ${job?.state ?? '(Slurm no longer knows it)'} without writing ${results}${job?.exitCode ? ` (exit code ${job.exitCode})` : ''}\n${outputTail(output)}`;
}
