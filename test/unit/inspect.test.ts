import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { detectCheckpointKind, inspectCheckpoint } from '../../src/core/checkpoint/discover';
import { planMerge } from '../../src/core/merge/plan';
import { executeMerge } from '../../src/core/merge/execute';
import { builtinRecipe } from '../../src/core/merge/recipes';
import { DEFAULT_EXCLUDE, scanWorkspace } from '../../src/core/workspace/scan';
import { CheckpointError } from '../../src/core/errors';
import { LlamaShape, llamaTensorShapes, writeAdapter, writeLlama, writeShards } from '../helpers/models';
import { tempDir } from '../helpers/tmp';

const root = tempDir();
const shape: LlamaShape = { layers: 3, hidden: 8, intermediate: 16, vocab: 16, heads: 2 };
const count = llamaTensorShapes(shape).reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);

test('a single-file model: architecture, exact parameters, dtypes, size, layers', async () => {
  const dir = path.join(root, 'models', 'single');
  writeLlama(dir, shape);
  assert.equal(await detectCheckpointKind(dir), 'model');
  const s = await inspectCheckpoint(dir);
  assert.equal(s.architecture, 'LlamaForCausalLM');
  assert.equal(s.modelType, 'llama');
  assert.equal(s.parameters, count);
  assert.deepEqual(s.dtypes, { BF16: count });
  assert.equal(s.sizeBytes, statSync(path.join(dir, 'model.safetensors')).size);
  assert.equal(s.layers, 3);
  assert.equal(s.tensors, llamaTensorShapes(shape).length);
  assert.equal(s.sharded, false);
  assert.deepEqual(s.unknownTensors, []);
});

test('a sharded model, an adapter and a merged output', async () => {
  const sharded = path.join(root, 'models', 'sharded');
  const tensors = writeLlama(sharded, shape);
  writeShards(sharded, tensors, 2);
  // writeLlama wrote model.safetensors too; a sharded folder has only shards and the index.
  rmSync(path.join(sharded, 'model.safetensors'));
  const s = await inspectCheckpoint(sharded);
  assert.equal(s.sharded, true);
  assert.deepEqual(s.files, ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
  assert.equal(s.parameters, count);

  const adapter = path.join(root, 'adapters', 'lora');
  writeAdapter(adapter, llamaTensorShapes(shape), { r: 4, alpha: 16, targets: ['q_proj', 'v_proj', 'down_proj'], rslora: true });
  const a = await inspectCheckpoint(adapter);
  assert.equal(a.kind, 'adapter');
  assert.deepEqual([a.adapter!.r, a.adapter!.alpha, a.adapter!.rsLoRA], [4, 16, true]);
  assert.deepEqual(a.adapter!.loraModules, ['down_proj', 'q_proj', 'v_proj']);
  assert.deepEqual(a.adapter!.targetModules, ['q_proj', 'v_proj', 'down_proj']);

  const ft = path.join(root, 'models', 'ft');
  writeLlama(ft, shape, { seed: 9 });
  const out = path.join(root, 'merged', 'taia');
  await executeMerge(await planMerge({ base: path.join(root, 'models', 'single'), finetuned: ft, out, recipe: builtinRecipe('taia')! }));
  const m = await inspectCheckpoint(out);
  assert.equal(m.kind, 'merged');
  assert.equal(m.merge!.recipe, 'taia');
  assert.deepEqual(m.merge!.inputs.map((i) => i.role), ['base', 'finetuned']);
});

test('unknown tensor names are reported; a folder that is no checkpoint is refused by name', async () => {
  const odd = path.join(root, 'models', 'odd');
  const tensors = writeLlama(odd, shape);
  writeShards(odd, [...tensors, { name: 'model.layers.0.weird_thing.weight', dtype: 'BF16', shape: [2], data: new Uint8Array(4) }], 1);
  assert.deepEqual((await inspectCheckpoint(odd)).unknownTensors, ['model.layers.0.weird_thing.weight']);
  const plain = path.join(root, 'notes');
  mkdirSync(plain);
  writeFileSync(path.join(plain, 'config.json'), '{}');
  assert.equal(await detectCheckpointKind(plain), undefined);
  await assert.rejects(inspectCheckpoint(plain), (e: unknown) => e instanceof CheckpointError && e.message.startsWith(`${plain}: not a checkpoint folder`));
});

test('a workspace walk finds checkpoints and dataset candidates, skipping what it must', async () => {
  const ws = path.join(root, 'ws');
  writeLlama(path.join(ws, 'base'), shape);
  writeLlama(path.join(ws, 'base', 'checkpoint-100'), shape);
  writeLlama(path.join(ws, 'node_modules', 'pkg'), shape);
  writeLlama(path.join(ws, '.hidden', 'm'), shape);
  writeLlama(path.join(ws, '.taia', 'runs', 'r1', 'checkpoint-final'), shape);
  mkdirSync(path.join(ws, 'data'));
  writeFileSync(path.join(ws, 'data', 'train.jsonl'), '{}\n');
  writeFileSync(path.join(ws, 'data', 'tokenizer_config.json'), '{}');
  const found = await scanWorkspace(ws);
  assert.deepEqual(found.checkpoints.map((c) => path.relative(ws, c.dir)), ['.taia/runs/r1/checkpoint-final', 'base', 'base/checkpoint-100']);
  assert.deepEqual(found.datasetFiles.map((f) => path.relative(ws, f)), ['data/train.jsonl']);
  assert.deepEqual((await scanWorkspace(ws, { exclude: [...DEFAULT_EXCLUDE, '**/checkpoint-*'] })).checkpoints.map((c) => path.relative(ws, c.dir)), ['base']);
});
