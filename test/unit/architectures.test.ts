import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { BUNDLED_CLASSIFIER, loadClassifier } from '../../src/core/classify/classify';
import { Block } from '../../src/core/classify/types';
import { ArchitectureError, loadArchitectureDir } from '../../src/core/classify/architectures';
import { closeInputs, planMerge } from '../../src/core/merge/plan';
import { executeMerge } from '../../src/core/merge/execute';
import { builtinRecipe } from '../../src/core/merge/recipes';
import { CheckpointWeights } from '../../src/core/checkpoint/weights';
import { inspectCheckpoint } from '../../src/core/checkpoint/discover';
import { diffCheckpoints } from '../../src/core/delta/diff';
import { f32Bytes, RefTensor, writeSafetensors } from '../helpers/safetensorsRef';
import { tempDir } from '../helpers/tmp';

const FIXTURES = path.join(__dirname, '../../../test/fixtures/architectures');
const root = tempDir();

/**
 * The expected class of every tensor of each real weight map (or mergekit tensor list), written by
 * hand from the models' modeling code: [pattern over the full name, block, tower?]. The first pattern
 * that matches a name decides; a name no pattern matches fails the test.
 */
type Expect = [RegExp, Block, string?];
const ATT = /self_attn\.[qkvo]_proj|self_attn\.[qk]_norm/;
const LLAMA: Expect[] = [
  [ATT, 'attention'],
  [/mlp\.(gate|up|down)_proj/, 'ffn'],
  [/layernorm|model\.norm/, 'norm'],
  [/embed_tokens/, 'embedding'],
  [/lm_head/, 'head'],
];
const FAMILIES: Record<string, { family: string; expect: Expect[] }> = {
  bloom: {
    family: 'bloom',
    expect: [
      [/self_attention\./, 'attention'],
      [/mlp\.dense_/, 'ffn'],
      [/layernorm|ln_f/, 'norm'],
      [/word_embeddings\.weight/, 'embedding'],
    ],
  },
  qwen: {
    family: 'qwen',
    expect: [
      [/attn\.c_(attn|proj)/, 'attention'],
      [/mlp\.(w1|w2|c_proj)/, 'ffn'],
      [/ln_[12f]/, 'norm'],
      [/wte/, 'embedding'],
      [/lm_head/, 'head'],
    ],
  },
  granitemoe: {
    family: 'granitemoe',
    expect: [
      [ATT, 'attention'],
      [/block_sparse_moe\.router/, 'router'],
      [/block_sparse_moe\.(input|output)_linear/, 'ffn'],
      [/layernorm|model\.norm/, 'norm'],
      [/embed_tokens/, 'embedding'],
    ],
  },
  gemma: { family: 'llama', expect: LLAMA },
  gemma3: {
    family: 'llama',
    expect: [
      [/^vision_tower\..*mlp\.fc[12]|^vision_tower\.|^multi_modal_projector\./, 'other', 'vision'],
      [/^language_model\.model\.layers\.\d+\.self_attn\.[qkvo]_(proj|norm)/, 'attention'],
      [/^language_model\.model\.layers\.\d+\.mlp\.(gate|up|down)_proj/, 'ffn'],
      [/^language_model\.model\.(layers\.\d+\.\w+_layernorm|norm)\./, 'norm'],
      [/^language_model\.model\.embed_tokens/, 'embedding'],
    ],
  },
  mimo: {
    family: 'mimo',
    expect: [
      [/self_attn\.[qkvo]_proj/, 'attention'],
      [/mlp\.(gate|up|down)_proj/, 'ffn'],
      [/layernorm|model\.norm/, 'norm'],
      [/mtp_layers\.\d+\.input_proj/, 'other'],
      [/embed_tokens/, 'embedding'],
      [/lm_head/, 'head'],
    ],
  },
  mixtral: {
    family: 'mixtral',
    expect: [
      [ATT, 'attention'],
      [/block_sparse_moe\.gate\./, 'router'],
      [/block_sparse_moe\.experts\.\d+\.w[123]/, 'ffn'],
      [/layernorm|model\.norm/, 'norm'],
      [/embed_tokens/, 'embedding'],
      [/lm_head/, 'head'],
    ],
  },
  deepseek_ocr: {
    family: 'deepseek',
    expect: [
      // The Qwen2 decoder inside DeepSeek-OCR 2's vision encoder: its gate/up/down_proj are FFN by the
      // paper's rule; the rest of the tower follows the recipe's default.
      [/^model\.qwen2_model\..*mlp\.(gate|up|down)_proj/, 'ffn', 'vision'],
      [/^model\.(qwen2_model|sam_model|projector|view_seperator)/, 'other', 'vision'],
      [/^model\.layers\.\d+\.self_attn\.[qkvo]_proj/, 'attention'],
      [/^model\.layers\.\d+\.mlp\.gate\.weight/, 'router'],
      [/^model\.layers\.\d+\.mlp\.(experts\.\d+\.|shared_experts\.)?(gate|up|down)_proj/, 'ffn'],
      [/layernorm|^model\.norm/, 'norm'],
      [/embed_tokens/, 'embedding'],
      [/lm_head/, 'head'],
    ],
  },
  phi3: {
    family: 'phi3',
    expect: [[/self_attn\.(qkv|o)_proj/, 'attention'], [/mlp\.(gate_up|down)_proj/, 'ffn'], ...LLAMA],
  },
  falcon: {
    family: 'falcon',
    expect: [
      [/self_attention\./, 'attention'],
      [/mlp\.dense_/, 'ffn'],
      [/ln_(attn|mlp|f)/, 'norm'],
      [/word_embeddings/, 'embedding'],
      [/lm_head/, 'head'],
    ],
  },
  qwen2: { family: 'llama', expect: LLAMA },
  qwen3_5_moe: {
    family: 'qwen_moe',
    expect: [
      [/^model\.language_model\.layers\.\d+\.linear_attn\./, 'attention'],
      [/^model\.language_model\.layers\.\d+\.mlp\.(gate|shared_expert_gate)\.weight/, 'router'],
      [/^model\.language_model\.layers\.\d+\.mlp\.(experts\.\d+|shared_expert)\.(gate|up|down)_proj/, 'ffn'],
      ...LLAMA,
    ],
  },
  baichuan: { family: 'baichuan', expect: [[/self_attn\.(W_pack|o_proj)/, 'attention'], ...LLAMA] },
  chatglm: {
    family: 'chatglm',
    expect: [
      [/self_attention\./, 'attention'],
      [/mlp\.dense_/, 'ffn'],
      [/layernorm/, 'norm'],
      [/word_embeddings/, 'embedding'],
      [/rotary_pos_emb/, 'other'],
      [/output_layer/, 'head'],
    ],
  },
  cohere: { family: 'llama', expect: LLAMA },
  cohere2: { family: 'llama', expect: LLAMA },
  deepseekv2: {
    family: 'deepseek',
    expect: [[/self_attn\.(q_proj|kv_a_proj_with_mqa|kv_a_layernorm|kv_b_proj|o_proj)/, 'attention'], ...LLAMA],
  },
  gemma2: { family: 'llama', expect: LLAMA },
  glm4: { family: 'glm4', expect: [[/mlp\.(gate_up|down)_proj/, 'ffn'], ...LLAMA] },
  glm4moe: { family: 'deepseek', expect: LLAMA },
  internlm2: {
    family: 'internlm2',
    expect: [
      [/attention\.(wqkv|wo)/, 'attention'],
      [/feed_forward\.w[123]/, 'ffn'],
      [/attention_norm|ffn_norm|model\.norm/, 'norm'],
      [/tok_embeddings/, 'embedding'],
      [/^output\./, 'head'],
    ],
  },
  olmo2: { family: 'llama', expect: LLAMA },
  'phi-1': {
    family: 'phi_mixformer',
    expect: [
      [/mixer\.(Wqkv|out_proj)/, 'attention'],
      [/mixer\.rotary_emb/, 'other'],
      [/mlp\.fc[12]/, 'ffn'],
      [/\.ln\./, 'norm'],
      [/wte/, 'embedding'],
      [/linear/, 'head'],
    ],
  },
  'phi2-old': {
    family: 'phi_mixformer',
    expect: [
      [/mixer\.(Wqkv|out_proj)/, 'attention'],
      [/mlp\.fc[12]/, 'ffn'],
      [/\.ln\./, 'norm'],
      [/wte/, 'embedding'],
      [/lm_head\.linear/, 'head'],
    ],
  },
  phi2: {
    family: 'phi',
    expect: [
      [/self_attn\.([qkv]_proj|dense)/, 'attention'],
      [/mlp\.fc[12]/, 'ffn'],
      [/layernorm/, 'norm'],
      [/embed_tokens/, 'embedding'],
      [/lm_head/, 'head'],
    ],
  },
  qwen3_moe: {
    family: 'qwen_moe',
    expect: [
      [ATT, 'attention'],
      [/mlp\.gate\.weight/, 'router'],
      [/mlp\.experts\.(gate_up|down)_proj/, 'ffn'],
      ...LLAMA,
    ],
  },
  stablelm: { family: 'llama', expect: LLAMA },
  stablelm2: { family: 'llama', expect: LLAMA },
};

