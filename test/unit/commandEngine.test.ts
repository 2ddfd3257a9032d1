// `engine: command` end to end with real processes: the trainer child (dist/trainer.js) runs a script
// that behaves like the Hugging Face Trainer (progress bar, log dicts, checkpoint-N/ with
// trainer_state.json and safetensors, SIGINT handling) and follows it; cancel escalates SIGINT →
// SIGTERM → SIGKILL on its process group; the trainer outlives the process that launched it.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { ExperimentError, loadExperiment } from '../../src/core/experiment/load';
import { parseExperiment } from '../../src/core/experiment/validate';
import { builtinRecipe } from '../../src/core/merge/recipes';
import { executeMerge } from '../../src/core/merge/execute';
import { planMerge } from '../../src/core/merge/plan';
import { parseLogDict, parseProgress } from '../../src/core/runs/external/trainerLog';
import { createRun, isAlive, latestRunOf, readMetrics, readStatus } from '../../src/core/runs/store';
import { readRunData } from '../../src/core/runs/view';
import { launchTrainer, TRAINER_OUTPUT_FILE } from '../../src/trainer/client';
import { TrainerMessage } from '../../src/trainer/protocol';
import { eventually } from '../helpers/eventually';
import { tempDir } from '../helpers/tmp';
import { writeTinyModel } from '../helpers/training';

const TRAINER = path.resolve(__dirname, '../../../dist/trainer.js');
const SCRIPT = path.resolve(__dirname, '../../../test/fixtures/commands/hf_trainer_like.py');
const PYTHON = process.env.TAIA_TEST_PYTHON ?? 'python3';

/** A workspace with an `engine: command` experiment running the Trainer-like script; returns its run folder. */
async function prepare(args: string[], extra: Record<string, unknown> = {}) {
  const root = tempDir('taia-cmd-');
  const file = path.join(root, 'llamafactory-like.taia.yaml');
  writeFileSync(
    file,
    stringify({
      name: 'cmd',
      engine: 'command',
      command: [PYTHON, SCRIPT, '--output_dir', 'saves/lora', ...args],
      output_dir: 'saves/lora',
      ...extra,
    }),
  );
  const config = await loadExperiment(file);
  return { root, file, config, runDir: (await createRun(root, config)).dir };
}

function train(runDir: string, onMessage: (m: TrainerMessage) => void = () => undefined) {
  return launchTrainer({ script: TRAINER, job: { runDir, resume: false }, onMessage });
}

describe('Trainer log lines', () => {
  it("parses the Trainer's log dicts as Python literals, never evaluating them", () => {
    assert.deepEqual(
      parseLogDict("{'loss': 1.7375, 'grad_norm': 0.5, 'learning_rate': 1.3333333333333337e-05, 'epoch': 0.33}"),
      { loss: 1.7375, grad_norm: 0.5, learning_rate: 1.3333333333333337e-5, epoch: 0.33 },
    );
    // Newer transformers print formatted strings; nan, inf, booleans, None and quotes inside strings.
    assert.deepEqual(
      parseLogDict("  {'loss': '1.234', 'grad_norm': nan, 'x': -inf, 'ok': True, 'n': None, 's': 'a, \\'b\\''}"),
      { loss: 1.234, grad_norm: NaN, x: -Infinity, ok: true, n: null, s: "a, 'b'" },
    );
    for (const bad of [
      "{'loss': __import__('os').system('x')}",
      "{'loss': 1.2",
      'loss: 1',
      '{}',
      "{'a': 1} trailing {'b'}",
    ])
      assert.equal(parseLogDict(bad), undefined, bad);
    assert.deepEqual(parseProgress(' 33%|###       | 2/6 [00:00<00:00, 10.00it/s]'), { step: 2, total: 6 });
    assert.equal(parseProgress('loading 2/6 shards'), undefined);
  });
});

