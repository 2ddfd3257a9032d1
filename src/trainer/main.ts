// The trainer child process. It owns its run folder while it runs: status.json, metrics.jsonl and
// train.log are written here, so the run survives its parent (a reloaded window re-attaches by pid).
// The parent's IPC channel carries the live view and the cancel request; see protocol.ts.
import { appendFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { appendMetric, listCheckpoints, readRunConfig, readStatus, updateStatus } from '../core/runs/store';
import { LOG_FILE } from '../core/runs/types';
import { trainWithTfjs } from './engines/tfjs/engine';
import { trainWithTorch } from './engines/torch/engine';
import { openTfjsModel } from './engines/tfjs/evaluate';
import { openTorchModel } from './engines/torch/evaluate';
import { evaluateTasks } from './evaluate/run';
import { writeEvaluation } from './evaluate/write';
import type { EvalHooks } from './evaluate/types';
import { EvaluateJob, message, parseParentMessage, ParentMessage, ProtocolError, TrainerMessage, Unversioned } from './protocol';

let cancelRequested = false;
let started = false;

function send(m: Unversioned<TrainerMessage>): void {
  if (process.connected) process.send?.(message<TrainerMessage>(m));
}

process.on('message', (raw) => {
  let m: ParentMessage;
  try {
    m = parseParentMessage(raw);
  } catch (e) {
    send({ type: 'error', message: (e as Error).message });
    return;
  }
  if (m.type === 'cancel') cancelRequested = true;
  else if (!started) {
    started = true;
    void (m.type === 'start' ? run(m.runDir, m.resume) : evaluate(m.job));
  }
});
// A terminal's Ctrl-C or the extension's cancel of a re-attached run arrive as signals: both mean "stop gracefully".
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => (cancelRequested = true));
// The parent going away (a window reload) is not a reason to stop: the run goes on and is re-attached.
process.on('disconnect', () => undefined);

send({ type: 'hello', pid: process.pid, engine: 'tfjs' });
if (!process.send) {
  process.stderr.write('The TAIA trainer is started by the extension or by `taia train`, which speak to it over an IPC channel.\n');
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
    if (resume) log('info', newest ? `resuming from ${path.relative(runDir, newest.dir)}, the newest complete checkpoint` : 'no complete checkpoint: starting again from step 0');
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
    });
    log('info', `${resume ? 'resuming' : 'starting'} run ${previous.id}: ${config.train.method} fine-tuning of ${config.base} on ${config.dataset}`);
    const t0 = performance.now();
    const train = config.engine === 'torch' ? trainWithTorch : trainWithTfjs;
    const result = await train(runDir, config, resume, {
      started: async (info) => {
        log('info', `backend ${info.backend}; ${info.examples} examples; ${info.trainableParameters.toLocaleString('en')} of ${info.parameters.toLocaleString('en')} parameters trained; steps ${info.startStep}→${info.totalSteps}`);
        firstStep = info.startStep;
        await updateStatus(runDir, { backend: info.backend, totalSteps: info.totalSteps, step: info.startStep });
        send({ type: 'started', runId: previous.id, ...info });
      },
      step: async (s) => {
        const elapsed = (performance.now() - t0) / 1000;
        if (s.step % config.train.logging_steps === 0 || s.step === s.totalSteps) {
          await appendMetric(runDir, { step: s.step, epoch: s.epoch, loss: s.loss, lr: s.lr, gradNorm: s.gradNorm, tokensPerSecond: s.tokensPerSecond, liveTensors: s.liveTensors, gpuMemory: s.gpuMemory, elapsed, time: new Date().toISOString() });
        }
        // status.json is what other windows poll; once a second is plenty.
        if (performance.now() - lastStatusWrite > 1000 || s.step === s.totalSteps) {
          lastStatusWrite = performance.now();
          await updateStatus(runDir, { step: s.step, totalSteps: s.totalSteps });
        }
        const perStep = elapsed / Math.max(1, s.step - firstStep);
        send({ type: 'progress', step: s.step, totalSteps: s.totalSteps, epoch: s.epoch, loss: s.loss, lr: s.lr, gradNorm: s.gradNorm, tokensPerSecond: s.tokensPerSecond, etaSeconds: perStep * (s.totalSteps - s.step) });
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
    await updateStatus(runDir, { state: result.state, step: result.step, finalLoss: result.finalLoss, lastCheckpoint: checkpoint, endedAt: new Date().toISOString(), pid: undefined });
    log('info', `${result.state === 'done' ? 'finished' : 'cancelled'} at step ${result.step}${result.finalLoss !== undefined ? `, loss ${result.finalLoss.toFixed(4)}` : ''}`);
    send({ type: 'done', state: result.state, step: result.step, finalLoss: result.finalLoss, checkpoint: result.checkpoint });
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
      started: (info) => send({ type: 'log', level: 'info', message: `evaluating ${job.checkpoint} on ${job.tasks.length} task(s), ${info.examples} examples; backend ${info.backend}` }),
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
    send({ type: 'done', state: 'done', step: done, results: written });
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