interface Fixture {
  names: string[];
  config: Record<string, unknown>;
  source: string;
}

/** A mergekit definition's tensor names for layers 1 and 2 (templates with other variables are procedural, not tensors). */
function mergekitNames(doc: {
  pre_weights?: { name: string }[];
  post_weights?: { name: string }[];
  layer_templates?: { weights: { name: string }[] };
}): string[] {
  const fill = (n: string, i: number) => n.replace(/\$\{layer_index\}/g, String(i)).replace(/\$\{num_layers\}/g, '3');
  const names = [...(doc.pre_weights ?? []), ...(doc.post_weights ?? [])].map((w) => fill(w.name, 0));
  for (const i of [1, 2]) for (const w of doc.layer_templates?.weights ?? []) names.push(fill(w.name, i));
  return [...new Set(names.filter((n) => !n.includes('${')))];
}

function fixture(dir: string): Fixture {
  const d = path.join(FIXTURES, dir);
  if (existsSync(path.join(d, 'model.safetensors.index.json'))) {
    const index = JSON.parse(readFileSync(path.join(d, 'model.safetensors.index.json'), 'utf-8')) as {
      weight_map: Record<string, string>;
    };
    return {
      names: Object.keys(index.weight_map),
      config: JSON.parse(readFileSync(path.join(d, 'config.json'), 'utf-8')),
      source: 'weight map',
    };
  }
  const doc = JSON.parse(readFileSync(path.join(d, 'mergekit-architecture.json'), 'utf-8'));
  // The checkpoint built below needs a config.json: the two fields the classifier reads, from mergekit's file.
  return {
    names: mergekitNames(doc),
    config: { model_type: doc.model_type, architectures: doc.architectures },
    source: 'mergekit tensor list',
  };
}

