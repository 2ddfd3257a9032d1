// The trainer end to end: real child processes (dist/trainer.js) training a tiny generated model.
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { loadExperiment } from '../../src/core/experiment/load';
import { builtinRecipe } from '../../src/core/merge/recipes';
import { planMerge } from '../../src/core/merge/plan';
import { executeMerge } from '../../src/core/merge/execute';
import { createRun, readMetrics, readStatus } from '../../src/core/runs/store';
import { SafetensorsFile } from '../../src/core/safetensors/reader';
import { launchTrainer, TrainerHandle } from '../../src/trainer/client';
import { TrainerMessage } from '../../src/trainer/protocol';
import { tempDir } from '../helpers/tmp';
import { writeAlpacaDataset, writeExperiment, writeTinyModel } from '../helpers/training';

const TRAINER = path.resolve(__dirname, '../../../dist/trainer.js');

/** A workspace with a model, a dataset and an experiment; returns a prepared run folder. */
async function prepare(overrides: Record<string, unknown> = {}, rows = 40): Promise<{ root: string; runDir: string }> {
  const root = tempDir('taia-train-');
  writeTinyModel(path.join(root, 'model'));
  writeAlpacaDataset(path.join(root, 'data/train.jsonl'), rows);
  writeExperiment(path.join(root, 'exp.taia.yaml'), overrides);
  const config = await loadExperiment(path.join(root, 'exp.taia.yaml'));
  return { root, runDir: (await createRun(root, config)).dir };
}

function train(
  runDir: string,
  resume = false,
  onMessage: (m: TrainerMessage, h: TrainerHandle) => void = () => undefined,
  script = TRAINER,
) {
  const messages: TrainerMessage[] = [];
  const handle: TrainerHandle = launchTrainer({
    script,
    job: { runDir, resume },
    onMessage: (m) => (messages.push(m), onMessage(m, handle)),
  });
  return { handle, messages, outcome: handle.outcome };
}

