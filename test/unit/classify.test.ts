import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyTensor, familyForConfig, modulePath } from '../../src/core/classify/classify';
import { BUNDLED_FAMILIES as FAMILIES } from '../../src/core/classify/architectures';
import { Block, TensorClass } from '../../src/core/classify/types';
import { llamaTensorShapes } from '../helpers/models';

/** [tensor name, layer, block, module, expert?] */
type Row = [string, number | null, Block, string, number?];

/** Every row must classify as known, by `family`, with exactly the expected layer/block/module/expert. */
function expectRows(rows: Row[], family: string, hint?: string): void {
  for (const [name, layer, block, module, expert] of rows) {
    const got = classifyTensor(name, hint);
    const want: TensorClass = {
      layer,
      block,
      module,
      family,
      known: true,
      ...(expert === undefined ? {} : { expert }),
    };
    assert.deepEqual(got, want, name);
  }
}

const unknown = (layer: number | null, module: string): TensorClass => ({
  layer,
  block: 'other',
  module,
  known: false,
});

test('Llama-3: every tensor of a layer plus embeddings, final norm and head', () => {
  expectRows(
    [
      ['model.embed_tokens.weight', null, 'embedding', 'embed_tokens'],
      ['model.layers.0.input_layernorm.weight', 0, 'norm', 'input_norm'],
      ['model.layers.0.mlp.down_proj.weight', 0, 'ffn', 'down'],
      ['model.layers.0.mlp.gate_proj.weight', 0, 'ffn', 'gate'],
      ['model.layers.0.mlp.up_proj.weight', 0, 'ffn', 'up'],
      ['model.layers.0.post_attention_layernorm.weight', 0, 'norm', 'post_attention_norm'],
      ['model.layers.0.self_attn.k_proj.weight', 0, 'attention', 'k'],
      ['model.layers.0.self_attn.o_proj.weight', 0, 'attention', 'o'],
      ['model.layers.0.self_attn.q_proj.weight', 0, 'attention', 'q'],
      ['model.layers.0.self_attn.v_proj.weight', 0, 'attention', 'v'],
      ['model.layers.31.self_attn.q_proj.weight', 31, 'attention', 'q'],
      ['model.norm.weight', null, 'norm', 'final_norm'],
      ['lm_head.weight', null, 'head', 'lm_head'],
      // Llama-2 era conversions kept the rotary buffer: known, but neither attention weights nor FFN.
      ['model.layers.7.self_attn.rotary_emb.inv_freq', 7, 'other', 'rotary_emb'],
    ],
    'llama',
  );
});

test('Llama-3-8B: the whole 291-tensor checkpoint is known, 32 layers, blocks counted', () => {
  const names = llamaTensorShapes({
    layers: 32,
    hidden: 4096,
    intermediate: 14336,
    vocab: 128256,
    heads: 32,
    kvHeads: 8,
  }).map((t) => t.name);
  const classes = names.map((n) => classifyTensor(n, 'llama'));
  assert.equal(names.length, 291);
  assert.ok(classes.every((c) => c.known));
  assert.equal(Math.max(...classes.map((c) => c.layer ?? -1)), 31);
  const count = (b: Block) => classes.filter((c) => c.block === b).length;
  assert.deepEqual(
    [count('attention'), count('ffn'), count('norm'), count('embedding'), count('head')],
    [128, 96, 65, 1, 1],
  );
});

test('Mistral, Qwen2.5 (q/k/v biases) and Qwen3 (q_norm/k_norm) use the Llama rules', () => {
  expectRows(
    [
      ['model.layers.3.self_attn.q_proj.bias', 3, 'attention', 'q'],
      ['model.layers.3.self_attn.k_proj.bias', 3, 'attention', 'k'],
      ['model.layers.3.self_attn.v_proj.bias', 3, 'attention', 'v'],
      ['model.layers.3.self_attn.q_norm.weight', 3, 'attention', 'q_norm'],
      ['model.layers.3.self_attn.k_norm.weight', 3, 'attention', 'k_norm'],
      ['model.layers.3.mlp.up_proj.weight', 3, 'ffn', 'up'],
    ],
    'llama',
  );
  assert.equal(familyForConfig({ model_type: 'mistral' }), 'llama');
  assert.equal(familyForConfig({ model_type: 'qwen2' }), 'llama');
  assert.equal(familyForConfig({ model_type: 'qwen3' }), 'llama');
});

