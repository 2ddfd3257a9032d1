// The trainer child process. It owns its run folder while it runs: status.json, metrics.jsonl and
// train.log are written here, so the run survives its parent (a reloaded window re-attaches by pid).
// The parent's IPC channel carries the live view and the cancel request; see protocol.ts.
// Inside a Slurm job there is no parent: `--run DIR` / `--evaluate JOB.json` start the work directly,
// messages become lines of the job's output, and signals are the only requests (see core/slurm/).
import { appendFileSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { appendMetric, listCheckpoints, readRunConfig, readStatus, updateStatus } from '../core/runs/store';
import { LOG_FILE, type RunState } from '../core/runs/types';
import { trainWithTfjs } from './engines/tfjs/engine';
import { trainWithTorch } from './engines/torch/engine';
import { trainWithCommand } from './engines/command/engine';
import { openTfjsModel } from './engines/tfjs/evaluate';
import { openTorchModel } from './engines/torch/evaluate';
import { evaluateTasks } from './evaluate/run';
import { writeEvaluation } from './evaluate/write';
import { requeueJob, slurmEndingJob } from './slurmRequeue';
import type { EvalHooks } from './evaluate/types';
import {
  EvaluateJob,
  message,
  parseParentMessage,
  ParentMessage,
  ProtocolError,
  TrainerMessage,
  Unversioned,
} from './protocol';

let cancelRequested = false;
/** Slurm's USR1: the time limit (or a preemption) is near. */
let warned = false;
/** A cancel (the extension's, Ctrl-C, scancel's SIGTERM): it overrides the requeue that USR1 asks for. */
let stopAsked = false;
let started = false;
const standalone = parseStandalone(process.argv.slice(2));

function send(m: Unversioned<TrainerMessage>): void {
  if (process.connected) process.send?.(message<TrainerMessage>(m));
  else if (standalone) jobLog(m);
}

/** A job's output file is its live view: logs, progress and errors as lines. */
function jobLog(m: Unversioned<TrainerMessage>): void {
  if (m.type === 'log') process.stdout.write(`${m.level === 'info' ? '' : `${m.level}: `}${m.message}\n`);
  else if (m.type === 'progress')
    process.stdout.write(
      `step ${m.step}/${m.totalSteps} loss ${m.loss.toFixed(4)}${m.lr !== undefined ? ` lr ${m.lr.toExponential(2)}` : ''}${m.tokensPerSecond !== undefined ? ` ${Math.round(m.tokensPerSecond)} tok/s` : ''}\n`,
    );
  else if (m.type === 'evalProgress' && (m.done === m.total || m.done % 50 === 0))
    process.stdout.write(`${m.task}: ${m.done}/${m.total}\n`);
  else if (m.type === 'error') process.stderr.write(`error: ${m.message}\n`);
  else if (m.type === 'done')
    process.stdout.write(`${m.state} at ${m.step}${m.results ? `; results: ${m.results}` : ''}\n`);
}

function parseStandalone(args: string[]): { runDir: string } | { jobFile: string } | undefined {
  if (args[0] === '--run' && args[1]) return { runDir: path.resolve(args[1]) };
  if (args[0] === '--evaluate' && args[1]) return { jobFile: path.resolve(args[1]) };
  return undefined;
}

process.on('message', (raw) => {
  let m: ParentMessage;
  try {
    m = parseParentMessage(raw);
  } catch (e) {
    send({ type: 'error', message: (e as Error).message });
    return;
  }
  if (m.type === 'cancel') cancelRequested = stopAsked = true;
  else if (!started) {
    started = true;
    void (m.type === 'start' ? run(m.runDir, m.resume) : evaluate(m.job));
  }
});
// A terminal's Ctrl-C or the extension's cancel of a re-attached run arrive as signals: both mean "stop gracefully".
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => (cancelRequested = stopAsked = true));
// Slurm's warning before the time limit (`--signal=B:USR1@N`): checkpoint and stop while there is time.
process.on('SIGUSR1', () => {
  warned = true;
  cancelRequested = true;
});
// The parent going away (a window reload) is not a reason to stop: the run goes on and is re-attached.
process.on('disconnect', () => undefined);

send({ type: 'hello', pid: process.pid });
if (standalone) {
  started = true;
  // A requeued or resubmitted job finds its checkpoints and resumes from the last one by itself.
  if ('runDir' in standalone) void listCheckpoints(standalone.runDir).then((c) => run(standalone.runDir, c.length > 0));
  else void evaluate(JSON.parse(readFileSync(standalone.jobFile, 'utf-8')) as EvaluateJob);
} else if (!process.send) {
  process.stderr.write(
    'The TAIA trainer is started by the extension or by `taia train`, which speak to it over an IPC channel.\n',
  );
  process.exit(2);
}

