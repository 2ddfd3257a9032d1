import { ChildProcess, fork } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { readStatus, updateStatus } from '../core/runs/store';
import {
  EvaluateJob,
  message,
  parseTrainerMessage,
  ParentMessage,
  ProtocolError,
  TrainerMessage,
  Unversioned,
} from './protocol';

/** The trainer's stdout and stderr, kept in the run folder: the crash report when it dies. */
export const TRAINER_OUTPUT_FILE = 'trainer.out';

export interface LaunchOptions {
  /** The trainer bundle (dist/trainer.js). */
  script: string;
  /** A training run's folder (its status is marked failed if the trainer dies), or an evaluation. */
  job: { runDir: string; resume: boolean } | { evaluate: EvaluateJob };
  onMessage(m: TrainerMessage): void;
  /** Extra environment for the trainer (e.g. OMP settings for a native backend). */
  env?: NodeJS.ProcessEnv;
  /** How long the trainer may take to say hello; a silent child is an error, not a hang. */
  helloTimeoutMs?: number;
}

export interface TrainerOutcome {
  state: 'done' | 'cancelled' | 'failed';
  error?: string;
}

export interface TrainerHandle {
  readonly pid: number;
  /** Asks for a graceful stop: the current step finishes and a checkpoint is saved. */
  cancel(): void;
  /** Stops at once (the run is marked failed). */
  kill(): void;
  readonly outcome: Promise<TrainerOutcome>;
}

/**
 * Starts a trainer child process for a prepared run folder or an evaluation. The child is detached with its output in
 * the run folder, so it outlives a reloaded window; while this side lives it reads every message through
 * the protocol check, and if the child dies without saying "done" it marks the run failed with the tail
 * of the child's output.
 */
export function launchTrainer(opts: LaunchOptions): TrainerHandle {
  const runDir = 'runDir' in opts.job ? opts.job.runDir : undefined;
  // An evaluation keeps the process's output beside its result file.
  const outFile = runDir
    ? path.join(runDir, TRAINER_OUTPUT_FILE)
    : `${(opts.job as { evaluate: EvaluateJob }).evaluate.out}.log`;
  mkdirSync(path.dirname(outFile), { recursive: true });
  const out = openSync(outFile, 'a');
  let child: ChildProcess;
  try {
    child = fork(opts.script, [], {
      stdio: ['ignore', out, out, 'ipc'],
      detached: true,
      env: { ...process.env, ...opts.env },
      execArgv: [],
    });
  } finally {
    closeSync(out);
  }
  let finished: TrainerMessage | undefined;
  let failure: string | undefined;
  const helloTimer = setTimeout(
    () => fail(`the trainer did not answer within ${(opts.helloTimeoutMs ?? 30000) / 1000} s`),
    opts.helloTimeoutMs ?? 30000,
  );
  const send = (m: Unversioned<ParentMessage>) => child.connected && child.send(message<ParentMessage>(m));

  function fail(problem: string): void {
    failure ??= problem;
    child.kill('SIGKILL');
  }

  child.on('message', (raw) => {
    let m: TrainerMessage;
    try {
      m = parseTrainerMessage(raw);
    } catch (e) {
      fail((e as ProtocolError).message);
      return;
    }
    if (m.type === 'hello') {
      clearTimeout(helloTimer);
      send(
        'runDir' in opts.job
          ? { type: 'start', runDir: opts.job.runDir, resume: opts.job.resume }
          : { type: 'evaluate', job: opts.job.evaluate },
      );
    }
    if (m.type === 'done' || m.type === 'error') finished = m;
    opts.onMessage(m);
  });

  const outcome = new Promise<TrainerOutcome>((resolve) => {
    child.on('error', (e) => (failure ??= `could not start the trainer: ${e.message}`));
    child.on('exit', (code, signal) => {
      clearTimeout(helloTimer);
      void (async () => {
        if (finished?.type === 'done' && !failure) return resolve({ state: finished.state });
        const error =
          failure ??
          (finished?.type === 'error'
            ? finished.message
            : `the trainer exited ${signal ? `on ${signal}` : `with code ${code}`} before finishing`);
        const tail = outputTail(outFile);
        try {
          // The trainer records its own failures; one that died without a word is recorded here.
          if (runDir && (!(await readStatus(runDir)).error || failure))
            await updateStatus(runDir, {
              state: 'failed',
              error,
              stderrTail: tail,
              endedAt: new Date().toISOString(),
              pid: undefined,
            });
        } catch {
          // No readable run folder: the error still reaches the caller.
        }
        resolve({ state: 'failed', error: tail ? `${error}\n${tail}` : error });
      })();
    });
  });

  return {
    pid: child.pid ?? -1,
    cancel: () => {
      if (!send({ type: 'cancel' }) && child.pid) process.kill(child.pid, 'SIGTERM');
    },
    kill: () => fail('killed on request'),
    outcome,
  };
}

/** The last lines of the trainer's output, for the failure report. */
function outputTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf-8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