function expected(dir: string, name: string): { block: Block; tower?: string } {
  const hit = FAMILIES[dir].expect.find(([re]) => re.test(name));
  assert.ok(hit, `${dir}: no expectation written for ${name}`);
  return { block: hit[1], tower: hit[2] };
}

test('every fixture folder has expectations, and every family the issue lists has a folder or is named as missing', () => {
  assert.deepEqual(
    readdirSync(FIXTURES)
      .filter((f) => !f.includes('.'))
      .sort(),
    Object.keys(FAMILIES).sort(),
  );
});

for (const dir of Object.keys(FAMILIES)) {
  test(`${dir}: every tensor of the real ${existsSync(path.join(FIXTURES, dir, 'config.json')) ? 'weight map' : 'mergekit tensor list'} has the class written by hand`, () => {
    const { names, config } = fixture(dir);
    const family = BUNDLED_CLASSIFIER.familyForConfig(config);
    assert.equal(family?.name, FAMILIES[dir].family, `${dir}: family from config.json`);
    for (const name of names) {
      const cls = BUNDLED_CLASSIFIER.classify(name, family!.name);
      const want = expected(dir, name);
      assert.equal(cls.known, true, `${dir}: ${name} is unknown`);
      assert.equal(cls.block, want.block, `${dir}: ${name}`);
      assert.equal(cls.tower, want.tower, `${dir}: ${name} tower`);
      if (want.tower) assert.equal(cls.layer, null, `${dir}: a tower's ${name} is outside the decoder's layer stack`);
    }
  });

  test(`${dir}: a taia merge of tiny tensors with those names reverts exactly the FFN`, async () => {
    const { names, config } = fixture(dir);
    const make = (folder: string, offset: number): Map<string, RefTensor> => {
      mkdirSync(folder, { recursive: true });
      const tensors = names.map((name, i) => ({
        name,
        dtype: 'F32',
        shape: [2, 2],
        data: f32Bytes([i, i + 0.25, i + 0.5, i + 0.75].map((x) => x + offset)),
      }));
      writeSafetensors(path.join(folder, 'model.safetensors'), tensors);
      writeFileSync(path.join(folder, 'config.json'), JSON.stringify(config));
      return new Map(tensors.map((t) => [t.name, t]));
    };
    const base = make(path.join(root, dir, 'base'), 0);
    const ft = make(path.join(root, dir, 'ft'), 1000);
    const out = path.join(root, dir, 'out');
    const opts = {
      base: path.join(root, dir, 'base'),
      finetuned: path.join(root, dir, 'ft'),
      out,
      recipe: builtinRecipe('taia')!,
    };
    if (!names.some((n) => expected(dir, n).block === 'ffn')) {
      // mergekit's DeepSeek-V2 list has attention only: a taia merge of it must refuse, not write a full fine-tune.
      await assert.rejects(planMerge(opts), /moves the ffn block, but no tensor of this model is classified ffn/);
      return;
    }
    const plan = await planMerge(opts);
    assert.ok(
      plan.architectureFiles.some((f) => f.endsWith(`${FAMILIES[dir].family}.json`)),
      plan.architectureFiles.join(),
    );
    await executeMerge(plan);
    const w = await CheckpointWeights.open(out);
    try {
      assert.equal(w.tensors.length, names.length);
      for (const { info, file } of w.tensors) {
        const fromBase = expected(dir, info.name).block === 'ffn';
        assert.deepEqual(
          new Uint8Array(await file.read(info.name)),
          (fromBase ? base : ft).get(info.name)!.data,
          `${dir}: ${info.name} should come from ${fromBase ? 'base' : 'the fine-tune'}`,
        );
      }
    } finally {
      await w.close();
    }
    // The three-way check agrees, from the rules recorded in the output.
    const report = await diffCheckpoints({
      base: path.join(root, dir, 'base'),
      finetuned: path.join(root, dir, 'ft'),
      merged: out,
    });
    assert.equal(report.threeWay!.failed, false, report.threeWay!.verdict);
  });
}

