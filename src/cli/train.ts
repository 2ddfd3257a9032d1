import { parseArgs } from 'node:util';
import * as path from 'node:path';
import { ExperimentError, loadExperiment } from '../core/experiment/load';
import { createRun, newRunId, readRunConfig, readStatus, reconcileStatus } from '../core/runs/store';
import { RUNS_DIR } from '../core/runs/types';
import { SlurmError } from '../core/slurm/commands';
import { submitRun, trainingScript } from '../core/slurm/submit';
import { cliLaunch, followRunInTerminal } from './slurm';
import { launchTrainer, TrainerHandle } from '../trainer/client';
import { TrainerMessage } from '../trainer/protocol';
import { ProgressLine } from './progress';
import { Command, UsageError } from './usage';

export const trainCommand: Command = {
  name: 'train',
  summary: 'fine-tune from an experiment file in a child-process trainer; Ctrl-C saves a checkpoint and stops',
  usage:
    "taia train EXPERIMENT.taia.yaml [--root DIR] [--allow-outside-workspace] [--dry-run] [--detach] [--quiet]\n       taia train --resume RUN_DIR [--detach] [--quiet]\n\n  --root DIR   workspace folder whose .taia/runs/ receives the run (default: the current folder)\n  --allow-outside-workspace  let the experiment's base, dataset, recipe and eval tasks lie outside the workspace\n  --resume     continue a cancelled, interrupted, failed or timed-out run from its last checkpoint\n  --dry-run    print what would run (for launcher: slurm, the job script) and create nothing\n  --detach     launcher: slurm: submit and return; otherwise the job is followed until it ends (Ctrl-C stops following)\n  engine: torch runs Python from $TAIA_PYTHON (default python3) with torch, transformers and peft",
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        root: { type: 'string' },
        resume: { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
        'dry-run': { type: 'boolean' },
        detach: { type: 'boolean' },
        'allow-outside-workspace': { type: 'boolean' },
      },
    });
    const quiet = values.quiet === true;
    let runDir: string;
    if (values.resume) {
      if (positionals.length) throw new UsageError('--resume takes a run folder and no experiment file');
      runDir = path.resolve(values.resume);
      // A run whose trainer is gone (taia train and the trainer both killed) is interrupted, not running.
      const status = await reconcileStatus(runDir);
      if (status.state === 'running' || status.state === 'pending' || status.state === 'done')
        throw new UsageError(
          `run ${status.id} is ${status.state}; only cancelled, interrupted, failed or timed-out runs resume`,
        );
      // A Slurm run resumes as a new job, which finds the checkpoint by itself.
      if ((await readRunConfig(runDir)).launcher === 'slurm')
        return submitAndFollow(runDir, values.detach === true, quiet);
    } else {
      if (positionals.length !== 1) throw new UsageError('expected one experiment file');
      let config;
      try {
        const workspace = values['allow-outside-workspace'] ? undefined : path.resolve(values.root ?? '.');
        config = await loadExperiment(path.resolve(positionals[0]), {
          workspace,
          allowHint: 'pass --allow-outside-workspace',
        });
      } catch (e) {
        if (!(e instanceof ExperimentError)) throw e;
        process.stderr.write(`${e.message}\n`);
        return 2;
      }
      const root = path.resolve(values.root ?? '.');
      if (values['dry-run']) {
        const where = path.join(root, RUNS_DIR, newRunId(config.name));
        process.stdout.write(
          config.launcher === 'slurm'
            ? trainingScript(where, config, cliLaunch())
            : `${JSON.stringify(config, null, 2)}\n(launcher: local: the trainer would run here, in ${where})\n`,
        );
        return 0;
      }
      runDir = (await createRun(root, config)).dir;
      if (config.launcher === 'slurm') return submitAndFollow(runDir, values.detach === true, quiet);
    }
    process.stderr.write(`run folder: ${runDir}\n`);
    return trainInTerminal(runDir, values.resume !== undefined, quiet);
  },
};

async function submitAndFollow(runDir: string, detach: boolean, quiet: boolean): Promise<number> {
  let status;
  try {
    status = await submitRun(runDir, await readRunConfig(runDir), cliLaunch());
  } catch (e) {
    if (!(e instanceof SlurmError)) throw e;
    process.stderr.write(`taia: the job was not submitted: ${e.message}\nrun folder: ${runDir}\n`);
    return 1;
  }
  process.stderr.write(
    `run folder: ${runDir}\nsubmitted Slurm job ${status.slurm?.jobId} (script: ${status.slurm?.script}; output: ${status.slurm?.output})\n`,
  );
  if (detach) {
    process.stdout.write(`${status.slurm?.jobId}\n`);
    return 0;
  }
  return followRunInTerminal(runDir, quiet);
}

async function trainInTerminal(runDir: string, resume: boolean, quiet: boolean): Promise<number> {
  const progress = new ProgressLine('train', quiet, (n) => (Number.isInteger(n) ? String(n) : n.toFixed(2)));
  let detail = '';
  const handle: TrainerHandle = launchTrainer({
    script: path.join(__dirname, 'trainer.js'),
    job: { runDir, resume },
    onMessage: (m: TrainerMessage) => {
      if (m.type === 'progress') {
        detail = [
          `loss ${m.loss.toFixed(4)}`,
          m.lr !== undefined && `lr ${m.lr.toExponential(2)}`,
          m.tokensPerSecond !== undefined && `${Math.round(m.tokensPerSecond)} tok/s`,
          `ETA ${Math.round(m.etaSeconds)} s`,
        ]
          .filter(Boolean)
          .join(' ');
        progress.update(m.step, m.totalSteps, detail);
      } else if (m.type === 'log' && !quiet) {
        progress.done();
        process.stderr.write(`${m.level === 'info' ? '' : `${m.level}: `}${m.message}\n`);
      }
    },
  });
  // First Ctrl-C: graceful (finish the step, save, stop). Second: stop now.
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    progress.done();
    process.stderr.write(
      interrupts === 1
        ? 'stopping after this step and saving a checkpoint (Ctrl-C again to kill)\n'
        : 'killing the trainer\n',
    );
    if (interrupts === 1) handle.cancel();
    else handle.kill();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const outcome = await handle.outcome;
    progress.done();
    const status = await readStatus(runDir);
    if (outcome.state === 'failed') {
      process.stderr.write(`taia: training failed: ${outcome.error}\n`);
      return 1;
    }
    const where = status.lastCheckpoint ? path.join(runDir, status.lastCheckpoint) : '(no checkpoint)';
    process.stdout.write(
      `${status.state} at step ${status.step}/${status.totalSteps ?? '?'}${status.finalLoss !== undefined ? `, loss ${status.finalLoss.toFixed(4)}` : ''}\ncheckpoint: ${where}\n`,
    );
    return outcome.state === 'cancelled' ? 130 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
