// A trainer that stopped on Slurm's time-limit warning requeues its own job (`requeue: true`). Slurm
// lets `scontrol requeue` bring back a job that an scancel has already ended (it goes to PENDING,
// BeginTime), so a cancel that reached Slurm before its SIGTERM reached the trainer would be undone
// (seen in CI). The job's state tells: a cancelled job is COMPLETING at once, while its trainer still runs.
import { spawnSync } from 'node:child_process';

/**
 * The job's state when Slurm is already ending it (cancelled, or at its limit), which a requeue must
 * not undo; undefined while it runs, or when squeue cannot say (the requeue is then tried, and Slurm
 * refuses what it cannot do).
 */
export function slurmEndingJob(jobId: string): string | undefined {
  const r = spawnSync('squeue', ['-h', '-j', jobId, '-o', '%T'], { encoding: 'utf-8' });
  const state = r.status === 0 ? r.stdout.trim() : '';
  return state && state !== 'RUNNING' ? state : undefined;
}

/**
 * Requeues the job; the error when Slurm refuses. Check slurmEndingJob first: a cancel that lands
 * between that check and this call (milliseconds) is not caught, as Slurm has no conditional requeue.
 */
export function requeueJob(jobId: string): string | undefined {
  const r = spawnSync('scontrol', ['requeue', jobId], { encoding: 'utf-8' });
  return r.status === 0
    ? undefined
    : `scontrol requeue ${jobId} failed: ${(r.stderr || r.error?.message || '').trim()}`;
}