describe('engine: command experiments', () => {
  it('needs a command instead of a base and a dataset, and checks its keys', () => {
    const ok = parseExperiment('engine: command\ncommand: [llamafactory-cli, train, cfg.yaml]\n', 'x.taia.yaml');
    assert.deepEqual(ok.problems, []);
    assert.deepEqual(ok.config.command, ['llamafactory-cli', 'train', 'cfg.yaml']);
    const missing = parseExperiment('engine: command\n', 'x.taia.yaml').problems.map((p) => p.message);
    assert.deepEqual(missing, ["'command': is required with engine command"]);
    const bad = parseExperiment('engine: command\ncommand: []\nenv: {"1X": a, Y: [1]}\n', 'x').problems.map(
      (p) => p.message,
    );
    assert.deepEqual(bad, [
      "'command': expected a program to run, got an empty list",
      "'env': '1X' is not a variable name",
    ]);
    assert.deepEqual(
      parseExperiment('engine: command\ncommand: "accelerate launch train.py"\nenv: {Y: [1]}\n', 'x').problems.map(
        (p) => p.message,
      ),
      ["'env': 'Y' must be a string, number or boolean, got a list"],
    );
    // The built-in engines still need their base and dataset.
    assert.deepEqual(
      parseExperiment('command: [x]\n', 'x')
        .problems.map((p) => p.message)
        .sort(),
      ["'base': is required with engine tfjs", "'dataset': is required with engine tfjs"],
    );
  });

  it('resolves cwd and output_dir against the experiment file and refuses a missing cwd', async () => {
    const { root, config } = await prepare([], { cwd: '.', env: { SEED: 3 } });
    assert.equal(config.cwd, root);
    assert.equal(config.output_dir, path.join(root, 'saves/lora'));
    assert.deepEqual(config.env, { SEED: '3' });
    writeFileSync(path.join(root, 'b.taia.yaml'), 'engine: command\ncommand: [x]\ncwd: nowhere\n');
    await assert.rejects(loadExperiment(path.join(root, 'b.taia.yaml')), (e: ExperimentError) =>
      /b\.taia\.yaml:3:1: 'cwd': .*nowhere does not exist/.test(e.message),
    );
  });
});

