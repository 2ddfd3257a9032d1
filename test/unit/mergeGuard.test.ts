import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { closeInputs, planMerge, UnknownTensorsError } from '../../src/core/merge/plan';
import { executeMerge } from '../../src/core/merge/execute';
import { builtinRecipe, parseRecipe, recipeToJson } from '../../src/core/merge/recipes';
import { readProvenance } from '../../src/core/merge/provenance';
import { diffCheckpoints } from '../../src/core/delta/diff';
import { CheckpointError } from '../../src/core/errors';
import { f32Bytes, writeSafetensors } from '../helpers/safetensorsRef';
import { writeAdapter } from '../helpers/models';
import { tempDir } from '../helpers/tmp';

const root = tempDir();
const CLI = path.join(__dirname, '../../../dist/cli.js');

/** A tiny model with these names, every tensor [2, 2] F32 (values shifted by `offset`). */
function model(dir: string, names: string[], config: Record<string, unknown>, offset = 0): void {
  mkdirSync(dir, { recursive: true });
  writeSafetensors(
    path.join(dir, 'model.safetensors'),
    names.map((name, i) => ({
      name,
      dtype: 'F32',
      shape: [2, 2],
      data: f32Bytes([i, i, i, i].map((x) => x + offset)),
    })),
  );
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
}

// An architecture no file knows: its FFN would silently come from the fine-tune.
const ALIEN = [
  'blocks.0.mixer.qkv.weight',
  'blocks.0.ffn.wi.weight',
  'blocks.0.ffn.wo.weight',
  'blocks.1.mixer.qkv.weight',
  'blocks.1.ffn.wi.weight',
  'blocks.1.ffn.wo.weight',
  'emb.weight',
];
const alienBase = path.join(root, 'alien-base');
const alienFt = path.join(root, 'alien-ft');
model(alienBase, ALIEN, { model_type: 'alien' });
model(alienFt, ALIEN, { model_type: 'alien' }, 5);

test('a recipe that moves a block refuses a model with none of that block, and so does the dry run', async () => {
  for (const recipe of ['taia', 'taia-strict', 'taif']) {
    await assert.rejects(
      planMerge({
        base: alienBase,
        finetuned: alienFt,
        out: path.join(root, `o-${recipe}`),
        recipe: builtinRecipe(recipe)!,
      }),
      (e: unknown) => {
        assert.ok(e instanceof CheckpointError);
        assert.match(
          (e as Error).message,
          /alien-base: recipe '[\w-]+' moves the (ffn|attention) block, but no tensor of this model is classified \1 \(no architecture file knows its config.json\)/,
        );
        assert.match((e as Error).message, /architecture file/);
        return true;
      },
    );
  }
  // 'full' and 'base' move nothing: they need no classification.
  const plan = await planMerge({
    base: alienBase,
    finetuned: alienFt,
    out: path.join(root, 'o-full'),
    recipe: builtinRecipe('full')!,
  });
  await closeInputs(plan);
  const r = spawnSync(
    process.execPath,
    [CLI, 'merge', '--base', alienBase, '--finetuned', alienFt, '--out', path.join(root, 'o-cli'), '--dry-run'],
    { encoding: 'utf-8' },
  );
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^taia: error: .*no tensor of this model is classified ffn/);
  assert.ok(!existsSync(path.join(root, 'o-cli')));
});

test('unknown tensors that look like layer weights stop a taia merge with a list; allowing unknown tensors goes on', async () => {
  // A known model plus layer weights of an adapter-like add-on no rule knows.
  const names = [
    'model.layers.0.self_attn.q_proj.weight',
    'model.layers.0.mlp.down_proj.weight',
    ...Array.from({ length: 7 }, (_, i) => `model.layers.0.extra_${i}.weight`),
    'model.layers.0.extra.scale_vector',
  ];
  const b = path.join(root, 'extra-base');
  const f = path.join(root, 'extra-ft');
  model(b, names, { model_type: 'llama' });
  model(f, names, { model_type: 'llama' }, 3);
  const opts = { base: b, finetuned: f, out: path.join(root, 'extra-out'), recipe: builtinRecipe('taia')! };
  await assert.rejects(planMerge(opts), (e: unknown) => {
    assert.ok(e instanceof UnknownTensorsError);
    assert.equal(e.names.length, 8);
    assert.match(
      e.message,
      /8 tensor\(s\) that look like layer weights are not recognised and would follow the default \('finetuned'\): model\.layers\.0\.extra_0\.weight, .*extra_4\.weight, \.\.\. \(8 in all\); add an architecture file/,
    );
    return true;
  });
  const plan = await planMerge({ ...opts, allowUnknown: true });
  assert.deepEqual(plan.unknown.length, 8);
  await closeInputs(plan);
  const r = spawnSync(
    process.execPath,
    [CLI, 'merge', '--base', b, '--finetuned', f, '--out', path.join(root, 'extra-cli'), '--dry-run'],
    { encoding: 'utf-8' },
  );
  assert.equal(r.status, 1);
  assert.match(r.stderr, /\(8 in all\).*\(--allow-unknown\)/);
  const ok = spawnSync(
    process.execPath,
    [CLI, 'merge', '--base', b, '--finetuned', f, '--out', path.join(root, 'extra-cli'), '--allow-unknown', '--quiet'],
    { encoding: 'utf-8' },
  );
  assert.equal(ok.status, 0, ok.stderr);
});