test('Gemma2/Gemma3: four norms per layer, tied head absent; Gemma3 multimodal prefixes', () => {
  const gemma2: Row[] = [
    ['model.embed_tokens.weight', null, 'embedding', 'embed_tokens'],
    ['model.layers.0.input_layernorm.weight', 0, 'norm', 'input_norm'],
    ['model.layers.0.post_attention_layernorm.weight', 0, 'norm', 'post_attention_norm'],
    ['model.layers.0.pre_feedforward_layernorm.weight', 0, 'norm', 'pre_ffn_norm'],
    ['model.layers.0.post_feedforward_layernorm.weight', 0, 'norm', 'post_ffn_norm'],
    ['model.layers.0.mlp.gate_proj.weight', 0, 'ffn', 'gate'],
    ['model.layers.0.mlp.up_proj.weight', 0, 'ffn', 'up'],
    ['model.layers.0.mlp.down_proj.weight', 0, 'ffn', 'down'],
    ['model.layers.0.self_attn.q_proj.weight', 0, 'attention', 'q'],
    ['model.layers.0.self_attn.k_proj.weight', 0, 'attention', 'k'],
    ['model.layers.0.self_attn.v_proj.weight', 0, 'attention', 'v'],
    ['model.layers.0.self_attn.o_proj.weight', 0, 'attention', 'o'],
    ['model.norm.weight', null, 'norm', 'final_norm'],
  ];
  expectRows(gemma2, 'llama', 'gemma2');
  expectRows(
    [
      // Gemma3ForConditionalGeneration as saved by transformers < 4.52 ...
      ['language_model.model.embed_tokens.weight', null, 'embedding', 'embed_tokens'],
      ['language_model.model.layers.5.self_attn.q_norm.weight', 5, 'attention', 'q_norm'],
      ['language_model.model.layers.5.pre_feedforward_layernorm.weight', 5, 'norm', 'pre_ffn_norm'],
      ['language_model.model.norm.weight', null, 'norm', 'final_norm'],
      ['language_model.lm_head.weight', null, 'head', 'lm_head'],
      // ... and by later versions.
      ['model.language_model.layers.5.self_attn.k_norm.weight', 5, 'attention', 'k_norm'],
      ['model.language_model.layers.5.mlp.down_proj.weight', 5, 'ffn', 'down'],
      ['model.language_model.embed_tokens.weight', null, 'embedding', 'embed_tokens'],
    ],
    'llama',
    'gemma3',
  );
  // The vision tower has attention too, but it is not the language model's: a tower, outside the layer
  // stack, that follows the recipe's default (issue 15).
  const tower = (module: string): TensorClass => ({
    layer: null,
    block: 'other',
    module,
    tower: 'vision',
    family: 'multimodal',
    known: true,
  });
  assert.deepEqual(
    classifyTensor('vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.weight', 'gemma3'),
    tower('vision'),
  );
  assert.deepEqual(classifyTensor('multi_modal_projector.mm_input_projection_weight', 'gemma3'), tower('projector'));
  assert.equal(familyForConfig({ model_type: 'gemma3', architectures: ['Gemma3ForConditionalGeneration'] }), 'llama');
});

test('Phi-3: fused qkv_proj and gate_up_proj', () => {
  expectRows(
    [
      ['model.embed_tokens.weight', null, 'embedding', 'embed_tokens'],
      ['model.layers.0.input_layernorm.weight', 0, 'norm', 'input_norm'],
      ['model.layers.0.mlp.down_proj.weight', 0, 'ffn', 'down'],
      ['model.layers.0.mlp.gate_up_proj.weight', 0, 'ffn', 'gate_up'],
      ['model.layers.0.post_attention_layernorm.weight', 0, 'norm', 'post_attention_norm'],
      ['model.layers.0.self_attn.o_proj.weight', 0, 'attention', 'o'],
      ['model.layers.0.self_attn.qkv_proj.weight', 0, 'attention', 'qkv'],
      ['model.norm.weight', null, 'norm', 'final_norm'],
      ['lm_head.weight', null, 'head', 'lm_head'],
    ],
    'phi3',
    'phi3',
  );
  // Without a hint the fused names still resolve (only Phi-3 has them).
  assert.equal(classifyTensor('model.layers.9.mlp.gate_up_proj.weight').module, 'gate_up');
  assert.equal(classifyTensor('model.layers.9.self_attn.qkv_proj.weight').block, 'attention');
});

