// `taia train` / `taia eval` with `launcher: slurm`: submit, then follow the job from this terminal
// (Ctrl-C stops following; the job goes on, `scancel` stops it).
import * as path from 'node:path';
import { readStatus, isFinished } from '../core/runs/store';
import type { RunStatus } from '../core/runs/types';
import { followSlurmRuns, followsJob, watchJob } from '../core/slurm/follow';
import type { TrainerLaunch } from '../core/slurm/submit';

/** How often the CLI asks Slurm about its jobs. */
export const POLL_MS = Number(process.env.TAIA_SLURM_POLL_MS) || 3000;

/** The trainer as a job on the cluster starts it: this node, this build's trainer bundle. */
export function cliLaunch(): TrainerLaunch {
  return {
    node: process.execPath,
    trainer: path.join(__dirname, 'trainer.js'),
    env: process.env.TAIA_PYTHON ? { TAIA_PYTHON: process.env.TAIA_PYTHON } : {},
  };
}

/** Ctrl-C until disposed: as a promise (to race a wait against) and as a flag to poll. */
export function ctrlC(): { stop: Promise<void>; pressed(): boolean; dispose(): void } {
  let dispose = () => undefined as void;
  let pressed = false;
  const stop = new Promise<void>((resolve) => {
    const on = () => {
      pressed = true;
      resolve();
    };
    process.once('SIGINT', on);
    dispose = () => void process.off('SIGINT', on);
  });
  return { stop, pressed: () => pressed, dispose };
}

const sleep = (ms: number, stop: Promise<void>) => Promise.race([new Promise<void>((r) => setTimeout(r, ms)), stop]);

function describe(s: RunStatus): string {
  if (s.state === 'pending') return `pending${s.slurm?.reason ? ` (${s.slurm.reason})` : ''}`;
  if (s.state === 'running')
    return `running on ${s.slurm?.nodeList ?? '?'}${s.totalSteps ? `: step ${s.step}/${s.totalSteps}` : ''}`;
  return s.state;
}

/** Follows a submitted run until it ends; the exit code says how (0 done, 130 cancelled, 1 otherwise). */
export async function followRunInTerminal(runDir: string, quiet: boolean): Promise<number> {
  const { stop, pressed: stopped, dispose } = ctrlC();
  let last = '';
  try {
    for (;;) {
      let [run] = await followSlurmRuns([{ dir: runDir, status: await readStatus(runDir) }]);
      const line = describe(run.status);
      if (line !== last && !quiet) process.stderr.write(`job ${run.status.slurm?.jobId}: ${line}\n`);
      last = line;
      if (isFinished(run.status)) {
        // The trainer records its end a moment before its job ends: wait for Slurm's end too, so that the
        // run's record is complete and the job's node is free when this returns.
        const jobId = run.status.slurm?.jobId;
        if (jobId && followsJob(run.status)) {
          await watchJob(jobId, POLL_MS, () => undefined, stopped);
          [run] = await followSlurmRuns([{ dir: runDir, status: await readStatus(runDir) }]);
        }
        const s = run.status;
        if (s.state === 'failed') {
          process.stderr.write(
            `taia: training failed: ${s.error ?? 'no reason recorded'}${s.stderrTail ? `\n${s.stderrTail}` : ''}\n`,
          );
          return 1;
        }
        const where = s.lastCheckpoint ? path.join(runDir, s.lastCheckpoint) : '(no checkpoint)';
        process.stdout.write(
          `${s.state} at step ${s.step}/${s.totalSteps ?? '?'}${s.finalLoss !== undefined ? `, loss ${s.finalLoss.toFixed(4)}` : ''}\ncheckpoint: ${where}\n`,
        );
        return s.state === 'done' ? 0 : s.state === 'cancelled' ? 130 : 1;
      }
      await sleep(POLL_MS, stop);
      if (stopped()) {
        process.stderr.write(
          `stopped following; job ${run.status.slurm?.jobId} goes on (scancel ${run.status.slurm?.jobId} stops it, with a checkpoint)\n`,
        );
        return 0;
      }
    }
  } finally {
    dispose();
  }
}