test('LoRA under taia: modules on the FFN of GLM-4 (dense_h_to_4h) and Phi (fc1/fc2) are not folded', async () => {
  const cases: [string, Record<string, unknown>, string[], string[], string[]][] = [
    [
      'glm',
      { model_type: 'chatglm' },
      [
        'transformer.encoder.layers.0.self_attention.query_key_value.weight',
        'transformer.encoder.layers.0.mlp.dense_h_to_4h.weight',
        'transformer.encoder.layers.0.mlp.dense_4h_to_h.weight',
      ],
      ['query_key_value', 'dense_h_to_4h', 'dense_4h_to_h'],
      ['dense_4h_to_h', 'dense_h_to_4h'],
    ],
    [
      'phi',
      { model_type: 'phi' },
      ['model.layers.0.self_attn.q_proj.weight', 'model.layers.0.mlp.fc1.weight', 'model.layers.0.mlp.fc2.weight'],
      ['q_proj', 'fc1', 'fc2'],
      ['fc1', 'fc2'],
    ],
  ];
  for (const [id, config, names, targets, skipped] of cases) {
    const b = path.join(root, `${id}-base`);
    model(b, names, config);
    const adapter = path.join(root, `${id}-lora`);
    writeAdapter(
      adapter,
      names.map((name) => ({ name, shape: [2, 2] })),
      { r: 1, alpha: 2, targets },
    );
    const plan = await planMerge({
      base: b,
      finetuned: adapter,
      out: path.join(root, `${id}-out`),
      recipe: builtinRecipe('taia')!,
    });
    assert.deepEqual(
      plan.tensors.map((t) => t.op),
      ['lora', 'copy', 'copy'],
      id,
    );
    assert.ok(plan.notes.includes(`not applied under recipe 'taia': ${skipped.join(', ')}`), plan.notes.join('\n'));
    await closeInputs(plan);
  }
});

test('adapters initialised against a residual base (PiSSA, OLoRA, CorDA, LoftQ) are refused with the reason', async () => {
  const names = ['model.layers.0.self_attn.q_proj.weight', 'model.layers.0.mlp.down_proj.weight'];
  const b = path.join(root, 'pissa-base');
  model(b, names, { model_type: 'llama' });
  for (const init of ['pissa', 'pissa_niter_16', 'olora', 'corda', 'loftq']) {
    const adapter = path.join(root, `lora-${init}`);
    writeAdapter(
      adapter,
      names.map((name) => ({ name, shape: [2, 2] })),
      { r: 1, alpha: 2, targets: ['q_proj'] },
    );
    const cfg = JSON.parse(readFileSync(path.join(adapter, 'adapter_config.json'), 'utf-8'));
    writeFileSync(path.join(adapter, 'adapter_config.json'), JSON.stringify({ ...cfg, init_lora_weights: init }));
    await assert.rejects(
      planMerge({
        base: b,
        finetuned: adapter,
        out: path.join(root, `pissa-out-${init}`),
        recipe: builtinRecipe('taia')!,
      }),
      (e: unknown) => {
        assert.ok(e instanceof CheckpointError);
        assert.match(
          (e as Error).message,
          new RegExp(
            `adapter_config\\.json: "init_lora_weights": "${init}" adapters are relative to the residual base`,
          ),
        );
        return true;
      },
    );
  }
});