test('Phi-2: self_attn.dense is the output projection, fc1/fc2 the FFN', () => {
  expectRows(
    [
      ['model.embed_tokens.weight', null, 'embedding', 'embed_tokens'],
      ['model.layers.0.input_layernorm.bias', 0, 'norm', 'input_norm'],
      ['model.layers.0.input_layernorm.weight', 0, 'norm', 'input_norm'],
      ['model.layers.0.mlp.fc1.bias', 0, 'ffn', 'fc_in'],
      ['model.layers.0.mlp.fc1.weight', 0, 'ffn', 'fc_in'],
      ['model.layers.0.mlp.fc2.weight', 0, 'ffn', 'fc_out'],
      ['model.layers.0.self_attn.dense.weight', 0, 'attention', 'o'],
      ['model.layers.0.self_attn.k_proj.weight', 0, 'attention', 'k'],
      ['model.layers.0.self_attn.q_proj.bias', 0, 'attention', 'q'],
      ['model.layers.0.self_attn.v_proj.weight', 0, 'attention', 'v'],
      ['model.final_layernorm.weight', null, 'norm', 'final_norm'],
      ['lm_head.bias', null, 'head', 'lm_head'],
    ],
    'phi',
    'phi',
  );
});

test('StarCoder2: Llama attention with c_fc/c_proj FFN', () => {
  expectRows(
    [
      ['model.layers.2.self_attn.o_proj.bias', 2, 'attention', 'o'],
      ['model.layers.2.mlp.c_fc.weight', 2, 'ffn', 'fc_in'],
      ['model.layers.2.mlp.c_proj.bias', 2, 'ffn', 'fc_out'],
      ['model.layers.2.post_attention_layernorm.bias', 2, 'norm', 'post_attention_norm'],
    ],
    'starcoder2',
    'starcoder2',
  );
});

test('GPT-2: two c_proj tensors, one attention output and one FFN; bare and transformer.-prefixed names', () => {
  const layer = (p: string): Row[] => [
    [`${p}h.0.attn.bias`, 0, 'other', 'causal_mask'],
    [`${p}h.0.attn.masked_bias`, 0, 'other', 'causal_mask'],
    [`${p}h.0.attn.c_attn.bias`, 0, 'attention', 'qkv'],
    [`${p}h.0.attn.c_attn.weight`, 0, 'attention', 'qkv'],
    [`${p}h.0.attn.c_proj.bias`, 0, 'attention', 'o'],
    [`${p}h.0.attn.c_proj.weight`, 0, 'attention', 'o'],
    [`${p}h.0.ln_1.bias`, 0, 'norm', 'input_norm'],
    [`${p}h.0.ln_1.weight`, 0, 'norm', 'input_norm'],
    [`${p}h.0.ln_2.bias`, 0, 'norm', 'post_attention_norm'],
    [`${p}h.0.ln_2.weight`, 0, 'norm', 'post_attention_norm'],
    [`${p}h.0.mlp.c_fc.bias`, 0, 'ffn', 'fc_in'],
    [`${p}h.0.mlp.c_fc.weight`, 0, 'ffn', 'fc_in'],
    [`${p}h.0.mlp.c_proj.bias`, 0, 'ffn', 'fc_out'],
    [`${p}h.0.mlp.c_proj.weight`, 0, 'ffn', 'fc_out'],
    [`${p}h.11.mlp.c_proj.weight`, 11, 'ffn', 'fc_out'],
    [`${p}ln_f.bias`, null, 'norm', 'final_norm'],
    [`${p}ln_f.weight`, null, 'norm', 'final_norm'],
    [`${p}wpe.weight`, null, 'embedding', 'embed_positions'],
    [`${p}wte.weight`, null, 'embedding', 'embed_tokens'],
  ];
  // openai-community/gpt2's model.safetensors was saved from the bare GPT2Model.
  expectRows(layer(''), 'gpt2');
  expectRows([...layer('transformer.'), ['lm_head.weight', null, 'head', 'lm_head']], 'gpt2', 'gpt2');
  assert.equal(familyForConfig({ architectures: ['GPT2LMHeadModel'] }), 'gpt2');
});

