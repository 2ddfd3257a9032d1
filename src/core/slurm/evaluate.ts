// An evaluation as a Slurm job, from submission to its end: what `taia study` and Run study… do for
// each variant of a `launcher: slurm` study, and the editor's Evaluate… on Slurm.
import { existsSync } from 'node:fs';
import type { SlurmSettings } from '../experiment/schema';
import { scancel, type SlurmJob } from './commands';
import { evaluationOutcome, jobActive, watchJob } from './follow';
import { submitEvaluation, type TrainerLaunch } from './submit';

export interface SlurmEvaluationHooks {
  pollMs: number;
  /** The job is in the queue. */
  submitted?(job: { jobId: string; script: string; output: string }): void;
  /** Slurm's view of the job changed, as a line such as "job 12: PENDING (Resources)". */
  state?(line: string): void;
  /** Polled: true cancels the job (scancel), and the evaluation ends as cancelled once Slurm says it ended. */
  cancelled(): boolean;
  /** Polled: true stops following and leaves the job to run on (`taia eval`'s Ctrl-C). */
  left?(): boolean;
}

export type SlurmEvaluation =
  | { state: 'done'; jobId: string; results: string }
  | { state: 'cancelled'; jobId: string }
  | { state: 'left'; jobId: string; output: string }
  | { state: 'failed'; jobId: string; error: string };

/** Submits the built-in evaluator on `job` and waits for the job's end. Throws SlurmError if sbatch fails. */
export async function evaluateAsSlurmJob(
  job: { out: string; name: string; engine: string },
  settings: SlurmSettings,
  launch: TrainerLaunch,
  hooks: SlurmEvaluationHooks,
): Promise<SlurmEvaluation> {
  const submitted = await submitEvaluation(job, settings, launch);
  hooks.submitted?.(submitted);
  let cancelling: Promise<void> | undefined;
  const ended = await watchJob(
    submitted.jobId,
    hooks.pollMs,
    (j) => hooks.state?.(slurmJobLine(submitted.jobId, j)),
    () => {
      if (hooks.left?.()) return true;
      // Keep watching after the cancel: the job is over only when Slurm says so.
      if (!cancelling && hooks.cancelled()) cancelling = scancel(submitted.jobId);
      return false;
    },
  );
  await cancelling;
  if (jobActive(ended)) return { state: 'left', jobId: submitted.jobId, output: submitted.output };
  const error = evaluationOutcome(ended, submitted.jobId, job.out, submitted.output, existsSync(job.out));
  if (!error) return { state: 'done', jobId: submitted.jobId, results: job.out };
  if (cancelling) return { state: 'cancelled', jobId: submitted.jobId };
  return { state: 'failed', jobId: submitted.jobId, error };
}

/** "job 12: PENDING (Resources)", as the progress of a job shows. */
export function slurmJobLine(jobId: string, job: SlurmJob | undefined): string {
  return `job ${jobId}: ${job ? `${job.state}${job.reason ? ` (${job.reason})` : ''}` : 'unknown to Slurm'}`;
}
