// `engine: command`: any training command (llamafactory-cli, axolotl, accelerate launch, torchrun, a
// script) run as a child process group of the trainer. Metrics come from its output_dir
// (checkpoint-N/trainer_state.json, as the HF Trainer writes them) and, before anything is written
// there, from the Trainer's log dicts on stdout; checkpoints are the output_dir's checkpoint-N folders.
import { ChildProcess, spawn } from 'node:child_process';
import { open, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { latestTrainerState, trainerCheckpoints } from '../../../core/runs/external/hfTrainer';
import { parseLogDict, parseProgress } from '../../../core/runs/external/trainerLog';
import { updateStatus } from '../../../core/runs/store';
import type { RunConfig } from '../../../core/runs/types';
import { TRAINER_STATE_FILE } from '../../../core/runs/types';
import { TRAINER_OUTPUT_FILE } from '../../client';
import type { EngineHooks, EngineResult } from '../types';

const POLL_MS = 1000;
type StopSignal = NonNullable<EngineResult['stopSignal']>;

/** The command as a program and its arguments: a list runs directly, a string through /bin/sh. */
export function commandArgv(command: string | string[]): string[] {
  return typeof command === 'string' ? ['/bin/sh', '-c', command] : command;
}

/**
 * Lines appended to a file since the last call. tqdm redraws its bar with \r, so that ends a line
 * too; a line still being written waits for the next call.
 */
function tail(file: string, from: number): () => Promise<string[]> {
  let offset = from;
  let rest = '';
  return async () => {
    const handle = await open(file, 'r').catch(() => undefined);
    if (!handle) return [];
    try {
      const { size } = await handle.stat();
      if (size <= offset) return [];
      const buf = Buffer.alloc(size - offset);
      await handle.read(buf, 0, buf.length, offset);
      offset = size;
      const parts = (rest + buf.toString('utf-8')).split(/\r\n|\r|\n/);
      rest = parts.pop() ?? '';
      return parts;
    } finally {
      await handle.close();
    }
  };
}

export async function trainWithCommand(
  runDir: string,
  config: RunConfig,
  resume: boolean,
  hooks: EngineHooks,
): Promise<EngineResult> {
  const argv = commandArgv(config.command);
  const outputDir = config.output_dir || undefined;
  await updateStatus(runDir, { outputDir });
  if (resume)
    hooks.log(
      'running the command again; whether it continues from its last checkpoint is up to the tool (e.g. resume_from_checkpoint)',
    );
  hooks.log(`running ${JSON.stringify(argv)} in ${config.cwd}${outputDir ? `, following ${outputDir}` : ''}`);

  // The command writes into trainer.out through this process's own stdout and stderr: one file keeps
  // its progress bar and log lines in the order it wrote them, and it can go on if this process dies.
  const outFile = path.join(runDir, TRAINER_OUTPUT_FILE);
  const readLines = tail(outFile, (await stat(outFile).catch(() => undefined))?.size ?? 0);
  let child: ChildProcess;
  try {
    // Its own process group (detached), so a cancel reaches every process it starts (torchrun workers, dataloaders).
    child = spawn(argv[0], argv.slice(1), {
      cwd: config.cwd,
      env: { PYTHONUNBUFFERED: '1', ...process.env, ...config.env },
      stdio: ['ignore', 1, 2],
      detached: true,
    });
  } catch (e) {
    throw new Error(`cannot start ${argv[0]}: ${(e as Error).message}`, { cause: e });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.on('error', (error) => resolve({ code: null, signal: null, error }));
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });

  let lastStep = -1;
  let totalSteps = 0;
  let barStep: number | undefined;
  let barTotal: number | undefined;
  let unstepped = 0;
  let finalLoss: number | undefined;
  let started = false;
  const seenCheckpoints = new Set<string>();
  // Hooks write files; one at a time keeps metrics.jsonl in step order.
  let queue = Promise.resolve();
  const enqueue = (task: () => Promise<void>) =>
    (queue = queue.then(task).catch((e: unknown) => hooks.log(`warning: ${(e as Error).message}`)));

  const start = async () => {
    if (started) return;
    started = true;
    await hooks.started({
      backend: `command: ${path.basename(argv[0])}`,
      totalSteps,
      startStep: 0,
      parameters: 0,
      trainableParameters: 0,
      examples: 0,
      command: argv.join(' '),
    });
  };
  const record = async (r: { step: number; epoch?: number; loss: number; lr?: number; gradNorm?: number }) => {
    if (r.step <= lastStep) return;
    await start();
    lastStep = r.step;
    finalLoss = r.loss;
    await hooks.step({
      step: r.step,
      totalSteps: Math.max(totalSteps, r.step),
      epoch: r.epoch,
      loss: r.loss,
      lr: r.lr,
      gradNorm: r.gradNorm,
    });
  };

  const onLine = (line: string) => {
    const p = parseProgress(line);
    // The first bar is the training loop's; evaluation bars that follow have their own totals.
    if (p && (barTotal === undefined || p.total === barTotal)) {
      barTotal = p.total;
      barStep = p.step;
      totalSteps = Math.max(totalSteps, p.total);
    }
    const d = parseLogDict(line);
    if (!d) return;
    const num = (k: string) => (typeof d[k] === 'number' ? (d[k] as number) : undefined);
    if (num('train_loss') !== undefined) finalLoss = num('train_loss');
    const loss = num('loss');
    if (loss === undefined) return;
    // The step: the dict's own, else the progress bar's. Without either (tqdm turned off) a count of log
    // lines would not be the step, so those metrics wait for the checkpoints' trainer_state.json.
    const step = num('step') ?? barStep;
    if (step === undefined) {
      if (!unstepped++)
        hooks.log(
          `log lines carry no step (no progress bar): metrics come from ${outputDir ? "the output_dir's trainer_state.json" : 'nowhere until output_dir is set'}`,
        );
      return;
    }
    return record({ step, epoch: num('epoch'), loss, lr: num('learning_rate'), gradNorm: num('grad_norm') });
  };

  const follow = async () => {
    for (const line of await readLines()) await onLine(line);
    if (!outputDir) return;
    for (const c of await trainerCheckpoints(outputDir)) {
      // A checkpoint is whole once its trainer_state.json is there: the Trainer writes it last.
      if (
        seenCheckpoints.has(c.dir) ||
        !(await stat(path.join(c.dir, TRAINER_STATE_FILE)).then(
          () => true,
          () => false,
        ))
      )
        continue;
      seenCheckpoints.add(c.dir);
      await start();
      await hooks.checkpoint(c.step, c.dir);
    }
    const { state } = await latestTrainerState(outputDir);
    if (!state) return;
    if (state.maxSteps) totalSteps = state.maxSteps;
    for (const m of state.metrics) await record(m);
    finalLoss = state.summary?.train_loss ?? finalLoss;
  };
  let following = false;
  const followOnce = () => {
    if (following) return;
    following = true;
    enqueue(() => follow().finally(() => (following = false)));
  };

  let stopSignal: StopSignal | undefined;
  let escalation: NodeJS.Timeout | undefined;
  const graceMs = config.cancel_grace_seconds * 1000;
  const signalGroup = (signal: StopSignal) => {
    try {
      process.kill(-child.pid!, signal);
      stopSignal = signal;
      hooks.log(`sent ${signal} to the command's process group`);
    } catch {
      // The group is gone already.
    }
  };
  let ticks = 0;
  // Cancel is checked often, the output folder once a second.
  const poll = setInterval(() => {
    if (ticks++ % 5 === 0 || stopSignal) followOnce();
    if (stopSignal || !hooks.cancelled() || child.pid === undefined) return;
    // SIGINT first: the HF Trainer (and Python) stop on it; then SIGTERM; then SIGKILL.
    signalGroup('SIGINT');
    escalation = setTimeout(() => {
      signalGroup('SIGTERM');
      escalation = setTimeout(() => signalGroup('SIGKILL'), graceMs);
    }, graceMs);
  }, POLL_MS / 5);

  const exit = await exited;
  clearInterval(poll);
  clearTimeout(escalation);
  enqueue(follow);
  await queue;
  if (exit.error) throw new Error(`cannot run ${argv[0]}: ${exit.error.message}`);
  const checkpoints = [...seenCheckpoints];
  const result = { step: Math.max(lastStep, 0), finalLoss, checkpoint: checkpoints.at(-1), stopSignal };
  if (stopSignal) return { state: 'cancelled', ...result };
  if (exit.code !== 0)
    throw new Error(
      `the command exited ${exit.signal ? `on ${exit.signal}` : `with code ${exit.code}`} (its output is in trainer.out)`,
    );
  return { state: 'done', ...result };
}