async function run(runDir: string, resume: boolean): Promise<void> {
  const logFile = path.join(runDir, LOG_FILE);
  const log = (level: 'info' | 'warn' | 'error', text: string): void => {
    appendFileSync(logFile, `${new Date().toISOString()} ${level.toUpperCase()} ${text}\n`);
    send({ type: 'log', level, message: text });
  };
  let lastStatusWrite = 0;
  let firstStep = 0;
  try {
    const config = await readRunConfig(runDir);
    const previous = await readStatus(runDir);
    // A kill can leave status.json naming an older checkpoint than the newest complete one, which is the one resumed from.
    const newest = resume ? (await listCheckpoints(runDir)).at(-1) : undefined;
    if (resume)
      log(
        'info',
        newest
          ? `resuming from ${path.relative(runDir, newest.dir)}, the newest complete checkpoint`
          : 'no complete checkpoint: starting again from step 0',
      );
    await updateStatus(runDir, {
      ...(resume ? { lastCheckpoint: newest && path.relative(runDir, newest.dir) } : {}),
      state: 'running',
      pid: process.pid,
      host: hostname(),
      startedAt: previous.startedAt ?? new Date().toISOString(),
      endedAt: undefined,
      error: undefined,
      stderrTail: undefined,
      resumes: (previous.resumes ?? 0) + (resume ? 1 : 0),
      ...(previous.slurm && process.env.SLURM_JOB_ID
        ? {
            slurm: {
              ...previous.slurm,
              jobId: process.env.SLURM_JOB_ID,
              jobState: 'RUNNING',
              reason: undefined,
              nodeList: process.env.SLURM_JOB_NODELIST,
            },
          }
        : {}),
    });
    log(
      'info',
      `${resume ? 'resuming' : 'starting'} run ${previous.id}: ${config.engine === 'command' ? 'a training command' : `${config.train.method} fine-tuning of ${config.base} on ${config.dataset}`}`,
    );
    const t0 = performance.now();
    const train =
      config.engine === 'torch' ? trainWithTorch : config.engine === 'command' ? trainWithCommand : trainWithTfjs;
    const result = await train(runDir, config, resume, {
      started: async (info) => {
        log(
          'info',
          info.command
            ? `the command's output appears in trainer.out; steps so far ${info.totalSteps || 'unknown'}`
            : `backend ${info.backend}; ${info.examples} examples; ${info.trainableParameters.toLocaleString('en')} of ${info.parameters.toLocaleString('en')} parameters trained; steps ${info.startStep}→${info.totalSteps}`,
        );
        firstStep = info.startStep;
        await updateStatus(runDir, { backend: info.backend, totalSteps: info.totalSteps, step: info.startStep });
        const { command: _command, ...counts } = info;
        send({ type: 'started', runId: previous.id, ...counts });
      },
      step: async (s) => {
        const elapsed = (performance.now() - t0) / 1000;
        if (s.step % config.train.logging_steps === 0 || s.step === s.totalSteps) {
          await appendMetric(runDir, {
            step: s.step,
            epoch: s.epoch,
            loss: s.loss,
            lr: s.lr,
            gradNorm: s.gradNorm,
            tokensPerSecond: s.tokensPerSecond,
            liveTensors: s.liveTensors,
            gpuMemory: s.gpuMemory,
            elapsed,
            time: new Date().toISOString(),
          });
        }
        // status.json is what other windows poll; once a second is plenty.
        if (performance.now() - lastStatusWrite > 1000 || s.step === s.totalSteps) {
          lastStatusWrite = performance.now();
          await updateStatus(runDir, { step: s.step, totalSteps: s.totalSteps });
        }
        const perStep = elapsed / Math.max(1, s.step - firstStep);
        send({
          type: 'progress',
          step: s.step,
          totalSteps: s.totalSteps,
          epoch: s.epoch,
          loss: s.loss,
          lr: s.lr,
          gradNorm: s.gradNorm,
          tokensPerSecond: s.tokensPerSecond,
          etaSeconds: Math.max(0, perStep * (s.totalSteps - s.step)),
        });
      },
      checkpoint: async (step, dir) => {
        log('info', `saved checkpoint ${path.relative(runDir, dir)}`);
        await updateStatus(runDir, { lastCheckpoint: path.relative(runDir, dir) });
        send({ type: 'checkpoint', step, path: dir });
      },
      log: (text) => log('info', text),
      cancelled: () => cancelRequested,
    });
    const checkpoint = result.checkpoint ? path.relative(runDir, result.checkpoint) : undefined;
    // Stopped on Slurm's warning: a requeue (the next incarnation resumes) or the time limit. A cancel
    // that came as well wins: an scancel during the stop must not be undone by the trainer's requeue,
    // whether its SIGTERM reached this process already or only Slurm (the job is then ending).
    const warnedOnly = warned && !stopAsked && result.state === 'cancelled';
    const jobId = warnedOnly && config.slurm?.requeue ? process.env.SLURM_JOB_ID : undefined;
    const ending = jobId ? slurmEndingJob(jobId) : undefined;
    if (ending) log('info', `Slurm is already ending job ${jobId} (${ending}), so it is not requeued`);
    const requeue = ending ? undefined : jobId;
    const state = warnedOnly ? (requeue ? 'pending' : ending ? 'cancelled' : 'timeout') : result.state;
    const stopSignal = result.stopSignal;
    const end = (s: RunState) => ({ state: s, endedAt: s === 'pending' ? undefined : new Date().toISOString() });
    await updateStatus(runDir, {
      ...end(state),
      step: result.step,
      finalLoss: result.finalLoss,
      lastCheckpoint: checkpoint,
      pid: undefined,
      stopSignal,
    });
    log(
      'info',
      `${state === 'done' ? 'finished' : state === 'timeout' ? 'stopped before the time limit' : state === 'pending' ? 'stopped before the time limit; requeueing' : 'cancelled'} at step ${result.step}${result.finalLoss !== undefined ? `, loss ${result.finalLoss.toFixed(4)}` : ''}${stopSignal ? ` (stopped by ${stopSignal})` : ''}`,
    );
    // The status is written first: a requeue ends this process. Refused, the run stopped at the limit.
    const refused = requeue ? requeueJob(requeue) : undefined;
    if (refused) {
      log('error', refused);
      await updateStatus(runDir, { ...end('timeout'), error: refused });
    }
    send({
      type: 'done',
      state: result.state,
      step: result.step,
      finalLoss: result.finalLoss,
      checkpoint: result.checkpoint,
    });
    finish(0);
  } catch (e) {
    const text = e instanceof ProtocolError ? e.message : ((e as Error).message ?? String(e));
    try {
      log('error', text);
      await updateStatus(runDir, { state: 'failed', error: text, endedAt: new Date().toISOString(), pid: undefined });
    } catch {
      // The run folder itself is unusable; the parent reports the error it receives.
    }
    send({ type: 'error', message: text });
    finish(1);
  }
}