test('GPT-J: q/k/v/out_proj and fc_in/fc_out', () => {
  expectRows(
    [
      ['transformer.wte.weight', null, 'embedding', 'embed_tokens'],
      ['transformer.h.0.ln_1.weight', 0, 'norm', 'input_norm'],
      ['transformer.h.0.attn.q_proj.weight', 0, 'attention', 'q'],
      ['transformer.h.0.attn.k_proj.weight', 0, 'attention', 'k'],
      ['transformer.h.0.attn.v_proj.weight', 0, 'attention', 'v'],
      ['transformer.h.0.attn.out_proj.weight', 0, 'attention', 'o'],
      ['transformer.h.0.attn.masked_bias', 0, 'other', 'causal_mask'],
      ['transformer.h.0.mlp.fc_in.bias', 0, 'ffn', 'fc_in'],
      ['transformer.h.0.mlp.fc_out.weight', 0, 'ffn', 'fc_out'],
      ['transformer.ln_f.weight', null, 'norm', 'final_norm'],
      ['lm_head.bias', null, 'head', 'lm_head'],
    ],
    'gptj',
    'gptj',
  );
});

test('GPT-NeoX/Pythia: fused query_key_value, dense_h_to_4h/dense_4h_to_h, buffers known as other', () => {
  expectRows(
    [
      ['gpt_neox.embed_in.weight', null, 'embedding', 'embed_tokens'],
      ['gpt_neox.layers.0.input_layernorm.bias', 0, 'norm', 'input_norm'],
      ['gpt_neox.layers.0.input_layernorm.weight', 0, 'norm', 'input_norm'],
      ['gpt_neox.layers.0.post_attention_layernorm.bias', 0, 'norm', 'post_attention_norm'],
      ['gpt_neox.layers.0.post_attention_layernorm.weight', 0, 'norm', 'post_attention_norm'],
      ['gpt_neox.layers.0.attention.bias', 0, 'other', 'causal_mask'],
      ['gpt_neox.layers.0.attention.masked_bias', 0, 'other', 'causal_mask'],
      ['gpt_neox.layers.0.attention.rotary_emb.inv_freq', 0, 'other', 'rotary_emb'],
      ['gpt_neox.layers.0.attention.query_key_value.bias', 0, 'attention', 'qkv'],
      ['gpt_neox.layers.0.attention.query_key_value.weight', 0, 'attention', 'qkv'],
      ['gpt_neox.layers.0.attention.dense.bias', 0, 'attention', 'o'],
      ['gpt_neox.layers.0.attention.dense.weight', 0, 'attention', 'o'],
      ['gpt_neox.layers.0.mlp.dense_h_to_4h.bias', 0, 'ffn', 'fc_in'],
      ['gpt_neox.layers.0.mlp.dense_h_to_4h.weight', 0, 'ffn', 'fc_in'],
      ['gpt_neox.layers.0.mlp.dense_4h_to_h.bias', 0, 'ffn', 'fc_out'],
      ['gpt_neox.layers.5.mlp.dense_4h_to_h.weight', 5, 'ffn', 'fc_out'],
      ['gpt_neox.final_layer_norm.bias', null, 'norm', 'final_norm'],
      ['gpt_neox.final_layer_norm.weight', null, 'norm', 'final_norm'],
      ['embed_out.weight', null, 'head', 'lm_head'],
    ],
    'gpt_neox',
  );
  assert.equal(familyForConfig({ model_type: 'gpt_neox', architectures: ['GPTNeoXForCausalLM'] }), 'gpt_neox');
  assert.equal(familyForConfig({ architectures: ['GPTNeoXForCausalLM'] }), 'gpt_neox');
});

test('Falcon: 7B (one input_layernorm), 40B (ln_attn/ln_mlp) and rw (post_attention_layernorm)', () => {
  expectRows(
    [
      ['transformer.word_embeddings.weight', null, 'embedding', 'embed_tokens'],
      ['transformer.h.0.input_layernorm.bias', 0, 'norm', 'input_norm'],
      ['transformer.h.0.input_layernorm.weight', 0, 'norm', 'input_norm'],
      ['transformer.h.0.self_attention.query_key_value.weight', 0, 'attention', 'qkv'],
      ['transformer.h.0.self_attention.dense.weight', 0, 'attention', 'o'],
      ['transformer.h.0.mlp.dense_h_to_4h.weight', 0, 'ffn', 'fc_in'],
      ['transformer.h.0.mlp.dense_4h_to_h.weight', 0, 'ffn', 'fc_out'],
      ['transformer.h.59.ln_attn.weight', 59, 'norm', 'input_norm'],
      ['transformer.h.59.ln_mlp.bias', 59, 'norm', 'pre_ffn_norm'],
      ['transformer.h.3.post_attention_layernorm.weight', 3, 'norm', 'post_attention_norm'],
      ['transformer.h.3.self_attention.dense.bias', 3, 'attention', 'o'],
      ['transformer.ln_f.weight', null, 'norm', 'final_norm'],
      ['lm_head.weight', null, 'head', 'lm_head'],
    ],
    'falcon',
    'falcon',
  );
  // Without a hint, Falcon-only names still resolve past the GPT-2 rows that share `transformer.h.N.`.
  assert.deepEqual(classifyTensor('transformer.h.4.self_attention.query_key_value.weight'), {
    layer: 4,
    block: 'attention',
    module: 'qkv',
    family: 'falcon',
    known: true,
  });
  assert.equal(classifyTensor('transformer.h.4.mlp.dense_4h_to_h.weight').block, 'ffn');
  assert.equal(familyForConfig({ model_type: 'RefinedWebModel' }), 'falcon');
});

