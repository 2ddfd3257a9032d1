import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { planMerge } from '../../src/core/merge/plan';
import { executeMerge } from '../../src/core/merge/execute';
import { builtinRecipe } from '../../src/core/merge/recipes';
import { CheckpointWeights } from '../../src/core/checkpoint/weights';
import { loraScaling, patternValue, readLoraConfig } from '../../src/core/lora/adapter';
import { CheckpointError } from '../../src/core/errors';
import {
  AdapterModule,
  AdapterSpec,
  GenDtype,
  LlamaShape,
  llamaTensorShapes,
  randomValues,
  writeAdapter,
  writeLlama,
} from '../helpers/models';
import {
  bf16Values,
  encodeSafetensors,
  f32Bytes,
  RefTensor,
  refBf16,
  writeSafetensors,
} from '../helpers/safetensorsRef';
import { tempDir } from '../helpers/tmp';

const root = tempDir();
const ALL = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
let n = 0;

interface Fixture {
  base: string;
  adapter: string;
  baseTensors: Map<string, RefTensor>;
  modules: AdapterModule[];
}

function fixture(shape: LlamaShape, spec: AdapterSpec, dtype: GenDtype = 'F32'): Fixture {
  const dir = path.join(root, `case${n++}`);
  const base = path.join(dir, 'base');
  const adapter = path.join(dir, 'adapter');
  const baseTensors = new Map(writeLlama(base, shape, { dtype }).map((t) => [t.name, t]));
  const modules = writeAdapter(adapter, llamaTensorShapes(shape), spec);
  return { base, adapter, baseTensors, modules };
}

function values(t: { dtype: string; data: Uint8Array }): Float64Array {
  return t.dtype === 'BF16' ? bf16Values(t.data) : Float64Array.from(new Float32Array(t.data.slice().buffer));
}

/**
 * PEFT's merge on a CPU, W + (B·A)·s (or its transpose) in float32: the products summed in order
 * k = 0 … r-1, each product and sum rounded, as torch's float32 arithmetic does without fused
 * multiply-adds; computed naively and independently of src/core.
 */
function referenceFold(w: Float64Array, m: AdapterModule, s: number, transpose: boolean): Float64Array {
  const f = Math.fround;
  const out = Float64Array.from(w);
  for (let i = 0; i < m.outDim; i++) {
    for (let j = 0; j < m.inDim; j++) {
      let d = 0;
      for (let k = 0; k < m.r; k++) d = f(d + f(m.b[i * m.r + k] * m.a[k * m.inDim + j]));
      const at = transpose ? j * m.outDim + i : i * m.inDim + j;
      out[at] = f(out[at] + f(d * f(s)));
    }
  }
  return out;
}

async function runMerge(f: Pick<Fixture, 'base' | 'adapter'>, recipe = 'full', scale = 1) {
  const out = path.join(path.dirname(f.base), `out-${recipe}-${scale}`);
  const plan = await planMerge({ base: f.base, finetuned: f.adapter, out, recipe: builtinRecipe(recipe)!, scale });
  const result = await executeMerge(plan);
  const w = await CheckpointWeights.open(out);
  const tensors = new Map<string, { dtype: string; data: Uint8Array }>();
  for (const { info, file } of w.tensors)
    tensors.set(info.name, { dtype: info.dtype, data: new Uint8Array(await file.read(info.name)) });
  await w.close();
  return { plan, result, tensors };
}

