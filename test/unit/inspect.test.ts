// Checkpoint detection and inspection (headers and small JSON files only) on generated folders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import * as path from 'node:path';
import { detectCheckpointKind, inspectCheckpoint } from '../../src/core/checkpoint/discover';
import { planMerge } from '../../src/core/merge/plan';
import { executeMerge } from '../../src/core/merge/execute';
import { builtinRecipe } from '../../src/core/merge/recipes';
import { DEFAULT_EXCLUDE, isSkipped, scanWorkspace } from '../../src/core/workspace/scan';
import { CheckpointError } from '../../src/core/errors';
import { LlamaShape, llamaTensorShapes, writeAdapter, writeLlama, writeShards } from '../helpers/models';
import { RefTensor } from '../helpers/safetensorsRef';
import { tempDir } from '../helpers/tmp';

const root = tempDir();
// Grouped-query attention (kvHeads < heads) so k/v shapes differ from q/o.
const shape: LlamaShape = { layers: 3, hidden: 8, intermediate: 16, vocab: 16, heads: 4, kvHeads: 2 };
const shapes = llamaTensorShapes(shape);
const elements = (s: number[]) => s.reduce((a, b) => a * b, 1);
const count = shapes.reduce((n, t) => n + elements(t.shape), 0);

const base = path.join(root, 'models', 'single');
const baseTensors = writeLlama(base, shape, { seed: 1 });

test('the parameter count the tests use agrees with the Llama formula', () => {
  // embed + lm_head + final norm + per layer: 2 norms, q, k, v, o, gate, up, down (head_dim 2, 2 kv heads).
  const kvDim = 2 * (8 / 4);
  const perLayer = 2 * 8 + 8 * 8 + 2 * kvDim * 8 + 8 * 8 + 3 * 16 * 8;
  assert.equal(count, 2 * 16 * 8 + 8 + 3 * perLayer);
});

test('a single-file model: architecture, model_type, exact parameters, dtypes, size, layers, tensors', async () => {
  assert.equal(await detectCheckpointKind(base), 'model');
  const s = await inspectCheckpoint(base);
  assert.equal(s.kind, 'model');
  assert.equal(s.dir, base);
  assert.equal(s.architecture, 'LlamaForCausalLM');
  assert.equal(s.modelType, 'llama');
  assert.equal(s.parameters, count);
  assert.deepEqual(s.dtypes, { BF16: count });
  assert.equal(s.sizeBytes, statSync(path.join(base, 'model.safetensors')).size);
  assert.equal(s.layers, 3);
  assert.equal(s.tensors, shapes.length);
  assert.deepEqual(s.files, ['model.safetensors']);
  assert.equal(s.sharded, false);
  assert.deepEqual(s.unknownTensors, []);
  assert.equal(s.adapter, undefined);
  assert.equal(s.merge, undefined);
});

test('the dtypes map counts parameters per dtype in a mixed-precision model', async () => {
  const dir = path.join(root, 'models', 'mixed');
  mkdirSync(dir, { recursive: true });
  copyFileSync(path.join(base, 'config.json'), path.join(dir, 'config.json'));
  // Norm weights stored as F32 (4 bytes each), everything else BF16.
  const isNorm = (n: string) => n.includes('norm');
  const tensors: RefTensor[] = baseTensors.map((t) =>
    isNorm(t.name) ? { ...t, dtype: 'F32', data: new Uint8Array(elements(t.shape) * 4) } : t,
  );
  writeShards(dir, tensors, 1);
  const f32 = shapes.filter((t) => isNorm(t.name)).reduce((n, t) => n + elements(t.shape), 0);
  assert.equal(f32, 8 * (2 * 3 + 1));
  const s = await inspectCheckpoint(dir);
  assert.deepEqual(s.dtypes, { BF16: count - f32, F32: f32 });
  assert.equal(s.parameters, count);
  assert.equal(s.sizeBytes, statSync(path.join(dir, 'model.safetensors')).size);
});

