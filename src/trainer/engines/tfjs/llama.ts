import type { Rank, Scalar, Tensor, Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs-core';
import { tf } from './backend';
import { embedding, frozenLinear, linear, rmsNorm, Rotary, silu } from './ops';

/** The fields of a Hugging Face config.json that a Llama-family decoder needs. */
export interface LlamaConfig {
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  tieWordEmbeddings: boolean;
  /** Qwen2 puts biases on q, k and v. */
  attentionBias: boolean;
}

const SUPPORTED = ['llama', 'mistral', 'qwen2'];

export function llamaConfig(json: Record<string, unknown>, file: string): LlamaConfig {
  const num = (key: string, fallback?: number): number => {
    const v = json[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${file}: '${key}' is missing or not a number`);
    return v;
  };
  const modelType = String(json.model_type ?? '');
  if (!SUPPORTED.includes(modelType))
    throw new Error(
      `${file}: model_type '${modelType}' is not supported by the tfjs engine (supported: ${SUPPORTED.join(', ')})`,
    );
  if (json.rope_scaling) throw new Error(`${file}: rope_scaling is not supported by the tfjs engine`);
  const heads = num('num_attention_heads');
  const hiddenSize = num('hidden_size');
  const kvHeads = num('num_key_value_heads', heads);
  const headDim = num('head_dim', hiddenSize / heads);
  if (heads % kvHeads !== 0)
    throw new Error(`${file}: num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  if (!Number.isInteger(headDim) || headDim % 2)
    throw new Error(`${file}: head dimension ${headDim} must be an even integer`);
  return {
    modelType,
    vocabSize: num('vocab_size'),
    hiddenSize,
    intermediateSize: num('intermediate_size'),
    layers: num('num_hidden_layers'),
    heads,
    kvHeads,
    headDim,
    rmsNormEps: num('rms_norm_eps', 1e-6),
    ropeTheta: num('rope_theta', 10000),
    tieWordEmbeddings: json.tie_word_embeddings === true,
    attentionBias: modelType === 'qwen2' || json.attention_bias === true,
  };
}

/** Every tensor of the model by its Hugging Face name, with its shape: the checkpoint contract. */
export function llamaTensorShapes(c: LlamaConfig): Map<string, number[]> {
  const shapes = new Map<string, number[]>([['model.embed_tokens.weight', [c.vocabSize, c.hiddenSize]]]);
  const q = c.heads * c.headDim;
  const kv = c.kvHeads * c.headDim;
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}.`;
    shapes.set(`${p}input_layernorm.weight`, [c.hiddenSize]);
    shapes.set(`${p}self_attn.q_proj.weight`, [q, c.hiddenSize]);
    shapes.set(`${p}self_attn.k_proj.weight`, [kv, c.hiddenSize]);
    shapes.set(`${p}self_attn.v_proj.weight`, [kv, c.hiddenSize]);
    if (c.attentionBias) {
      shapes.set(`${p}self_attn.q_proj.bias`, [q]);
      shapes.set(`${p}self_attn.k_proj.bias`, [kv]);
      shapes.set(`${p}self_attn.v_proj.bias`, [kv]);
    }
    shapes.set(`${p}self_attn.o_proj.weight`, [c.hiddenSize, q]);
    shapes.set(`${p}post_attention_layernorm.weight`, [c.hiddenSize]);
    shapes.set(`${p}mlp.gate_proj.weight`, [c.intermediateSize, c.hiddenSize]);
    shapes.set(`${p}mlp.up_proj.weight`, [c.intermediateSize, c.hiddenSize]);
    shapes.set(`${p}mlp.down_proj.weight`, [c.hiddenSize, c.intermediateSize]);
  }
  shapes.set('model.norm.weight', [c.hiddenSize]);
  if (!c.tieWordEmbeddings) shapes.set('lm_head.weight', [c.vocabSize, c.hiddenSize]);
  return shapes;
}

/** A LoRA pair on one linear module: y += scaling · (x Aᵀ) Bᵀ. */
export interface LoraPair {
  a: Variable<Rank.R2>;
  b: Variable<Rank.R2>;
  scaling: number;
}

/**
 * Weights by name. Trainable ones are tf.Variables; frozen ones (all of them under LoRA) are plain
 * tensors, with their transposes precomputed once so a frozen projection costs one flag-free matmul.
 */
export class LlamaWeights {
  readonly transposed = new Map<string, Tensor2D>();
  constructor(
    readonly config: LlamaConfig,
    readonly tensors: Map<string, Tensor>,
    readonly trainable: boolean,
    readonly lora = new Map<string, LoraPair>(),
    /** Dropout on adapter inputs while training. */
    readonly loraDropout = 0,
  ) {
    if (!trainable)
      for (const [name, t] of tensors)
        if (t.rank === 2) this.transposed.set(name, tf.keep(tf.transpose(t as Tensor2D)));
  }

  get(name: string): Tensor {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`weight '${name}' is missing`);
    return t;
  }

  dispose(): void {
    tf.dispose([...this.tensors.values(), ...this.transposed.values()]);
    for (const p of this.lora.values()) tf.dispose([p.a, p.b]);
  }
}

/** Static inputs of a forward pass of shape [batch, seq]. */
export class ForwardContext {
  readonly rotary: Rotary;
  /** Additive causal mask for grouped queries: [groups·T, T], 0 where allowed, −1e9 in the future. */
  readonly mask: Tensor2D;

  constructor(
    readonly config: LlamaConfig,
    readonly batch: number,
    readonly seq: number,
  ) {
    this.rotary = new Rotary(config.headDim, seq, config.ropeTheta);
    const groups = config.heads / config.kvHeads;
    const m = new Float32Array(groups * seq * seq);
    for (let g = 0; g < groups; g++)
      for (let i = 0; i < seq; i++) for (let j = i + 1; j < seq; j++) m[(g * seq + i) * seq + j] = -1e9;
    this.mask = tf.keep(tf.tensor2d(m, [groups * seq, seq]));
  }

  dispose(): void {
    this.rotary.dispose();
    this.mask.dispose();
  }
}

/**
 * Logits [batch·seq, vocab] of a Llama-family decoder, the same computation as transformers'
 * LlamaForCausalLM in float32. Grouped-query attention is computed without repeating K and V: the G
 * query heads that share a KV head are stacked along the time axis, so one batched matmul serves them.
 */
export function forward(w: LlamaWeights, ctx: ForwardContext, ids: Int32Array, dropoutSeed?: string): Tensor2D {
  const c = w.config;
  const { batch: B, seq: T } = ctx;
  const G = c.heads / c.kvHeads;
  const dh = c.headDim;
  const proj = (x: Tensor2D, name: string): Tensor2D => project(w, x, name, dropoutSeed && `${dropoutSeed}/${name}`);

  let x = embedding(w.get('model.embed_tokens.weight') as Tensor2D, ids, w.trainable);
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}.`;
    const h = rmsNorm(x, w.get(`${p}input_layernorm.weight`) as Tensor1D, c.rmsNormEps);
    const q5 = tf.transpose(tf.reshape(proj(h, `${p}self_attn.q_proj`), [B, T, c.kvHeads, G, dh]), [0, 2, 3, 1, 4]);
    const q = tf.reshape(ctx.rotary.apply(q5), [B, c.kvHeads, G * T, dh]);
    const k = ctx.rotary.apply(
      tf.transpose(tf.reshape(proj(h, `${p}self_attn.k_proj`), [B, T, c.kvHeads, dh]), [0, 2, 1, 3]),
    );
    const v = tf.transpose(tf.reshape(proj(h, `${p}self_attn.v_proj`), [B, T, c.kvHeads, dh]), [0, 2, 1, 3]);
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)), ctx.mask);
    const o = tf.matMul(tf.softmax(scores), v); // [B, KV, G·T, dh]
    const merged = tf.reshape(tf.transpose(tf.reshape(o, [B, c.kvHeads, G, T, dh]), [0, 3, 1, 2, 4]), [
      B * T,
      c.heads * dh,
    ]) as Tensor2D;
    x = tf.add(x, proj(merged, `${p}self_attn.o_proj`));
    const h2 = rmsNorm(x, w.get(`${p}post_attention_layernorm.weight`) as Tensor1D, c.rmsNormEps);
    const act = tf.mul(silu(proj(h2, `${p}mlp.gate_proj`)), proj(h2, `${p}mlp.up_proj`)) as Tensor2D;
    x = tf.add(x, proj(act, `${p}mlp.down_proj`));
  }
  x = rmsNorm(x, w.get('model.norm.weight') as Tensor1D, c.rmsNormEps);
  return proj(x, c.tieWordEmbeddings ? 'model.embed_tokens' : 'lm_head');
}

