import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { tf } from './backend';
import { LlamaWeights, project } from './llama';
import { embedding, rmsNorm, Rotary, silu } from './ops';

/** Keys and values of one layer for the positions seen so far: [kvHeads, t, headDim] each. */
interface LayerCache {
  k: Tensor;
  v: Tensor;
}

/**
 * Incremental decoding of one sequence with a KV cache: `feed` runs new tokens through the model at the
 * next positions and returns their next-token log-probabilities. The same arithmetic as the training
 * forward pass (it reuses its projections, norms and rotary table), so a checkpoint scores as it trained.
 */
export class DecodingSession {
  private cache: LayerCache[] = [];
  private position = 0;

  constructor(
    private readonly w: LlamaWeights,
    private readonly rotary: Rotary,
  ) {}

  get length(): number {
    return this.position;
  }

  /** Log-probabilities [n, vocab] of the token after each of `ids`. */
  feed(ids: number[]): Float32Array {
    const c = this.w.config;
    const n = ids.length;
    const G = c.heads / c.kvHeads;
    const dh = c.headDim;
    const pos = this.position;
    if (pos + n > this.rotary.cos.shape[0])
      throw new Error(
        `sequence of ${pos + n} tokens is longer than the ${this.rotary.cos.shape[0]} the session allows`,
      );
    const total = pos + n;
    // Row (g, i) is the query at position pos+i: it may see keys 0…pos+i.
    const maskValues = new Float32Array(G * n * total);
    for (let g = 0; g < G; g++)
      for (let i = 0; i < n; i++) for (let j = pos + i + 1; j < total; j++) maskValues[(g * n + i) * total + j] = -1e9;
    const next: LayerCache[] = [];
    const logp = tf.tidy(() => {
      const mask = tf.tensor2d(maskValues, [G * n, total]);
      let x = embedding(this.w.get('model.embed_tokens.weight') as Tensor2D, Int32Array.from(ids), false);
      for (let l = 0; l < c.layers; l++) {
        const p = `model.layers.${l}.`;
        const h = rmsNorm(x, this.w.get(`${p}input_layernorm.weight`) as Tensor1D, c.rmsNormEps);
        const q5 = tf.transpose(
          tf.reshape(project(this.w, h, `${p}self_attn.q_proj`), [n, c.kvHeads, G, dh]),
          [1, 2, 0, 3],
        );
        const q = tf.reshape(this.rotary.apply(q5, pos), [c.kvHeads, G * n, dh]);
        const kNew = this.rotary.apply(
          tf.transpose(tf.reshape(project(this.w, h, `${p}self_attn.k_proj`), [n, c.kvHeads, dh]), [1, 0, 2]),
          pos,
        );
        const vNew = tf.transpose(
          tf.reshape(project(this.w, h, `${p}self_attn.v_proj`), [n, c.kvHeads, dh]),
          [1, 0, 2],
        );
        const prev = this.cache[l];
        const k = prev ? tf.concat([prev.k, kNew], 1) : kNew;
        const v = prev ? tf.concat([prev.v, vNew], 1) : vNew;
        next.push({ k: tf.keep(k), v: tf.keep(v) });
        const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)), mask);
        const o = tf.matMul(tf.softmax(scores), v); // [KV, G·n, dh]
        const merged = tf.reshape(tf.transpose(tf.reshape(o, [c.kvHeads, G, n, dh]), [2, 0, 1, 3]), [
          n,
          c.heads * dh,
        ]) as Tensor2D;
        x = tf.add(x, project(this.w, merged, `${p}self_attn.o_proj`));
        const h2 = rmsNorm(x, this.w.get(`${p}post_attention_layernorm.weight`) as Tensor1D, c.rmsNormEps);
        const act = tf.mul(
          silu(project(this.w, h2, `${p}mlp.gate_proj`)),
          project(this.w, h2, `${p}mlp.up_proj`),
        ) as Tensor2D;
        x = tf.add(x, project(this.w, act, `${p}mlp.down_proj`));
      }
      x = rmsNorm(x, this.w.get('model.norm.weight') as Tensor1D, c.rmsNormEps);
      return tf.logSoftmax(project(this.w, x, c.tieWordEmbeddings ? 'model.embed_tokens' : 'lm_head'));
    });
    this.dispose();
    this.cache = next;
    this.position = total;
    const out = logp.dataSync() as Float32Array;
    logp.dispose();
    return out;
  }

  dispose(): void {
    for (const layer of this.cache) tf.dispose([layer.k, layer.v]);
    this.cache = [];
  }
}