test("families without a real weight map here: names as transformers' modeling code defines them", () => {
  // No weight map or tensor list of these was found in the public repositories searched (see the
  // fixtures README); the names below come from the modeling code and are checked all the same.
  const rows: [string, string, Block][] = [
    ['transformer.blocks.3.norm_attn_norm.attn.Wqkv.weight', 'dbrx', 'attention'],
    ['transformer.blocks.3.ffn.router.layer.weight', 'dbrx', 'router'],
    ['transformer.blocks.3.ffn.experts.mlp.w1', 'dbrx', 'ffn'],
    ['transformer.blocks.3.ffn.experts.mlp.v1', 'dbrx', 'ffn'],
    ['transformer.blocks.3.ffn.experts.mlp.w2', 'dbrx', 'ffn'],
    ['model.layers.1.mamba.in_proj.weight', 'jamba', 'other'],
    ['model.layers.1.mamba.A_log', 'jamba', 'other'],
    ['model.layers.4.feed_forward.router.weight', 'jamba', 'router'],
    ['model.layers.4.feed_forward.experts.3.down_proj.weight', 'jamba', 'ffn'],
    ['model.layers.4.pre_ff_layernorm.weight', 'jamba', 'norm'],
    ['model.transformer.blocks.2.att_proj.weight', 'olmo_v1', 'attention'],
    ['model.transformer.blocks.2.ff_out.weight', 'olmo_v1', 'ffn'],
    ['model.transformer.ff_out.weight', 'olmo_v1', 'head'],
    ['model.layers.2.mlp.experts.7.gate_proj.weight', 'qwen_moe', 'ffn'],
    ['model.layers.2.mlp.gate.weight', 'qwen_moe', 'router'],
    ['model.layers.2.block_sparse_moe.experts.3.w2.weight', 'mixtral', 'ffn'],
    ['transformer.layers.0.attention.query_key_value.weight', 'chatglm', 'attention'],
    ['transformer.layers.0.mlp.dense_h_to_4h.weight', 'chatglm', 'ffn'],
  ];
  for (const [name, family, block] of rows) {
    const cls = BUNDLED_CLASSIFIER.classify(name, family);
    assert.deepEqual([cls.block, cls.family, cls.known], [block, family, true], name);
  }
  assert.equal(BUNDLED_CLASSIFIER.familyForConfig({ model_type: 'phimoe' })?.name, 'mixtral');
  assert.equal(BUNDLED_CLASSIFIER.familyForConfig({ model_type: 'olmoe' })?.name, 'qwen_moe');
  assert.equal(BUNDLED_CLASSIFIER.familyForConfig({ model_type: 'hf_olmo' })?.name, 'olmo_v1');
});