test('Mixtral: block_sparse_moe.gate is the router; w1/w3/w2 are gate/up/down of an expert', () => {
  const rows: Row[] = [
    ['model.layers.0.block_sparse_moe.gate.weight', 0, 'router', 'router'],
    ['model.layers.0.input_layernorm.weight', 0, 'norm', 'input_norm'],
    ['model.layers.0.post_attention_layernorm.weight', 0, 'norm', 'post_attention_norm'],
    ['model.layers.0.self_attn.q_proj.weight', 0, 'attention', 'q'],
    ['model.layers.0.self_attn.k_proj.weight', 0, 'attention', 'k'],
    ['model.layers.0.self_attn.v_proj.weight', 0, 'attention', 'v'],
    ['model.layers.0.self_attn.o_proj.weight', 0, 'attention', 'o'],
  ];
  for (let e = 0; e < 8; e++) {
    rows.push([`model.layers.0.block_sparse_moe.experts.${e}.w1.weight`, 0, 'ffn', 'gate', e]);
    rows.push([`model.layers.0.block_sparse_moe.experts.${e}.w2.weight`, 0, 'ffn', 'down', e]);
    rows.push([`model.layers.0.block_sparse_moe.experts.${e}.w3.weight`, 0, 'ffn', 'up', e]);
  }
  expectRows(rows, 'mixtral', 'mixtral');
  // Unhinted, the MoE-only names still find Mixtral.
  assert.deepEqual(classifyTensor('model.layers.31.block_sparse_moe.experts.7.w2.weight'), {
    layer: 31,
    block: 'ffn',
    module: 'down',
    expert: 7,
    family: 'mixtral',
    known: true,
  });
  assert.equal(classifyTensor('model.layers.31.block_sparse_moe.gate.weight').block, 'router');
  assert.equal(familyForConfig({ architectures: ['MixtralForCausalLM'] }), 'mixtral');
});

test('Qwen2-MoE: router, routed experts, shared expert and its gate; dense mlp_only layers', () => {
  expectRows(
    [
      ['model.layers.0.mlp.gate.weight', 0, 'router', 'router'],
      ['model.layers.0.mlp.shared_expert_gate.weight', 0, 'router', 'shared_expert_gate'],
      ['model.layers.0.mlp.experts.0.gate_proj.weight', 0, 'ffn', 'gate', 0],
      ['model.layers.0.mlp.experts.0.up_proj.weight', 0, 'ffn', 'up', 0],
      ['model.layers.0.mlp.experts.59.down_proj.weight', 0, 'ffn', 'down', 59],
      ['model.layers.0.mlp.shared_expert.gate_proj.weight', 0, 'ffn', 'shared_gate'],
      ['model.layers.0.mlp.shared_expert.up_proj.weight', 0, 'ffn', 'shared_up'],
      ['model.layers.0.mlp.shared_expert.down_proj.weight', 0, 'ffn', 'shared_down'],
      ['model.layers.0.self_attn.q_proj.bias', 0, 'attention', 'q'],
      ['model.layers.0.self_attn.k_proj.weight', 0, 'attention', 'k'],
      ['model.layers.0.self_attn.v_proj.bias', 0, 'attention', 'v'],
      ['model.layers.0.self_attn.o_proj.weight', 0, 'attention', 'o'],
      ['model.layers.0.input_layernorm.weight', 0, 'norm', 'input_norm'],
      ['model.layers.0.post_attention_layernorm.weight', 0, 'norm', 'post_attention_norm'],
      ['model.layers.23.mlp.gate_proj.weight', 23, 'ffn', 'gate'],
      ['model.embed_tokens.weight', null, 'embedding', 'embed_tokens'],
      ['model.norm.weight', null, 'norm', 'final_norm'],
      ['lm_head.weight', null, 'head', 'lm_head'],
    ],
    'qwen_moe',
    'qwen2_moe',
  );
});