test('a sharded model: sharded, every shard listed, size of the shards', async () => {
  const dir = path.join(root, 'models', 'sharded');
  writeLlama(dir, shape, { seed: 1, shards: 3 });
  const shards = [
    'model-00001-of-00003.safetensors',
    'model-00002-of-00003.safetensors',
    'model-00003-of-00003.safetensors',
  ];
  assert.deepEqual(
    readdirSync(dir)
      .filter((f) => f.endsWith('.safetensors'))
      .sort(),
    shards,
    'only shards, no model.safetensors',
  );
  assert.equal(await detectCheckpointKind(dir), 'model');
  const s = await inspectCheckpoint(dir);
  assert.equal(s.kind, 'model');
  assert.equal(s.sharded, true);
  assert.deepEqual([...s.files].sort(), shards);
  assert.equal(s.parameters, count);
  assert.deepEqual(s.dtypes, { BF16: count });
  assert.equal(s.tensors, shapes.length);
  assert.equal(s.layers, 3);
  // The weight files only: the index is not counted.
  assert.equal(
    s.sizeBytes,
    shards.reduce((n, f) => n + statSync(path.join(dir, f)).size, 0),
  );
});

test('a PEFT LoRA adapter: r, alpha, rsLoRA, target modules, modules with LoRA pairs', async () => {
  const dir = path.join(root, 'adapters', 'rslora');
  const modules = writeAdapter(dir, shapes, {
    r: 4,
    alpha: 16,
    targets: ['q_proj', 'v_proj', 'down_proj'],
    rslora: true,
  });
  assert.equal(modules.length, 3 * 3);
  assert.equal(await detectCheckpointKind(dir), 'adapter');
  const a = await inspectCheckpoint(dir);
  assert.equal(a.kind, 'adapter');
  assert.equal(a.architecture, undefined);
  assert.equal(a.adapter!.r, 4);
  assert.equal(a.adapter!.alpha, 16);
  assert.equal(a.adapter!.rsLoRA, true);
  assert.deepEqual(a.adapter!.targetModules, ['q_proj', 'v_proj', 'down_proj']);
  assert.deepEqual(a.adapter!.loraModules, ['down_proj', 'q_proj', 'v_proj']);
  assert.equal(a.adapter!.baseModel, 'generated-base');
  assert.deepEqual(a.adapter!.rankPattern, {});
  // lora_A [r, in] + lora_B [out, r] per module, stored as F32.
  const params = modules.reduce((n, m) => n + m.r * (m.inDim + m.outDim), 0);
  assert.equal(a.parameters, params);
  assert.deepEqual(a.dtypes, { F32: params });
  assert.equal(a.tensors, 2 * modules.length);
  assert.equal(a.layers, 3);
  assert.equal(a.sharded, false);
  assert.deepEqual(a.files, ['adapter_model.safetensors']);
  assert.equal(a.sizeBytes, statSync(path.join(dir, 'adapter_model.safetensors')).size);
  assert.deepEqual(a.unknownTensors, []);
});

test('an adapter with a rank pattern: plain scaling, pattern reported, per-module ranks counted', async () => {
  const dir = path.join(root, 'adapters', 'pattern');
  const modules = writeAdapter(dir, shapes, {
    r: 2,
    alpha: 4,
    targets: ['q_proj', 'up_proj'],
    rankPattern: { up_proj: 6 },
  });
  assert.deepEqual(new Set(modules.map((m) => m.r)), new Set([2, 6]));
  const a = await inspectCheckpoint(dir);
  assert.equal(a.adapter!.rsLoRA, false);
  assert.deepEqual(a.adapter!.rankPattern, { up_proj: 6 });
  assert.deepEqual(a.adapter!.loraModules, ['q_proj', 'up_proj']);
  assert.equal(
    a.parameters,
    modules.reduce((n, m) => n + m.r * (m.inDim + m.outDim), 0),
  );
});

test('a merged output (taia recipe): kind merged, recipe and inputs from its provenance', async () => {
  const ft = path.join(root, 'models', 'ft');
  writeLlama(ft, shape, { seed: 9 });
  const out = path.join(root, 'merged', 'taia');
  await executeMerge(await planMerge({ base, finetuned: ft, out, recipe: builtinRecipe('taia')! }));
  assert.equal(await detectCheckpointKind(out), 'merged');
  const m = await inspectCheckpoint(out);
  assert.equal(m.kind, 'merged');
  assert.equal(m.merge!.recipe, 'taia');
  assert.equal(m.merge!.scale, 1);
  assert.deepEqual(m.merge!.inputs, [
    { role: 'base', path: base },
    { role: 'finetuned', path: ft },
  ]);
  assert.equal(m.architecture, 'LlamaForCausalLM');
  assert.equal(m.parameters, count);
  assert.equal(m.tensors, shapes.length);
  assert.equal(m.sizeBytes, statSync(path.join(out, 'model.safetensors')).size);

  const half = path.join(root, 'merged', 'strict-half');
  await executeMerge(
    await planMerge({ base, finetuned: ft, out: half, recipe: builtinRecipe('taia-strict')!, scale: 0.5 }),
  );
  const h = await inspectCheckpoint(half);
  assert.equal(h.merge!.recipe, 'taia-strict');
  assert.equal(h.merge!.scale, 0.5);
});

