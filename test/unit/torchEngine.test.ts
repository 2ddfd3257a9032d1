// The PyTorch engine's plumbing, with the Python side wherever it can run here: the environment check
// of the real script, run bookkeeping through a stand-in interpreter that speaks the engine protocol,
// and a real transformers run only where transformers and peft are installed (never in CI).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { loadExperiment } from '../../src/core/experiment/load';
import { createRun, readMetrics, readStatus } from '../../src/core/runs/store';
import { launchTrainer } from '../../src/trainer/client';
import { tempDir } from '../helpers/tmp';
import { writeAlpacaDataset, writeExperiment, writeTinyModel } from '../helpers/training';

const TRAINER = path.resolve(__dirname, '../../../dist/trainer.js');
const SCRIPT = path.resolve(__dirname, '../../../dist/torch/taia_torch_trainer.py');

async function torchRun(python: string, overrides: Record<string, unknown> = {}) {
  const root = tempDir('taia-torch-');
  writeTinyModel(path.join(root, 'model'));
  writeAlpacaDataset(path.join(root, 'data/train.jsonl'), 16);
  writeExperiment(path.join(root, 'exp.taia.yaml'), { engine: 'torch', ...overrides });
  const { dir } = await createRun(root, await loadExperiment(path.join(root, 'exp.taia.yaml')));
  const outcome = await launchTrainer({ script: TRAINER, job: { runDir: dir, resume: false }, onMessage: () => undefined, env: { TAIA_PYTHON: python } }).outcome;
  return { root, dir, outcome };
}

/** An executable wrapper in `dir` that runs `command`, for TAIA_PYTHON (which names one program). */
function wrapper(dir: string, name: string, body: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

describe('PyTorch engine', () => {
  it('checks the environment first and names what is missing, with what to install', async () => {
    // python3 -S hides site-packages, so the check fails the same way on every machine.
    const python = wrapper(tempDir(), 'python-bare', 'exec python3 -S "$@"');
    const { dir, outcome } = await torchRun(python);
    assert.equal(outcome.state, 'failed');
    const status = await readStatus(dir);
    assert.equal(status.state, 'failed');
    assert.match(status.error!, /the PyTorch engine cannot start: torch is not importable by .*pip install 'torch>=2\.0'/);
    assert.match(status.error!, /transformers is not importable/);
    assert.match(status.error!, /peft is not importable/);
    // The same report from the script's own --check, as JSON.
    const check = spawnSync(python, [SCRIPT, '--check', '--device', 'gpu'], { encoding: 'utf-8' });
    assert.equal(check.status, 3);
    const report = JSON.parse(check.stdout);
    assert.equal(report.modules.torch, null);
    assert.ok(report.problems.length >= 4);
  });

  it('keeps the run folder from what the engine reports: metrics, checkpoints, status', async () => {
    // A stand-in for Python that speaks the engine protocol on fd 3 and writes a checkpoint where told.
    const dir = tempDir();
    const fake = path.join(dir, 'fake-engine.js');
    writeFileSync(
      fake,
      `const fs = require('fs'), path = require('path');
const args = process.argv.slice(2); const runDir = args[args.indexOf('--run-dir') + 1];
const tokens = fs.readFileSync(args[args.indexOf('--data') + 1], 'utf-8').trim().split('\\n').map(JSON.parse);
const out = fs.createWriteStream(null, { fd: 3 });
const emit = (m) => out.write(JSON.stringify({ v: 1, ...m }) + '\\n');
emit({ type: 'env', python: 'fake', executable: 'fake', modules: { torch: '2.4' }, cuda: true, gpus: [{ name: 'Fake GPU' }], problems: [] });
emit({ type: 'started', totalSteps: 3, startStep: 0, parameters: 100, trainableParameters: 10, examples: tokens.length, device: 'cuda:0', dtype: 'bfloat16', world: 1 });
for (let s = 1; s <= 3; s++) emit({ type: 'step', step: s, totalSteps: 3, epoch: s / 3, loss: 2 / s, lr: 1e-4, gradNorm: 1, tokensPerSecond: 1000, gpuMemory: 5e9 });
const ck = path.join(runDir, 'checkpoints', 'checkpoint-3'); fs.mkdirSync(ck, { recursive: true });
emit({ type: 'checkpoint', step: 3, path: ck });
emit({ type: 'done', state: 'done', step: 3, checkpoint: ck });
out.end();
`,
    );
    const python = wrapper(dir, 'python-fake', `exec node ${JSON.stringify(fake)} "$@"`);
    const { dir: runDir, outcome } = await torchRun(python);
    assert.deepEqual(outcome, { state: 'done' });
    const status = await readStatus(runDir);
    assert.equal(status.state, 'done');
    assert.equal(status.backend, 'torch on cuda:0 (bfloat16)');
    assert.equal(status.lastCheckpoint, 'checkpoints/checkpoint-3');
    assert.equal(status.finalLoss, 2 / 3);
    const metrics = await readMetrics(runDir);
    assert.deepEqual(metrics.map((m) => m.loss), [2, 1, 2 / 3]);
    assert.equal(metrics[0].gpuMemory, 5e9);
    // The dataset reached the engine tokenized by the same pipeline as the built-in engine.
    assert.ok(existsSync(path.join(runDir, 'data.tokens.jsonl')));
  });

  const hasTransformers = spawnSync('python3', ['-c', 'import torch, transformers, peft, safetensors'], { encoding: 'utf-8' }).status === 0;
  it('fine-tunes a model with transformers and PEFT', { skip: hasTransformers ? false : 'python3 has no torch/transformers/peft here (CI has neither GPU nor transformers); run on a machine that has them' }, async () => {
    const { dir, outcome } = await torchRun('python3', { device: 'cpu', train: { method: 'lora', max_steps: 4 } });
    assert.deepEqual(outcome, { state: 'done' });
    assert.ok(existsSync(path.join(dir, 'checkpoints', 'checkpoint-4', 'adapter_model.safetensors')));
  });
});
