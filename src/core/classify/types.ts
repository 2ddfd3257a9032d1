/** What part of a transformer a tensor belongs to; the unit merge recipes and delta reports work in. */
export type Block = 'attention' | 'ffn' | 'norm' | 'embedding' | 'head' | 'router' | 'other';

export const BLOCKS: readonly Block[] = ['attention', 'ffn', 'norm', 'embedding', 'head', 'router', 'other'];

/** The blocks in the order a model computes them (how reports and the delta review list them). */
export const BLOCKS_IN_COMPUTE_ORDER: readonly Block[] = [
  'embedding',
  'attention',
  'router',
  'ffn',
  'norm',
  'head',
  'other',
];

/** Module names the architecture files give a layer's tensors, in the order a layer computes them; others sort after. */
export const MODULES_IN_COMPUTE_ORDER: readonly string[] = [
  'q',
  'k',
  'v',
  'qkv',
  'q_a',
  'q_a_norm',
  'q_b',
  'kv_a',
  'kv_a_norm',
  'kv_b',
  'q_norm',
  'k_norm',
  'o',
  'router',
  'shared_expert_gate',
  'gate',
  'up',
  'gate_up',
  'fc_in',
  'down',
  'fc_out',
  'shared_gate',
  'shared_up',
  'shared_down',
  'input_norm',
  'post_attention_norm',
  'pre_ffn_norm',
  'post_ffn_norm',
];

export interface TensorClass {
  /** Decoder layer index, or null for tensors outside the layer stack (embeddings, final norm, head). */
  layer: number | null;
  block: Block;
  /** Short module name: q, k, v, o, qkv, gate, up, down, gate_up, fc_in, fc_out, input_norm, ... */
  module: string;
  /** Expert index for mixture-of-experts FFN tensors. */
  expert?: number;
  /** Architecture family whose rule matched (e.g. 'llama', 'gpt2'), or undefined when none did. */
  family?: string;
  /** False when no rule matched: the tensor is reported as unknown, never guessed. */
  known: boolean;
  /** Set for the non-language towers of multimodal models (e.g. 'vision'): they follow the recipe's default. */
  tower?: string;
  /** True when only the paper's substring rule (gate_proj / up_proj / down_proj in the name) made it FFN. */
  byPaperRule?: boolean;
}