/**
 * One linear module by its name without `.weight`: base weight, bias when present, LoRA when attached.
 * `dropoutSeed` (training only) seeds the adapter's input dropout, so a run and its resume draw the same masks.
 */
export function project(w: LlamaWeights, x: Tensor2D, module: string, dropoutSeed?: string): Tensor2D {
  const weight = w.get(`${module}.weight`) as Tensor2D;
  let y = w.trainable ? linear(x, weight) : frozenLinear(x, weight, w.transposed.get(`${module}.weight`)!);
  const bias = w.tensors.get(`${module}.bias`);
  if (bias) y = tf.add(y, bias);
  const pair = w.lora.get(module);
  if (pair) {
    const input =
      dropoutSeed !== undefined && w.loraDropout > 0
        ? (tf.dropout(x, w.loraDropout, undefined, dropoutSeed) as Tensor2D)
        : x;
    y = tf.add(y, tf.mul(linear(linear(input, pair.a), pair.b), pair.scaling));
  }
  return y;
}

/** Cross-entropy summed over the positions whose weight is 1 (the response tokens). */
export function maskedCrossEntropySum(logits: Tensor2D, labels: Int32Array, weights: Float32Array): Scalar {
  const logp = tf.logSoftmax(logits);
  const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(labels, 'int32'), logits.shape[1])), -1);
  return tf.neg(tf.sum(tf.mul(picked, tf.tensor1d(weights)))) as Scalar;
}