/** Runs the evaluator on the job's engine and writes the result file; progress and cancel as for training. */
async function evaluate(job: EvaluateJob): Promise<void> {
  try {
    const hooks: EvalHooks = {
      started: (info) =>
        send({
          type: 'log',
          level: 'info',
          message: `evaluating ${job.variant ? `the '${job.variant.recipe}' merge of ${job.checkpoint} (read without writing it)` : job.checkpoint} on ${job.tasks.length} task(s), ${info.examples} examples; backend ${info.backend}`,
        }),
      progress: (done, total, task) => send({ type: 'evalProgress', done, total, task }),
      log: (text) => send({ type: 'log', level: 'info', message: text }),
      cancelled: () => cancelRequested,
    };
    const outcome = await evaluateTasks(job, hooks, job.engine === 'torch' ? openTorchModel : openTfjsModel);
    const done = outcome.records.length;
    if (outcome.cancelled) {
      send({ type: 'done', state: 'cancelled', step: done });
      return finish(0);
    }
    const written = await writeEvaluation(job, outcome);
    if (written.kept.length)
      send({
        type: 'log',
        level: 'info',
        message: `${written.file} keeps the earlier results of ${written.kept.join(', ')}`,
      });
    if (written.replaced.length)
      send({
        type: 'log',
        level: 'info',
        message: `${written.file}: this evaluation replaces the earlier results of ${written.replaced.join(', ')}`,
      });
    send({ type: 'done', state: 'done', step: done, results: written.file });
    finish(0);
  } catch (e) {
    send({ type: 'error', message: (e as Error).message });
    finish(1);
  }
}

/** Exits once queued IPC messages are flushed. */
function finish(code: number): void {
  if (process.connected) process.disconnect();
  process.exitCode = code;
  setTimeout(() => process.exit(code), 200).unref();
}