describe('engine: command runs', () => {
  it('runs the command, takes metrics from its log lines and checkpoints from its output_dir, and the run merges with TAIA', async () => {
    const { root, file, runDir } = await prepare([
      '--max_steps',
      '12',
      '--save_steps',
      '4',
      '--logging_steps',
      '2',
      '--base',
      'model',
    ]);
    writeTinyModel(path.join(root, 'model'));
    writeFileSync(file, readFileSync(file, 'utf-8') + 'base: model\n');
    const messages: TrainerMessage[] = [];
    const outcome = await train(runDir, (m) => messages.push(m)).outcome;
    assert.deepEqual(outcome, { state: 'done' }, readFileSync(path.join(runDir, TRAINER_OUTPUT_FILE), 'utf-8'));
    const metrics = await readMetrics(runDir);
    assert.deepEqual(
      metrics.map((m) => m.step),
      [2, 4, 6, 8, 10, 12],
    );
    assert.equal(metrics[0].loss, 1.7375);
    assert.equal(metrics[0].gradNorm, 0.5);
    assert.equal(metrics[0].epoch, 0.17);
    const status = await readStatus(runDir);
    assert.equal(status.state, 'done');
    assert.equal(status.totalSteps, 12);
    assert.equal(status.outputDir, path.join(root, 'saves/lora'));
    assert.equal(path.resolve(runDir, status.lastCheckpoint!), path.join(root, 'saves/lora/checkpoint-12'));
    assert.equal(status.finalLoss, metrics.at(-1)!.loss);
    assert.deepEqual(
      messages.filter((m) => m.type === 'checkpoint').map((m) => (m as { step: number }).step),
      [4, 8, 12],
    );
    assert.match(readFileSync(path.join(runDir, TRAINER_OUTPUT_FILE), 'utf-8'), /\{'loss': 1\.7375, /);
    // The dashboard's view of it: the tool's settings from trainer_state.json beside the run's own metrics.
    const data = await readRunData(runDir, root);
    assert.equal((data.hyperparameters?.trainer_state as { save_steps: number }).save_steps, 4);
    assert.ok(
      data.notes?.every((n) => !/training_args/.test(n)),
      'the output folder has no training_args.bin of its own',
    );
    // Merge from the run, as the Merge lens of the experiment does it (the base comes from the experiment).
    const run = (await latestRunOf(root, file))!;
    const plan = await planMerge({
      base: path.join(root, 'model'),
      finetuned: run.checkpoint,
      out: path.join(root, 'taia'),
      recipe: builtinRecipe('taia')!,
    });
    await executeMerge(plan);
    assert.ok(existsSync(path.join(root, 'taia', 'model.safetensors')));
  });

  it("without log lines, or without steps on them, the metrics come from the checkpoints' trainer_state.json; a failing command fails the run", async () => {
    for (const flags of [['--quiet', '--no-bar'], ['--no-bar']]) {
      const { runDir } = await prepare(['--max_steps', '6', '--save_steps', '3', '--logging_steps', '2', ...flags]);
      assert.deepEqual(await train(runDir).outcome, { state: 'done' });
      assert.deepEqual(
        (await readMetrics(runDir)).map((m) => m.step),
        [2, 4, 6],
        flags.join(' '),
      );
      if (!flags.includes('--quiet'))
        assert.match(
          readFileSync(path.join(runDir, 'train.log'), 'utf-8'),
          /log lines carry no step \(no progress bar\): metrics come from the output_dir's trainer_state\.json/,
        );
    }
    const failing = await prepare(['--max_steps', '2', '--exit-code', '3']);
    const outcome = await train(failing.runDir).outcome;
    assert.equal(outcome.state, 'failed');
    assert.match(outcome.error!, /the command exited with code 3/);
    assert.equal((await readStatus(failing.runDir)).state, 'failed');
  });

  it('a shell-string command runs through /bin/sh', async () => {
    const root = tempDir('taia-cmd-');
    writeFileSync(
      path.join(root, 's.taia.yaml'),
      stringify({
        engine: 'command',
        command: `${PYTHON} '${SCRIPT}' --output_dir out --max_steps 4 --save_steps 2 && echo shell-ran`,
        output_dir: 'out',
      }),
    );
    const { dir } = await createRun(root, await loadExperiment(path.join(root, 's.taia.yaml')));
    assert.deepEqual(await train(dir).outcome, { state: 'done' });
    assert.match(readFileSync(path.join(dir, TRAINER_OUTPUT_FILE), 'utf-8'), /shell-ran/);
    assert.equal((await readStatus(dir)).lastCheckpoint?.endsWith('checkpoint-4'), true);
  });

  for (const [flags, signal] of [
    [[], 'SIGINT'],
    [['--ignore-sigint'], 'SIGTERM'],
    [['--ignore-sigint', '--ignore-sigterm'], 'SIGKILL'],
  ] as const) {
    it(`cancel stops the command's process group with ${signal}${signal === 'SIGINT' ? ', and the Trainer saves a checkpoint' : ' when it ignores the signals before'}`, async () => {
      // A loaded machine may take a while to save on SIGINT: a long grace there, a short one for the stubborn tools.
      const { runDir } = await prepare(
        ['--max_steps', '100000', '--logging_steps', '1', '--save_steps', '100000', ...flags],
        { cancel_grace_seconds: signal === 'SIGINT' ? 60 : 1 },
      );
      let cancelled = false;
      const handle = train(runDir, (m) => {
        if (m.type === 'progress' && m.step >= 3 && !cancelled) {
          cancelled = true;
          handle.cancel();
        }
      });
      assert.deepEqual(await handle.outcome, { state: 'cancelled' });
      const status = await readStatus(runDir);
      assert.equal(status.state, 'cancelled');
      assert.equal(status.stopSignal, signal);
      if (signal === 'SIGINT') {
        assert.match(status.lastCheckpoint ?? '', /checkpoint-\d+$/);
        assert.ok(existsSync(path.join(path.resolve(runDir, status.lastCheckpoint!), 'trainer_state.json')));
      }
    });
  }

  it('outlives the process that launched it, and a later window cancels it by signalling the trainer', async () => {
    const { runDir } = await prepare([
      '--max_steps',
      '100000',
      '--logging_steps',
      '1',
      '--save_steps',
      '100000',
      '--step_seconds',
      '0.05',
    ]);
    // A stand-in for a window: launches the trainer, waits until it has started, then goes away.
    const client = path.resolve(__dirname, '../../src/trainer/client.js');
    const parent = spawn(
      process.execPath,
      [
        '-e',
        `const { launchTrainer } = require(${JSON.stringify(client)}); launchTrainer({ script: ${JSON.stringify(TRAINER)}, job: { runDir: ${JSON.stringify(runDir)}, resume: false }, onMessage: (m) => m.type === 'started' && process.exit(0) });`,
      ],
      { stdio: 'inherit' },
    );
    assert.equal(await new Promise((r) => parent.on('exit', r)), 0);
    const running = await readStatus(runDir);
    assert.equal(running.state, 'running');
    assert.ok(running.pid && isAlive(running.pid), 'the trainer is alive after its parent exited');
    // It goes on: more steps are recorded with no parent at all.
    const before = (await readMetrics(runDir)).length;
    await eventually(async () => assert.ok((await readMetrics(runDir)).length >= before + 5), 60000);
    // A reloaded window cancels a run it did not start with SIGTERM to the trainer, which stops the command gracefully.
    process.kill(running.pid!, 'SIGTERM');
    const done = await eventually(async () => {
      const s = await readStatus(runDir);
      assert.equal(s.state, 'cancelled');
      return s;
    }, 60000);
    assert.equal(done.stopSignal, 'SIGINT');
    assert.match(done.lastCheckpoint ?? '', /checkpoint-\d+$/);
  });
});