test('folders that are no checkpoint: detectCheckpointKind undefined, inspectCheckpoint refuses by name', async () => {
  const configOnly = path.join(root, 'not', 'config-only');
  mkdirSync(configOnly, { recursive: true });
  writeFileSync(path.join(configOnly, 'config.json'), '{}');
  const weightsOnly = path.join(root, 'not', 'weights-only');
  mkdirSync(weightsOnly, { recursive: true });
  copyFileSync(path.join(base, 'model.safetensors'), path.join(weightsOnly, 'model.safetensors'));
  const adapterConfigOnly = path.join(root, 'not', 'adapter-config-only');
  mkdirSync(adapterConfigOnly, { recursive: true });
  writeFileSync(path.join(adapterConfigOnly, 'adapter_config.json'), '{"peft_type": "LORA"}');
  const missing = path.join(root, 'not', 'does-not-exist');
  const file = path.join(base, 'model.safetensors');
  for (const dir of [configOnly, weightsOnly, adapterConfigOnly, missing, file]) {
    assert.equal(await detectCheckpointKind(dir), undefined, dir);
    await assert.rejects(inspectCheckpoint(dir), (e: unknown) => {
      assert.ok(e instanceof CheckpointError, String(e));
      // A path that is no folder at all says so; a folder says what it lacks.
      if (dir === missing || dir === file) assert.equal(e.message, `${dir}: no such folder`);
      else {
        assert.ok(e.message.startsWith(`${dir}: not a checkpoint folder`), e.message);
        assert.match(e.message, /config\.json/);
      }
      return true;
    });
  }
});

test('unknown tensor names are reported in unknownTensors and still counted', async () => {
  const odd = path.join(root, 'models', 'odd');
  const tensors = writeLlama(odd, shape);
  const weird: RefTensor = {
    name: 'model.layers.0.weird_thing.weight',
    dtype: 'BF16',
    shape: [2, 3],
    data: new Uint8Array(12),
  };
  writeShards(odd, [...tensors, weird], 1);
  const s = await inspectCheckpoint(odd);
  assert.deepEqual(s.unknownTensors, ['model.layers.0.weird_thing.weight']);
  assert.equal(s.tensors, shapes.length + 1);
  assert.equal(s.parameters, count + 6);
  assert.equal(s.kind, 'model');
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
  assert.deepEqual(
    found.checkpoints.map((c) => path.relative(ws, c.dir)),
    ['.taia/runs/r1/checkpoint-final', 'base', 'base/checkpoint-100'],
  );
  assert.deepEqual(
    found.datasetFiles.map((f) => path.relative(ws, f)),
    ['data/train.jsonl'],
  );
  assert.deepEqual(
    (await scanWorkspace(ws, { exclude: [...DEFAULT_EXCLUDE, '**/checkpoint-*'] })).checkpoints.map((c) =>
      path.relative(ws, c.dir),
    ),
    ['base'],
  );
});

test('isSkipped follows the walk: hidden folders (but .taia) and excluded globs', () => {
  const ws = '/ws';
  assert.equal(isSkipped(ws, '/ws/models/base'), false);
  assert.equal(isSkipped(ws, '/ws/.taia/runs/r1/checkpoint-1'), false);
  assert.equal(isSkipped(ws, '/ws/models/.out.taia-tmp-1-ab/model.safetensors'), true);
  assert.equal(isSkipped(ws, '/ws/a/node_modules/pkg/config.json'), true);
  assert.equal(isSkipped(ws, '/elsewhere/model'), true);
  assert.equal(isSkipped(ws, '/ws/runs/wandb/x', ['**/wandb']), true);
});