test('Qwen3-MoE: router and 128 experts, q_norm/k_norm in attention', () => {
  expectRows(
    [
      ['model.layers.47.mlp.gate.weight', 47, 'router', 'router'],
      ['model.layers.47.mlp.experts.127.gate_proj.weight', 47, 'ffn', 'gate', 127],
      ['model.layers.47.mlp.experts.127.up_proj.weight', 47, 'ffn', 'up', 127],
      ['model.layers.47.mlp.experts.127.down_proj.weight', 47, 'ffn', 'down', 127],
      ['model.layers.47.self_attn.q_norm.weight', 47, 'attention', 'q_norm'],
      ['model.layers.47.self_attn.k_norm.weight', 47, 'attention', 'k_norm'],
    ],
    'qwen_moe',
    'qwen3_moe',
  );
  assert.equal(familyForConfig({ model_type: 'qwen3_moe' }), 'qwen_moe');
  assert.equal(familyForConfig({ architectures: ['Qwen2MoeForCausalLM'] }), 'qwen_moe');
});

test('DeepSeek-V2-Lite: plain q_proj MLA, a dense first layer, then router + routed and shared experts', () => {
  expectRows(
    [
      ['model.layers.0.self_attn.q_proj.weight', 0, 'attention', 'q'],
      ['model.layers.0.self_attn.kv_a_proj_with_mqa.weight', 0, 'attention', 'kv_a'],
      ['model.layers.0.self_attn.kv_a_layernorm.weight', 0, 'attention', 'kv_a_norm'],
      ['model.layers.0.self_attn.kv_b_proj.weight', 0, 'attention', 'kv_b'],
      ['model.layers.0.self_attn.o_proj.weight', 0, 'attention', 'o'],
      ['model.layers.0.mlp.gate_proj.weight', 0, 'ffn', 'gate'],
      ['model.layers.0.mlp.up_proj.weight', 0, 'ffn', 'up'],
      ['model.layers.0.mlp.down_proj.weight', 0, 'ffn', 'down'],
      ['model.layers.0.input_layernorm.weight', 0, 'norm', 'input_norm'],
      ['model.layers.0.post_attention_layernorm.weight', 0, 'norm', 'post_attention_norm'],
      ['model.layers.1.mlp.gate.weight', 1, 'router', 'router'],
      ['model.layers.1.mlp.experts.63.gate_proj.weight', 1, 'ffn', 'gate', 63],
      ['model.layers.1.mlp.experts.63.up_proj.weight', 1, 'ffn', 'up', 63],
      ['model.layers.1.mlp.experts.63.down_proj.weight', 1, 'ffn', 'down', 63],
      ['model.layers.1.mlp.shared_experts.gate_proj.weight', 1, 'ffn', 'shared_gate'],
      ['model.layers.1.mlp.shared_experts.up_proj.weight', 1, 'ffn', 'shared_up'],
      ['model.layers.1.mlp.shared_experts.down_proj.weight', 1, 'ffn', 'shared_down'],
      ['model.embed_tokens.weight', null, 'embedding', 'embed_tokens'],
      ['model.norm.weight', null, 'norm', 'final_norm'],
      ['lm_head.weight', null, 'head', 'lm_head'],
    ],
    'deepseek',
    'deepseek_v2',
  );
});

