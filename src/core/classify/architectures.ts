import { Block } from './types';

/**
 * One rule: a pattern matched against the whole module path (the tensor name without its parameter
 * suffix such as `.weight`/`.bias`), the block it belongs to, and the short module name. `$<g>` in the
 * module name is replaced by the named group `g`; a named group `expert` is the expert index.
 */
export type TensorRule = readonly [pattern: RegExp, block: Block, module: string];

export interface ArchitectureFamily {
  name: string;
  /** Hugging Face config.json `model_type` values this family covers. */
  modelTypes: readonly string[];
  /** Matches the start of a decoder layer's module paths; group 1 is the layer index. */
  layerPrefix: RegExp;
  /** Rules for the module path after the layer prefix. */
  layer: readonly TensorRule[];
  /** Rules for module paths outside the layer stack. */
  outside: readonly TensorRule[];
}

// Rule sets shared by families that use the same module names; each family row lists what it has.

const LLAMA_ATTENTION: readonly TensorRule[] = [
  [/self_attn\.(?<m>[qkvo])_proj/, 'attention', '$<m>'],
  // Qwen3, Gemma3, OLMo2: per-head norms inside attention; they are trained with it.
  [/self_attn\.(?<m>[qk])_norm/, 'attention', '$<m>_norm'],
  // Older Llama conversions saved the rotary frequencies as a buffer.
  [/self_attn\.rotary_emb/, 'other', 'rotary_emb'],
];

const LLAMA_NORMS: readonly TensorRule[] = [
  [/input_layernorm/, 'norm', 'input_norm'],
  [/post_attention_layernorm/, 'norm', 'post_attention_norm'],
  // Gemma2/3, OLMo2: norms around the FFN.
  [/pre_feedforward_layernorm/, 'norm', 'pre_ffn_norm'],
  [/post_feedforward_layernorm/, 'norm', 'post_ffn_norm'],
];

const GATED_MLP: readonly TensorRule[] = [[/mlp\.(?<m>gate|up|down)_proj/, 'ffn', '$<m>']];

const LLAMA_OUTSIDE: readonly TensorRule[] = [
  [/model\.embed_tokens/, 'embedding', 'embed_tokens'],
  [/model\.norm/, 'norm', 'final_norm'],
  [/lm_head/, 'head', 'lm_head'],
];

// Qwen2-MoE, Qwen3-MoE and DeepSeek routed experts; the router is `mlp.gate` (no `_proj`).
const ROUTED_EXPERTS: readonly TensorRule[] = [
  [/mlp\.gate/, 'router', 'router'],
  [/mlp\.experts\.(?<expert>\d+)\.(?<m>gate|up|down)_proj/, 'ffn', '$<m>'],
];

const MODEL_LAYERS = /^model\.layers\.(\d+)\./;
// The original GPT-2 and StarCoder checkpoints were saved from the bare model, without `transformer.`.
const TRANSFORMER_H = /^(?:transformer\.)?h\.(\d+)\./;

/**
 * The architecture table. Without a family hint the first family whose rule matches wins, so a family
 * listed earlier must never claim a name that a later family means differently.
 */