/** Float32 results within `relUlp` of the float64 reference (0: equal to the float32 reference). */
function assertClose(got: Float64Array, want: Float64Array, what: string, relUlp = 2 ** -22) {
  assert.equal(got.length, want.length);
  for (let i = 0; i < got.length; i++) {
    const tol = relUlp ? Math.max(Math.abs(want[i]) * relUlp, 1e-30) : 0;
    if (Math.abs(got[i] - want[i]) > tol) assert.fail(`${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

// intermediate 22: row counts that are not a multiple of the fold's 4-row blocks.
const shape: LlamaShape = { layers: 2, hidden: 16, intermediate: 22, vocab: 32, heads: 4, kvHeads: 2 };

test("LoRA folds by PEFT's rule W + (alpha/r)·B·A on every target; other tensors are copied", async () => {
  const f = fixture(shape, { r: 4, alpha: 8, targets: ALL });
  const { tensors, result } = await runMerge(f);
  const byModule = new Map(f.modules.map((m) => [`${m.module}.weight`, m]));
  for (const [name, t] of tensors) {
    const base = f.baseTensors.get(name)!;
    const m = byModule.get(name);
    if (!m) {
      assert.deepEqual(t.data, base.data, `${name} copied`);
      continue;
    }
    assertClose(values(t), referenceFold(values(base), m, 8 / 4, false), name, 0);
  }
  assert.ok(result.loraFlops > 0 && result.loraSeconds > 0);
  assert.equal(
    result.loraFlops,
    f.modules.reduce((s, m) => s + 2 * m.outDim * m.inDim * m.r, 0),
  );
});

test('taia on an adapter applies only the non-FFN LoRA modules, and says so', async () => {
  const f = fixture(shape, { r: 4, alpha: 16, targets: ALL });
  const { tensors, plan } = await runMerge(f, 'taia');
  for (const m of f.modules) {
    const name = `${m.module}.weight`;
    const got = values(tensors.get(name)!);
    if (/mlp\./.test(name))
      assert.deepEqual(tensors.get(name)!.data, f.baseTensors.get(name)!.data, `${name} stays base`);
    else assertClose(got, referenceFold(values(f.baseTensors.get(name)!), m, 4, false), name, 0);
  }
  assert.match(plan.notes.join('\n'), /not applied under recipe 'taia': down_proj, gate_proj, up_proj/);
  assert.equal(plan.counts.attention.finetuned, 8);
  assert.equal(plan.counts.ffn.finetuned, 0);
});

test('rsLoRA, rank_pattern and alpha_pattern give each module its own scaling', async () => {
  const spec: AdapterSpec = {
    r: 4,
    alpha: 8,
    targets: ['q_proj', 'v_proj'],
    rslora: true,
    rankPattern: { q_proj: 8 },
    alphaPattern: { 'model.layers.1.self_attn.v_proj': 32 },
  };
  const f = fixture(shape, spec);
  const { tensors } = await runMerge(f);
  for (const m of f.modules) {
    const alpha = m.module === 'model.layers.1.self_attn.v_proj' ? 32 : 8;
    const r = m.module.endsWith('q_proj') ? 8 : 4;
    assert.equal(m.r, r);
    const name = `${m.module}.weight`;
    assertClose(
      values(tensors.get(name)!),
      referenceFold(values(f.baseTensors.get(name)!), m, alpha / Math.sqrt(r), false),
      name,
      0,
    );
  }
  // PEFT's pattern lookup: a key matches the whole module name or a dotted suffix, as a regex.
  assert.equal(patternValue({ 'layers\\.1\\..*v_proj': 3 }, 'model.layers.1.self_attn.v_proj'), 3);
  assert.equal(patternValue({ q_proj: 3 }, 'model.layers.0.self_attn.xq_proj'), undefined);
  const config = await readLoraConfig(f.adapter);
  assert.deepEqual(loraScaling(config, 'model.layers.0.self_attn.q_proj'), {
    r: 8,
    alpha: 8,
    scaling: 8 / Math.sqrt(8),
  });
});

test('--scale multiplies the folded delta', async () => {
  const f = fixture(shape, { r: 2, alpha: 4, targets: ['o_proj'] });
  const { tensors } = await runMerge(f, 'full', 0.25);
  for (const m of f.modules) {
    const name = `${m.module}.weight`;
    assertClose(
      values(tensors.get(name)!),
      referenceFold(values(f.baseTensors.get(name)!), m, 2 * 0.25, false),
      name,
      0,
    );
  }
});

test('bf16 base: the fold is computed in float32 and rounded to nearest even, bit for bit', async () => {
  const f = fixture(shape, { r: 4, alpha: 8, targets: ['q_proj', 'down_proj'] }, 'BF16');
  const { tensors } = await runMerge(f);
  for (const m of f.modules) {
    const name = `${m.module}.weight`;
    const got = new Uint16Array(tensors.get(name)!.data.slice().buffer);
    const want = referenceFold(values(f.baseTensors.get(name)!), m, 2, false);
    for (let i = 0; i < want.length; i++) {
      const w = refBf16(want[i]);
      assert.equal(got[i], w, `${name}[${i}]: got 0x${got[i].toString(16)}, want 0x${w.toString(16)}`);
    }
  }
});

test('lora_bias adds scaling·lora_B.bias to the base bias (Qwen2 q/k/v biases)', async () => {
  const f = fixture({ ...shape, qkvBias: true }, { r: 2, alpha: 2, targets: ['q_proj', 'k_proj'], loraBias: true });
  const { tensors } = await runMerge(f);
  for (const m of f.modules) {
    const name = `${m.module}.bias`;
    const base = values(f.baseTensors.get(name)!);
    assertClose(
      values(tensors.get(name)!),
      base.map((b, i) => b + 1 * m.bias![i]),
      name,
    );
  }
  // v_proj has no LoRA: its bias is copied.
  assert.deepEqual(
    tensors.get('model.layers.0.self_attn.v_proj.bias')!.data,
    f.baseTensors.get('model.layers.0.self_attn.v_proj.bias')!.data,
  );
});

test('fan_in_fan_out (GPT-2 Conv1D, weights stored [in, out]) folds the transposed delta', async () => {
  const dir = path.join(root, 'gpt2');
  const base = path.join(dir, 'base');
  mkdirSync(base, { recursive: true });
  const d = 8;
  const shapes: { name: string; shape: number[] }[] = [
    { name: 'transformer.wte.weight', shape: [20, d] },
    { name: 'transformer.wpe.weight', shape: [16, d] },
    { name: 'transformer.h.0.ln_1.weight', shape: [d] },
    { name: 'transformer.h.0.attn.c_attn.weight', shape: [d, 3 * d] },
    { name: 'transformer.h.0.attn.c_attn.bias', shape: [3 * d] },
    { name: 'transformer.h.0.attn.c_proj.weight', shape: [d, d] },
    { name: 'transformer.h.0.ln_2.weight', shape: [d] },
    { name: 'transformer.h.0.mlp.c_fc.weight', shape: [d, 4 * d] },
    { name: 'transformer.h.0.mlp.c_proj.weight', shape: [4 * d, d] },
    { name: 'transformer.ln_f.weight', shape: [d] },
  ];
  const baseTensors = new Map(
    shapes.map((s, i) => [
      s.name,
      {
        ...s,
        dtype: 'F32',
        data: f32Bytes(
          randomValues(
            s.shape.reduce((a, b) => a * b, 1),
            100 + i,
          ),
        ),
      },
    ]),
  );
  writeSafetensors(path.join(base, 'model.safetensors'), [...baseTensors.values()]);
  writeFileSync(
    path.join(base, 'config.json'),
    JSON.stringify({ model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], n_layer: 1, n_embd: d, vocab_size: 20 }),
  );
  const adapter = path.join(dir, 'adapter');
  const modules = writeAdapter(adapter, shapes, { r: 2, alpha: 4, targets: ['c_attn', 'c_proj'], fanInFanOut: true });
  assert.equal(modules.length, 3, 'c_attn and both c_proj');
  const { tensors, plan } = await runMerge({ base, adapter }, 'taia');
  for (const m of modules) {
    const name = `${m.module}.weight`;
    if (m.module.includes('.mlp.')) {
      assert.deepEqual(tensors.get(name)!.data, baseTensors.get(name)!.data, 'mlp.c_proj is FFN: reverted by taia');
    } else {
      assertClose(values(tensors.get(name)!), referenceFold(values(baseTensors.get(name)!), m, 2, true), name, 0);
    }
  }
  assert.equal(plan.tensors.find((t) => t.name === 'transformer.h.0.attn.c_proj.weight')!.cls.block, 'attention');
  assert.equal(plan.tensors.find((t) => t.name === 'transformer.h.0.mlp.c_proj.weight')!.cls.block, 'ffn');
});

test('whole tensors stored in an adapter (modules_to_save, resized embeddings) replace the base tensor', async () => {
  const f = fixture({ ...shape, tied: false }, { r: 2, alpha: 2, targets: ['q_proj'] });
  const head = {
    name: 'base_model.model.lm_head.weight',
    dtype: 'F32',
    shape: [shape.vocab, shape.hidden],
    data: f32Bytes(randomValues(shape.vocab * shape.hidden, 77)),
  };
  const file = path.join(f.adapter, 'adapter_model.safetensors');
  const buf = readFileSync(file);
  const hl = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + hl).toString()) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const existing: RefTensor[] = Object.entries(header).map(([name, h]) => ({
    name,
    dtype: h.dtype,
    shape: h.shape,
    data: buf.subarray(8 + hl + h.data_offsets[0], 8 + hl + h.data_offsets[1]),
  }));
  writeFileSync(file, encodeSafetensors([...existing, head]));
  const { tensors } = await runMerge(f, 'taia');
  assert.deepEqual(tensors.get('lm_head.weight')!.data, head.data);
  const { tensors: strict } = await runMerge(f, 'taia-strict');
  assert.deepEqual(
    strict.get('lm_head.weight')!.data,
    f.baseTensors.get('lm_head.weight')!.data,
    'taia-strict keeps base head',
  );
});

test('DoRA adapters, missing targets and wrong ranks are refused with the file named', async () => {
  const dora = fixture(shape, { r: 2, alpha: 2, targets: ['q_proj'], dora: true });
  await assert.rejects(
    planMerge({ base: dora.base, finetuned: dora.adapter, out: path.join(root, 'x1'), recipe: builtinRecipe('full')! }),
    (e: Error) => {
      assert.ok(e instanceof CheckpointError);
      assert.ok(e.message.includes(path.join(dora.adapter, 'adapter_config.json')), e.message);
      assert.match(e.message, /DoRA/);
      return true;
    },
  );
  const wrongBase = fixture({ ...shape, layers: 1 }, { r: 2, alpha: 2, targets: ['q_proj'] });
  const bigger = fixture({ ...shape, layers: 2 }, { r: 2, alpha: 2, targets: ['q_proj'] });
  await assert.rejects(
    planMerge({
      base: wrongBase.base,
      finetuned: bigger.adapter,
      out: path.join(root, 'x2'),
      recipe: builtinRecipe('full')!,
    }),
    /model\.layers\.1\.self_attn\.q_proj.*targets 'model\.layers\.1\.self_attn\.q_proj\.weight', which the base checkpoint does not have/,
  );
  const rank = fixture(shape, { r: 2, alpha: 2, targets: ['q_proj'] });
  const cfgPath = path.join(rank.adapter, 'adapter_config.json');
  writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(readFileSync(cfgPath, 'utf-8')), r: 3 }));
  await assert.rejects(
    planMerge({ base: rank.base, finetuned: rank.adapter, out: path.join(root, 'x3'), recipe: builtinRecipe('full')! }),
    /rank mismatch: config says r=3/,
  );
  assert.ok(
    !existsSync(path.join(root, 'x1')) && !existsSync(path.join(root, 'x2')) && !existsSync(path.join(root, 'x3')),
  );
});