test('DeepSeek-V3: q_a/q_b MLA, FP8 scales, e_score_correction_bias router, multi-token-prediction layer', () => {
  expectRows(
    [
      ['model.layers.3.self_attn.q_a_proj.weight', 3, 'attention', 'q_a'],
      ['model.layers.3.self_attn.q_a_proj.weight_scale_inv', 3, 'attention', 'q_a'],
      ['model.layers.3.self_attn.q_a_layernorm.weight', 3, 'attention', 'q_a_norm'],
      ['model.layers.3.self_attn.q_b_proj.weight', 3, 'attention', 'q_b'],
      ['model.layers.3.self_attn.kv_a_proj_with_mqa.weight', 3, 'attention', 'kv_a'],
      ['model.layers.3.self_attn.kv_a_layernorm.weight', 3, 'attention', 'kv_a_norm'],
      ['model.layers.3.self_attn.kv_b_proj.weight', 3, 'attention', 'kv_b'],
      ['model.layers.3.self_attn.o_proj.weight', 3, 'attention', 'o'],
      ['model.layers.3.mlp.gate.weight', 3, 'router', 'router'],
      ['model.layers.3.mlp.gate.e_score_correction_bias', 3, 'router', 'router'],
      ['model.layers.3.mlp.experts.255.down_proj.weight', 3, 'ffn', 'down', 255],
      ['model.layers.3.mlp.experts.255.down_proj.weight_scale_inv', 3, 'ffn', 'down', 255],
      ['model.layers.3.mlp.shared_experts.up_proj.weight', 3, 'ffn', 'shared_up'],
      ['model.layers.61.enorm.weight', 61, 'norm', 'mtp_embed_norm'],
      ['model.layers.61.hnorm.weight', 61, 'norm', 'mtp_hidden_norm'],
      ['model.layers.61.eh_proj.weight', 61, 'other', 'mtp_proj'],
      ['model.layers.61.embed_tokens.weight', 61, 'embedding', 'embed_tokens'],
      ['model.layers.61.shared_head.norm.weight', 61, 'norm', 'final_norm'],
      ['model.layers.61.shared_head.head.weight', 61, 'head', 'lm_head'],
    ],
    'deepseek',
    'deepseek_v3',
  );
  assert.equal(familyForConfig({ model_type: 'deepseek_v3', architectures: ['DeepseekV3ForCausalLM'] }), 'deepseek');
});

test('routers are never FFN, whatever family is tried first', () => {
  const routers = [
    'model.layers.2.block_sparse_moe.gate.weight',
    'model.layers.2.mlp.gate.weight',
    'model.layers.2.mlp.gate.e_score_correction_bias',
    'model.layers.2.mlp.shared_expert_gate.weight',
  ];
  for (const hint of [undefined, ...FAMILIES.map((f) => f.name)]) {
    for (const name of routers) assert.equal(classifyTensor(name, hint).block, 'router', `${name} with hint ${hint}`);
    // ... and the FFN matrices whose names contain "gate" are never routers.
    assert.equal(classifyTensor('model.layers.2.mlp.gate_proj.weight', hint).block, 'ffn');
    assert.equal(classifyTensor('model.layers.2.mlp.shared_expert.gate_proj.weight', hint).block, 'ffn');
    assert.equal(classifyTensor('model.layers.2.block_sparse_moe.experts.1.w1.weight', hint).block, 'ffn');
  }
});

test('PEFT LoRA keys classify as the module they adapt', () => {
  expectRows(
    [
      ['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', 0, 'attention', 'q'],
      ['base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight', 0, 'attention', 'q'],
      ['base_model.model.model.layers.0.self_attn.q_proj.lora_B.bias', 0, 'attention', 'q'],
      ['base_model.model.model.layers.9.mlp.down_proj.lora_A.weight', 9, 'ffn', 'down'],
      ['base_model.model.model.layers.9.mlp.gate_proj.lora_B.weight', 9, 'ffn', 'gate'],
      ['base_model.model.model.embed_tokens.lora_embedding_A', null, 'embedding', 'embed_tokens'],
      ['base_model.model.model.embed_tokens.lora_embedding_B', null, 'embedding', 'embed_tokens'],
      ['base_model.model.model.layers.1.self_attn.v_proj.lora_magnitude_vector', 1, 'attention', 'v'],
      // modules_to_save as saved (wrapper removed) and as held in memory.
      ['base_model.model.lm_head.weight', null, 'head', 'lm_head'],
      ['base_model.model.lm_head.modules_to_save.default.weight', null, 'head', 'lm_head'],
      ['base_model.model.lm_head.original_module.weight', null, 'head', 'lm_head'],
      // In-memory names: adapter name kept, base layer wrapped.
      ['base_model.model.model.layers.0.self_attn.k_proj.lora_A.default.weight', 0, 'attention', 'k'],
      ['base_model.model.model.layers.0.self_attn.k_proj.base_layer.weight', 0, 'attention', 'k'],
      ['base_model.model.model.layers.0.self_attn.k_proj.lora_magnitude_vector.default.weight', 0, 'attention', 'k'],
      ['base_model.model.model.language_model.layers.2.self_attn.o_proj.lora_A.weight', 2, 'attention', 'o'],
    ],
    'llama',
  );
  expectRows(
    [
      ['base_model.model.transformer.h.0.attn.c_attn.lora_A.weight', 0, 'attention', 'qkv'],
      ['base_model.model.transformer.h.0.attn.c_proj.lora_B.weight', 0, 'attention', 'o'],
      ['base_model.model.transformer.h.0.mlp.c_proj.lora_B.weight', 0, 'ffn', 'fc_out'],
    ],
    'gpt2',
  );
  expectRows(
    [['base_model.model.model.layers.1.block_sparse_moe.experts.3.w1.lora_A.weight', 1, 'ffn', 'gate', 3]],
    'mixtral',
  );
  assert.equal(
    modulePath('base_model.model.model.layers.0.self_attn.q_proj.lora_B.bias'),
    'model.layers.0.self_attn.q_proj',
  );
  assert.equal(modulePath('model.layers.3.mlp.gate.e_score_correction_bias'), 'model.layers.3.mlp.gate');
});