export const FAMILIES: readonly ArchitectureFamily[] = [
  {
    name: 'llama',
    modelTypes: ['llama', 'mistral', 'qwen2', 'qwen3', 'gemma', 'gemma2', 'gemma3', 'gemma3_text', 'granite', 'olmo2', 'qwen2_vl', 'qwen2_5_vl'],
    layerPrefix: MODEL_LAYERS,
    layer: [...LLAMA_ATTENTION, ...GATED_MLP, ...LLAMA_NORMS],
    outside: LLAMA_OUTSIDE,
  },
  {
    name: 'phi3',
    modelTypes: ['phi3'],
    layerPrefix: MODEL_LAYERS,
    layer: [
      [/self_attn\.qkv_proj/, 'attention', 'qkv'],
      [/self_attn\.o_proj/, 'attention', 'o'],
      [/mlp\.gate_up_proj/, 'ffn', 'gate_up'],
      [/mlp\.down_proj/, 'ffn', 'down'],
      ...LLAMA_NORMS,
    ],
    outside: LLAMA_OUTSIDE,
  },
  {
    name: 'phi',
    modelTypes: ['phi'],
    layerPrefix: MODEL_LAYERS,
    layer: [
      [/self_attn\.(?<m>[qkv])_proj/, 'attention', '$<m>'],
      [/self_attn\.dense/, 'attention', 'o'],
      [/self_attn\.(?<m>[qk])_layernorm/, 'attention', '$<m>_norm'],
      [/mlp\.fc1/, 'ffn', 'fc_in'],
      [/mlp\.fc2/, 'ffn', 'fc_out'],
      [/input_layernorm/, 'norm', 'input_norm'],
    ],
    outside: [
      [/model\.embed_tokens/, 'embedding', 'embed_tokens'],
      [/model\.final_layernorm/, 'norm', 'final_norm'],
      [/lm_head/, 'head', 'lm_head'],
    ],
  },
  {
    name: 'starcoder2',
    modelTypes: ['starcoder2'],
    layerPrefix: MODEL_LAYERS,
    layer: [...LLAMA_ATTENTION, [/mlp\.c_fc/, 'ffn', 'fc_in'], [/mlp\.c_proj/, 'ffn', 'fc_out'], ...LLAMA_NORMS],
    outside: LLAMA_OUTSIDE,
  },
  {
    name: 'mixtral',
    modelTypes: ['mixtral'],
    layerPrefix: MODEL_LAYERS,
    layer: [
      ...LLAMA_ATTENTION,
      [/block_sparse_moe\.gate/, 'router', 'router'],
      [/block_sparse_moe\.experts\.(?<expert>\d+)\.w1/, 'ffn', 'gate'],
      [/block_sparse_moe\.experts\.(?<expert>\d+)\.w3/, 'ffn', 'up'],
      [/block_sparse_moe\.experts\.(?<expert>\d+)\.w2/, 'ffn', 'down'],
      ...LLAMA_NORMS,
    ],
    outside: LLAMA_OUTSIDE,
  },
  {
    name: 'qwen_moe',
    modelTypes: ['qwen2_moe', 'qwen3_moe'],
    layerPrefix: MODEL_LAYERS,
    layer: [
      ...LLAMA_ATTENTION,
      ...ROUTED_EXPERTS,
      [/mlp\.shared_expert\.(?<m>gate|up|down)_proj/, 'ffn', 'shared_$<m>'],
      // Sigmoid gate scaling the shared expert's output per token: routing, not an FFN matrix.
      [/mlp\.shared_expert_gate/, 'router', 'shared_expert_gate'],
      // Layers listed in `mlp_only_layers` are dense.
      ...GATED_MLP,
      ...LLAMA_NORMS,
    ],
    outside: LLAMA_OUTSIDE,
  },
  {
    name: 'deepseek',
    modelTypes: ['deepseek_v2', 'deepseek_v3', 'kimi_k2'],
    layerPrefix: MODEL_LAYERS,
    layer: [
      // Multi-head latent attention; V2-Lite has a plain q_proj instead of the q_a/q_b pair.
      [/self_attn\.(?<m>q|o)_proj/, 'attention', '$<m>'],
      [/self_attn\.q_a_proj/, 'attention', 'q_a'],
      [/self_attn\.q_b_proj/, 'attention', 'q_b'],
      [/self_attn\.kv_a_proj_with_mqa/, 'attention', 'kv_a'],
      [/self_attn\.kv_b_proj/, 'attention', 'kv_b'],
      [/self_attn\.q_a_layernorm/, 'attention', 'q_a_norm'],
      [/self_attn\.kv_a_layernorm/, 'attention', 'kv_a_norm'],
      ...ROUTED_EXPERTS,
      [/mlp\.shared_experts\.(?<m>gate|up|down)_proj/, 'ffn', 'shared_$<m>'],
      // The first `first_k_dense_replace` layers are dense.
      ...GATED_MLP,
      ...LLAMA_NORMS,
      // V3's multi-token-prediction layer (the one after the last decoder layer).
      [/embed_tokens/, 'embedding', 'embed_tokens'],
      [/enorm/, 'norm', 'mtp_embed_norm'],
      [/hnorm/, 'norm', 'mtp_hidden_norm'],
      [/eh_proj/, 'other', 'mtp_proj'],
      [/shared_head\.norm/, 'norm', 'final_norm'],
      [/shared_head\.head/, 'head', 'lm_head'],
    ],
    outside: LLAMA_OUTSIDE,
  },
  {
    name: 'gpt2',
    modelTypes: ['gpt2', 'gpt_bigcode'],
    layerPrefix: TRANSFORMER_H,
    layer: [
      [/attn\.c_attn/, 'attention', 'qkv'],
      // Two `c_proj`s: the attention output projection and the FFN's second matrix.
      [/attn\.c_proj/, 'attention', 'o'],
      [/mlp\.c_fc/, 'ffn', 'fc_in'],
      [/mlp\.c_proj/, 'ffn', 'fc_out'],
      [/ln_1/, 'norm', 'input_norm'],
      [/ln_2/, 'norm', 'post_attention_norm'],
      // `attn.bias` / `attn.masked_bias` are causal-mask buffers, not parameters.
      [/attn/, 'other', 'causal_mask'],
    ],
    outside: [
      [/(?:transformer\.)?wte/, 'embedding', 'embed_tokens'],
      [/(?:transformer\.)?wpe/, 'embedding', 'embed_positions'],
      [/(?:transformer\.)?ln_f/, 'norm', 'final_norm'],
      [/lm_head/, 'head', 'lm_head'],
    ],
  },
  {
    name: 'gptj',
    modelTypes: ['gptj'],
    layerPrefix: TRANSFORMER_H,
    layer: [
      [/attn\.(?<m>[qkv])_proj/, 'attention', '$<m>'],
      [/attn\.out_proj/, 'attention', 'o'],
      [/mlp\.fc_in/, 'ffn', 'fc_in'],
      [/mlp\.fc_out/, 'ffn', 'fc_out'],
      [/ln_1/, 'norm', 'input_norm'],
      [/attn/, 'other', 'causal_mask'],
    ],
    outside: [
      [/transformer\.wte/, 'embedding', 'embed_tokens'],
      [/transformer\.ln_f/, 'norm', 'final_norm'],
      [/lm_head/, 'head', 'lm_head'],
    ],
  },
  {
    name: 'gpt_neox',
    modelTypes: ['gpt_neox'],
    layerPrefix: /^gpt_neox\.layers\.(\d+)\./,
    layer: [
      [/attention\.query_key_value/, 'attention', 'qkv'],
      [/attention\.dense/, 'attention', 'o'],
      [/mlp\.dense_h_to_4h/, 'ffn', 'fc_in'],
      [/mlp\.dense_4h_to_h/, 'ffn', 'fc_out'],
      [/input_layernorm/, 'norm', 'input_norm'],
      [/post_attention_layernorm/, 'norm', 'post_attention_norm'],
      // Buffers older Pythia checkpoints carry: rotary frequencies and the causal mask.
      [/attention\.rotary_emb/, 'other', 'rotary_emb'],
      [/attention/, 'other', 'causal_mask'],
    ],
    outside: [
      [/gpt_neox\.embed_in/, 'embedding', 'embed_tokens'],
      [/gpt_neox\.final_layer_norm/, 'norm', 'final_norm'],
      [/embed_out/, 'head', 'lm_head'],
    ],
  },
  {
    name: 'falcon',
    modelTypes: ['falcon', 'RefinedWeb', 'RefinedWebModel'],
    layerPrefix: /^transformer\.h\.(\d+)\./,
    layer: [
      [/self_attention\.query_key_value/, 'attention', 'qkv'],
      [/self_attention\.dense/, 'attention', 'o'],
      [/mlp\.dense_h_to_4h/, 'ffn', 'fc_in'],
      [/mlp\.dense_4h_to_h/, 'ffn', 'fc_out'],
      // 7B: one input_layernorm feeds parallel attention and MLP; 40B/180B: ln_attn and ln_mlp;
      // non-parallel (falcon-rw): input_layernorm and post_attention_layernorm.
      [/input_layernorm/, 'norm', 'input_norm'],
      [/ln_attn/, 'norm', 'input_norm'],
      [/ln_mlp/, 'norm', 'pre_ffn_norm'],
      [/post_attention_layernorm/, 'norm', 'post_attention_norm'],
    ],
    outside: [
      [/transformer\.word_embeddings/, 'embedding', 'embed_tokens'],
      [/transformer\.ln_f/, 'norm', 'final_norm'],
      [/lm_head/, 'head', 'lm_head'],
    ],
  },
];