test("the paper's rule holds in every family, and routers are never FFN", () => {
  for (const f of BUNDLED_CLASSIFIER.families) {
    for (const name of [
      'model.layers.0.mlp.gate_proj.weight',
      'transformer.h.0.mlp.up_proj.weight',
      'x.y.3.down_proj.weight',
      'model.mtp_layers.0.mlp.gate_proj.weight',
      'model.qwen2_model.model.model.layers.0.mlp.up_proj.weight',
    ]) {
      assert.equal(BUNDLED_CLASSIFIER.classify(name, f.name).block, 'ffn', `${name} with ${f.name} first`);
    }
    for (const name of ['model.layers.0.mlp.gate.weight', 'model.layers.0.block_sparse_moe.gate.weight'])
      assert.equal(BUNDLED_CLASSIFIER.classify(name, f.name).block, 'router', `${name} with ${f.name} first`);
  }
});

test('workspace architecture files: used before the built-in ones, validated with the file and field named, named by inspect', async () => {
  const ws = path.join(root, 'ws');
  const archDir = path.join(ws, '.taia', 'architectures');
  mkdirSync(archDir, { recursive: true });
  writeFileSync(
    path.join(archDir, 'toy.json'),
    JSON.stringify({
      name: 'toy',
      model_types: ['toy'],
      layer_prefixes: ['net\\.blocks\\.(\\d+)\\.'],
      layer_rules: [
        { match: 'mix\\.qkv', block: 'attention', module: 'qkv' },
        { match: 'ff\\.(?<m>in|out)', block: 'ffn', module: 'fc_$<m>' },
      ],
      rules: [{ match: 'net\\.emb', block: 'embedding', module: 'embed_tokens' }],
    }),
  );
  const classifier = await loadClassifier({ near: path.join(ws, 'models', 'base') });
  assert.deepEqual(classifier.classify('net.blocks.3.ff.in.weight', 'toy'), {
    layer: 3,
    block: 'ffn',
    module: 'fc_in',
    family: 'toy',
    known: true,
  });
  // A model with these names merges the TAIA way, and inspect names the workspace file.
  const names = [
    'net.emb.weight',
    'net.blocks.0.mix.qkv.weight',
    'net.blocks.0.ff.in.weight',
    'net.blocks.0.ff.out.weight',
  ];
  for (const [side, offset] of [
    ['base', 0],
    ['ft', 9],
  ] as const) {
    const dir = path.join(ws, 'models', side);
    mkdirSync(dir, { recursive: true });
    writeSafetensors(
      path.join(dir, 'model.safetensors'),
      names.map((name) => ({ name, dtype: 'F32', shape: [2, 2], data: f32Bytes([offset, 1, 2, 3]) })),
    );
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'toy' }));
  }
  const plan = await planMerge({
    base: path.join(ws, 'models', 'base'),
    finetuned: path.join(ws, 'models', 'ft'),
    out: path.join(ws, 'out'),
    recipe: builtinRecipe('taia')!,
  });
  assert.deepEqual(
    plan.tensors.map((t) => t.source),
    ['finetuned', 'finetuned', 'base', 'base'],
  );
  assert.deepEqual(plan.architectureFiles, [path.join(archDir, 'toy.json')]);
  assert.deepEqual((await inspectCheckpoint(path.join(ws, 'models', 'base'))).architectureFiles, [
    path.join(archDir, 'toy.json'),
  ]);
  await closeInputs(plan);
  // Broken files: each error names the file and the field.
  const bad: [unknown, RegExp][] = [
    [
      { name: 'x', layer_rules: [{ match: 'a', block: 'mlp', module: 'a' }], layer_prefixes: ['l\\.(\\d+)\\.'] },
      /bad\.json: layer_rules\[0\]\.block: must be one of attention, ffn/,
    ],
    [{ name: 'x', layer_prefixes: ['l\\.\\d+\\.'] }, /bad\.json: layer_prefixes\[0\]: needs a capturing group/],
    [
      { name: 'x', rules: [{ match: '(', block: 'ffn', module: 'a' }] },
      /bad\.json: rules\[0\]\.match: not a valid regular expression/,
    ],
    [{ name: 'x', rulez: [] }, /bad\.json: rulez: unknown field/],
    [
      { name: 'x', rules: [{ match: 'a', block: 'ffn' }] },
      /bad\.json: rules\[0\]\.module: must be a short module name/,
    ],
  ];
  for (const [doc, re] of bad) {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'bad.json'), JSON.stringify(doc));
    await assert.rejects(
      loadArchitectureDir(dir),
      (e: unknown) => e instanceof ArchitectureError && re.test((e as Error).message),
    );
  }
  const notJson = tempDir();
  writeFileSync(path.join(notJson, 'broken.json'), '{ "name": ');
  await assert.rejects(loadArchitectureDir(notJson), /broken\.json: not valid JSON/);
});