test('unknown names are reported as unknown, never guessed, with the layer when a prefix matched', () => {
  assert.deepEqual(classifyTensor('model.layers.4.self_attn.rope_scale.weight'), unknown(4, 'rope_scale'));
  assert.deepEqual(classifyTensor('model.layers.4.feed_forward.w9.weight'), unknown(4, 'w9'));
  // Near-misses of real names match no architecture rule; the paper's substring rule still makes them
  // FFN, as the paper's code would (issue 15: that rule is applied everywhere).
  assert.deepEqual(classifyTensor('model.layers.1.mlp.gate_proj_extra.weight'), {
    ...unknown(1, 'gate'),
    block: 'ffn',
    known: true,
    byPaperRule: true,
  });
  assert.deepEqual(classifyTensor('model.layers.1.mlp.experts.x.up_proj.weight'), {
    ...unknown(1, 'up'),
    block: 'ffn',
    known: true,
    byPaperRule: true,
  });
  assert.deepEqual(classifyTensor('transformer.h.2.mystery.weight'), unknown(2, 'mystery'));
  assert.deepEqual(classifyTensor('encoder.block.0.layer.0.SelfAttention.q.weight'), unknown(null, 'q'));
  assert.deepEqual(classifyTensor('model.embed_tokens_extra.weight'), unknown(null, 'embed_tokens_extra'));
  assert.deepEqual(classifyTensor('scale'), unknown(null, 'scale'));
});

test('a family hint puts that family first but does not restrict; unknown hints fall back', () => {
  const q = 'model.layers.0.self_attn.q_proj.weight';
  assert.equal(classifyTensor(q).family, 'llama');
  assert.equal(classifyTensor(q, 'deepseek_v3').family, 'deepseek');
  assert.equal(classifyTensor(q, 'qwen3_moe').family, 'qwen_moe');
  assert.equal(classifyTensor(q, 'mixtral').family, 'mixtral');
  // By family name or model_type, any case.
  assert.equal(classifyTensor(q, 'Qwen_MoE').family, 'qwen_moe');
  assert.equal(classifyTensor(q, 'bert').family, 'llama');
  // A GPT-2 tensor under a Llama hint is still GPT-2's.
  assert.deepEqual(classifyTensor('transformer.h.0.mlp.c_proj.weight', 'llama'), {
    layer: 0,
    block: 'ffn',
    module: 'fc_out',
    family: 'gpt2',
    known: true,
  });
  // Shared-prefix families: the hint decides which family's name is reported for shared rules.
  assert.equal(classifyTensor('transformer.ln_f.weight', 'falcon').family, 'falcon');
  assert.equal(classifyTensor('transformer.ln_f.weight').family, 'gpt2');
});

test('familyForConfig: model_type, then text_config.model_type, then architectures; undefined when unknown', () => {
  assert.equal(familyForConfig({ model_type: 'llama' }), 'llama');
  assert.equal(familyForConfig({ model_type: 'phi3', architectures: ['Phi3ForCausalLM'] }), 'phi3');
  assert.equal(familyForConfig({ model_type: 'llava', text_config: { model_type: 'mistral' } }), 'llama');
  assert.equal(familyForConfig({ architectures: ['Qwen2ForCausalLM'] }), 'llama');
  assert.equal(familyForConfig({ model_type: 'bert', architectures: ['BertForMaskedLM'] }), undefined);
  assert.equal(familyForConfig({}), undefined);
  assert.equal(familyForConfig({ model_type: 42, architectures: 'LlamaForCausalLM' }), undefined);
});

test('every model_type in the table maps to its own family', () => {
  for (const f of FAMILIES) for (const t of f.modelTypes) assert.equal(familyForConfig({ model_type: t }), f.name, t);
});

test('an unknown LoRA tensor is reported by the module it adapts', () => {
  assert.deepEqual(classifyTensor('base_model.model.model.layers.2.mixer.wx.lora_A.weight'), unknown(2, 'wx'));
});