test('provenance: one typed record; the three-way check verifies its recorded rules, not a built-in looked up by name', async () => {
  const names = [
    'model.layers.0.self_attn.q_proj.weight',
    'model.layers.0.mlp.down_proj.weight',
    'model.layers.0.mlp.up_proj.weight',
    'model.norm.weight',
  ];
  const b = path.join(root, 'pv-base');
  const f = path.join(root, 'pv-ft');
  model(b, names, { model_type: 'llama' });
  model(f, names, { model_type: 'llama' }, 2);
  // A recipe file named 'taia' that differs from the built-in (norms from base too): a correct merge passes.
  const recipe = parseRecipe(
    'name: taia\ndefault: finetuned\nrules:\n  - { block: [ffn, norm], source: base }\n',
    'my-taia.yaml',
  );
  const out = path.join(root, 'pv-out');
  await executeMerge(await planMerge({ base: b, finetuned: f, out, recipe }));
  const p = await readProvenance(out);
  assert.deepEqual(p.recipe.rules[0].block, ['ffn', 'norm']);
  assert.deepEqual(
    p.tensors.map((t) => [t.name, t.block, t.source]),
    [
      ['model.layers.0.self_attn.q_proj.weight', 'attention', 'finetuned'],
      ['model.layers.0.mlp.down_proj.weight', 'ffn', 'base'],
      ['model.layers.0.mlp.up_proj.weight', 'ffn', 'base'],
      ['model.norm.weight', 'norm', 'base'],
    ],
  );
  const good = await diffCheckpoints({ base: b, finetuned: f, merged: out });
  assert.equal(good.threeWay!.failed, false, good.threeWay!.verdict);
  assert.deepEqual(good.threeWay!.violations, []);
  // A full fine-tune whose provenance claims the TAIA rules, with no FFN tensor equal to base, fails.
  const full = path.join(root, 'pv-full');
  await executeMerge(await planMerge({ base: b, finetuned: f, out: full, recipe: builtinRecipe('full')! }));
  const file = path.join(full, 'taia_merge.json');
  const doc = JSON.parse(readFileSync(file, 'utf-8'));
  writeFileSync(file, JSON.stringify({ ...doc, recipe: recipeToJson(builtinRecipe('taia')!), tensors: [] }));
  const bad = await diffCheckpoints({ base: b, finetuned: f, merged: full });
  assert.equal(bad.threeWay!.failed, true);
  assert.match(
    bad.threeWay!.verdict,
    /check FAILED: the recipe reverts the FFN, but no FFN tensor of the output equals base \(2 FFN tensor\(s\) found\)/,
  );
  const cli = spawnSync(process.execPath, [CLI, 'diff', '--base', b, '--finetuned', f, '--merged', full], {
    encoding: 'utf-8',
  });
  assert.equal(cli.status, 3, cli.stderr);
  // A malformed provenance file is an error naming it, never a silently skipped check.
  writeFileSync(file, '{ "recipe": 3 }');
  await assert.rejects(
    diffCheckpoints({ base: b, finetuned: f, merged: full }),
    /taia_merge\.json: "recipe" is missing/,
  );
  assert.ok(
    execFileSync(process.execPath, [CLI, 'inspect', out], { encoding: 'utf-8' }).includes(
      'built-in architectures/llama.json',
    ),
  );
});

test('a layer range past the model is a usage error naming the range, in core and in the CLI', async () => {
  const names = [
    'model.layers.0.self_attn.q_proj.weight',
    'model.layers.0.mlp.down_proj.weight',
    'model.layers.3.mlp.down_proj.weight',
  ];
  const b = path.join(root, 'lr-base');
  const f = path.join(root, 'lr-ft');
  model(b, names, { model_type: 'llama' });
  model(f, names, { model_type: 'llama' }, 1);
  await assert.rejects(
    planMerge({
      base: b,
      finetuned: f,
      out: path.join(root, 'lr-out'),
      recipe: builtinRecipe('taia')!,
      layers: [9, 20],
    }),
    /^OptionError: layer range 9-20 selects no layer: the model's layers are 0-3$/m,
  );
  const r = spawnSync(
    process.execPath,
    [CLI, 'merge', '--base', b, '--finetuned', f, '--out', path.join(root, 'lr-out'), '--layers', '9-20'],
    { encoding: 'utf-8' },
  );
  assert.equal(r.status, 2);
  assert.equal(r.stderr, "taia: --layers 9-20 selects no layer: the model's layers are 0-3\n(see 'taia --help')\n");
});

test('a recipe moving a block a model may lack (router) notes it instead of refusing', async () => {
  const names = ['model.layers.0.self_attn.q_proj.weight', 'model.layers.0.mlp.down_proj.weight'];
  const b = path.join(root, 'router-base');
  const f = path.join(root, 'router-ft');
  model(b, names, { model_type: 'llama' });
  model(f, names, { model_type: 'llama' }, 1);
  const recipe = parseRecipe(
    'name: taia-routers\ndefault: finetuned\nrules:\n  - { block: [ffn, router], source: base }\n',
    'r.yaml',
  );
  const plan = await planMerge({ base: b, finetuned: f, out: path.join(root, 'router-out'), recipe });
  assert.ok(
    plan.notes.includes("recipe 'taia-routers' moves the router block, which this model does not have"),
    plan.notes.join('\n'),
  );
  await closeInputs(plan);
});