describe('trainer child process', () => {
  it('full fine-tuning lowers the loss, keeps tensor count flat and writes a checkpoint the TAIA merge accepts', async () => {
    const { root, runDir } = await prepare({ train: { max_steps: 24 } });
    const { outcome, messages } = train(runDir);
    assert.deepEqual(await outcome, { state: 'done' });
    const metrics = await readMetrics(runDir);
    assert.equal(metrics.length, 24);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = mean(metrics.slice(0, 3).map((m) => m.loss));
    const last = mean(metrics.slice(-3).map((m) => m.loss));
    assert.ok(last < 0.6 * first, `loss went from ${first} to ${last}`);
    assert.equal(new Set(metrics.map((m) => m.liveTensors)).size, 1, 'tensors leaked across steps');
    const status = await readStatus(runDir);
    assert.equal(status.state, 'done');
    assert.equal(status.lastCheckpoint, 'checkpoints/checkpoint-24');
    assert.match(status.backend ?? '', /^tfjs wasm/);
    assert.ok(messages.some((m) => m.type === 'started') && messages.at(-1)?.type === 'done');

    const ckpt = path.join(runDir, status.lastCheckpoint!);
    for (const f of [
      'config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
      'optimizer.safetensors',
      'trainer_state.json',
    ])
      assert.ok(existsSync(path.join(ckpt, f)), f);
    const plan = await planMerge({
      base: path.join(root, 'model'),
      finetuned: ckpt,
      out: path.join(root, 'taia'),
      recipe: builtinRecipe('taia')!,
    });
    await executeMerge(plan);
    const merged = await SafetensorsFile.open(path.join(root, 'taia', 'model.safetensors'));
    const trained = await SafetensorsFile.open(path.join(ckpt, 'model.safetensors'));
    const base = await SafetensorsFile.open(path.join(root, 'model', 'model.safetensors'));
    try {
      // TAIA: attention from the fine-tune, FFN from the base; and training did change both.
      const q = 'model.layers.0.self_attn.q_proj.weight';
      const up = 'model.layers.0.mlp.up_proj.weight';
      assert.deepEqual(await merged.read(q), await trained.read(q));
      assert.deepEqual(await merged.read(up), await base.read(up));
      assert.notDeepEqual(await trained.read(up), await base.read(up));
    } finally {
      await Promise.all([merged.close(), trained.close(), base.close()]);
    }
  });

  it('LoRA writes a PEFT adapter that the merge folds, and leaves the base alone', async () => {
    const { root, runDir } = await prepare({
      train: { method: 'lora', max_steps: 16, learning_rate: 0.02 },
      lora: { r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj', 'up_proj'] },
    });
    assert.deepEqual(await train(runDir).outcome, { state: 'done' });
    const metrics = await readMetrics(runDir);
    assert.ok(metrics.at(-1)!.loss < metrics[0].loss, 'LoRA did not lower the loss');
    const ckpt = path.join(runDir, 'checkpoints/checkpoint-16');
    const adapterConfig = JSON.parse(readFileSync(path.join(ckpt, 'adapter_config.json'), 'utf-8'));
    assert.equal(adapterConfig.peft_type, 'LORA');
    assert.equal(adapterConfig.r, 4);
    const adapter = await SafetensorsFile.open(path.join(ckpt, 'adapter_model.safetensors'));
    try {
      const names = adapter.tensors.map((t) => t.name);
      assert.equal(names.length, 2 * 2 * 3);
      assert.ok(names.includes('base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight'));
      assert.deepEqual(adapter.tensor('base_model.model.model.layers.0.mlp.up_proj.lora_A.weight').shape, [4, 32]);
    } finally {
      await adapter.close();
    }
    const plan = await planMerge({
      base: path.join(root, 'model'),
      finetuned: ckpt,
      out: path.join(root, 'full'),
      recipe: builtinRecipe('full')!,
    });
    await executeMerge(plan);
    assert.ok(existsSync(path.join(root, 'full', 'model.safetensors')));
  });

  const resumable = [
    {
      what: 'full fine-tuning',
      file: 'model.safetensors',
      settings: {
        train: { max_steps: 12, lr_scheduler_type: 'cosine', warmup_steps: 2, gradient_accumulation_steps: 2 },
      },
    },
    {
      what: 'LoRA with dropout',
      file: 'adapter_model.safetensors',
      settings: {
        train: { method: 'lora', max_steps: 12, learning_rate: 0.01, gradient_accumulation_steps: 2 },
        lora: { r: 4, lora_alpha: 8, lora_dropout: 0.2 },
      },
    },
  ];
  for (const { what, file, settings } of resumable) {
    it(`${what}: cancel keeps a checkpoint, and resume finishes with exactly the weights of an uninterrupted run`, async () => {
      const straight = await prepare(settings);
      assert.deepEqual(await train(straight.runDir).outcome, { state: 'done' });

      const { runDir } = await prepare(settings);
      const first = train(runDir, false, (m, h) => m.type === 'progress' && m.step === 5 && h.cancel());
      assert.deepEqual(await first.outcome, { state: 'cancelled' });
      const cancelled = await readStatus(runDir);
      assert.equal(cancelled.state, 'cancelled');
      assert.ok(cancelled.step >= 5 && cancelled.step < 12, `stopped at ${cancelled.step}`);
      assert.ok(existsSync(path.join(runDir, cancelled.lastCheckpoint!, file)));

      assert.deepEqual(await train(runDir, true).outcome, { state: 'done' });
      const resumed = await readStatus(runDir);
      assert.equal(resumed.state, 'done');
      assert.equal(resumed.resumes, 1);
      const weights = (dir: string) => readFileSync(path.join(dir, 'checkpoints/checkpoint-12', file));
      assert.ok(weights(runDir).equals(weights(straight.runDir)), 'resumed run differs from the uninterrupted one');
      // Every step logged once: the resumed part continues the metrics, it does not repeat or skip steps.
      assert.deepEqual(
        (await readMetrics(runDir)).map((m) => m.step),
        Array.from({ length: 12 }, (_, k) => k + 1),
      );
    });
  }

  it('a killed trainer marks the run failed with the tail of its output', async () => {
    const { runDir } = await prepare({ train: { max_steps: 100000 } });
    const { outcome } = train(
      runDir,
      false,
      (m, h) => m.type === 'progress' && m.step === 2 && process.kill(h.pid, 'SIGKILL'),
    );
    const result = await outcome;
    assert.equal(result.state, 'failed');
    assert.match(result.error!, /exited on SIGKILL/);
    const status = await readStatus(runDir);
    assert.equal(status.state, 'failed');
    assert.match(status.error!, /SIGKILL/);
  });

  it('a corrupt dataset line fails the run with its file and line number', async () => {
    const { root, runDir } = await prepare();
    const data = path.join(root, 'data/train.jsonl');
    const lines = readFileSync(data, 'utf-8').split('\n');
    lines[4] = '{"instruction": "broken", "output": ';
    writeFileSync(data, lines.join('\n'));
    const result = await train(runDir).outcome;
    assert.equal(result.state, 'failed');
    const status = await readStatus(runDir);
    assert.match(status.error!, /train\.jsonl.*line 5/);
  });

  it('a trainer speaking another protocol version is a clear error, not a hang', async () => {
    const { root, runDir } = await prepare();
    const fake = path.join(root, 'old-trainer.js');
    writeFileSync(
      fake,
      "process.send({ v: 99, type: 'hello', pid: process.pid, engine: 'tfjs' }); setInterval(() => {}, 1000);\n",
    );
    const result = await train(runDir, false, undefined, fake).outcome;
    assert.equal(result.state, 'failed');
    assert.match(result.error!, /version 99 received, this side speaks \d+/);
    assert.match((await readStatus(runDir)).error!, /version 99/);
  });
});
