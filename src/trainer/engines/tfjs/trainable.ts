import * as path from 'node:path';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { ADAPTER_FILE } from '../../../core/checkpoint/weights';
import { OPTIMIZER_FILE, RunConfig, TRAINER_STATE_FILE } from '../../../core/runs/types';
import { readJsonObject } from '../../../core/util/json';
import { rng } from '../../../core/util/random';
import type { Batch } from '../../data/examples';
import { AdamW } from './adamw';
import { tf } from './backend';
import { readFloatTensors } from './checkpoint';
import {
  ForwardContext,
  forward,
  llamaConfig,
  LlamaWeights,
  llamaTensorShapes,
  LoraPair,
  maskedCrossEntropySum,
} from './llama';

/**
 * A model with its trainable parameters and optimizer, as every data-parallel rank holds it. Ranks load
 * the same files and initialise LoRA from the same seed, compute gradients on their rows, and apply the
 * same summed gradients: their weights stay identical without ever being sent between them.
 */
export class TrainableModel {
  /** Offsets of each trainable parameter in the flat gradient layout shared between ranks. */
  readonly layout: { name: string; offset: number; size: number; shape: number[] }[] = [];
  readonly size: number;
  private readonly contexts = new Map<string, ForwardContext>();

  private constructor(
    readonly weights: LlamaWeights,
    readonly params: Map<string, Variable>,
    readonly optimizer: AdamW,
  ) {
    let offset = 0;
    for (const [name, p] of params) {
      this.layout.push({ name, offset, size: p.size, shape: p.shape });
      offset += p.size;
    }
    this.size = offset;
  }

  /** Loads the base model (or a full fine-tune's checkpoint) and, when resuming, the adapter and optimizer state. */
  static async load(config: RunConfig, checkpoint?: string): Promise<TrainableModel> {
    const train = config.train;
    const modelConfig = llamaConfig(
      await readJsonObject(path.join(config.base, 'config.json')),
      path.join(config.base, 'config.json'),
    );
    const shapes = llamaTensorShapes(modelConfig);
    const lora = train.method === 'lora';
    const initial = await readFloatTensors(checkpoint && !lora ? checkpoint : config.base, shapes);
    const tensors = new Map<string, Tensor>(
      [...initial].map(([name, values]) => [
        name,
        lora ? tf.tensor(values, shapes.get(name)) : tf.variable(tf.tensor(values, shapes.get(name)), true, name),
      ]),
    );
    const pairs = lora ? await loraPairs(config, shapes, checkpoint) : new Map<string, LoraPair>();
    const weights = new LlamaWeights(modelConfig, tensors, !lora, pairs, lora ? config.lora.lora_dropout : 0);
    // tf.variableGrads keys gradients by variable name, so variables are named as these keys.
    const params = lora
      ? new Map(
          [...pairs].flatMap(
            ([m, p]) =>
              [
                [`${m}.lora_A.weight`, p.a],
                [`${m}.lora_B.weight`, p.b],
              ] as [string, Variable][],
          ),
        )
      : (tensors as Map<string, Variable>);
    const optimizer = new AdamW(params, {
      beta1: train.adam_beta1,
      beta2: train.adam_beta2,
      epsilon: train.adam_epsilon,
      weightDecay: train.weight_decay,
    });
    if (checkpoint) await loadOptimizer(optimizer, checkpoint);
    return new TrainableModel(weights, params, optimizer);
  }

  get parameterCount(): number {
    return [...this.weights.tensors.values()].reduce((n, t) => n + t.size, 0);
  }

  /**
   * Adds the gradient of `scale` × (summed token loss over the rows) to `target` in the flat layout and
   * returns the summed loss. Scaling by 1 / (tokens of the whole micro-batch × accumulation steps) makes
   * the sum over ranks and micro-batches the gradient of the mean loss, whatever the split. `dropoutSeed`
   * names this rank's share of this micro-batch (see project).
   */
  accumulateGradients(rows: Batch, seqLen: number, scale: number, target: Float32Array, dropoutSeed: string): number {
    const batchRows = rows.inputs.length / seqLen;
    const key = `${batchRows}x${seqLen}`;
    let ctx = this.contexts.get(key);
    if (!ctx) this.contexts.set(key, (ctx = new ForwardContext(this.weights.config, batchRows, seqLen)));
    const { value, grads } = tf.variableGrads(
      () =>
        tf.mul(
          maskedCrossEntropySum(forward(this.weights, ctx, rows.inputs, dropoutSeed), rows.labels, rows.weights),
          scale,
        ),
      [...this.params.values()],
    );
    const loss = value.dataSync()[0] / scale;
    for (const { name, offset } of this.layout) {
      const g = grads[name].dataSync();
      for (let i = 0; i < g.length; i++) target[offset + i] += g[i];
    }
    tf.dispose([value, ...Object.values(grads)]);
    return loss;
  }

  /** One AdamW step with gradients from the flat layout. */
  applyGradients(flat: Float32Array, lr: number): void {
    const grads = new Map(
      this.layout.map(({ name, offset, size, shape }) => [
        name,
        tf.tensor(flat.subarray(offset, offset + size), shape),
      ]),
    );
    this.optimizer.apply(grads, lr);
    tf.dispose([...grads.values()]);
  }

  dispose(): void {
    for (const ctx of this.contexts.values()) ctx.dispose();
    this.optimizer.dispose();
    this.weights.dispose();
  }
}

/** Scales gradients to a global L2 norm of at most `maxNorm` (torch's clip_grad_norm_); returns the norm before. */
export function clipFlatGradients(flat: Float32Array, maxNorm: number): number {
  let sum = 0;
  for (let i = 0; i < flat.length; i++) sum += flat[i] * flat[i];
  const norm = Math.sqrt(sum);
  if (maxNorm > 0 && norm > maxNorm) {
    const scale = maxNorm / (norm + 1e-6);
    for (let i = 0; i < flat.length; i++) flat[i] *= scale;
  }
  return norm;
}

/** A weight's module path: its name without `.weight`. */
function moduleOf(name: string): string {
  return name.replace(/\.weight$/, '');
}

/**
 * LoRA pairs for every linear module whose last name part is a target (PEFT's rule for plain names),
 * A initialised as PEFT does (Kaiming-uniform with a = √5, i.e. U(±1/√in)), B zero; or read from the
 * adapter of the checkpoint being resumed.
 */
async function loraPairs(
  config: RunConfig,
  shapes: Map<string, number[]>,
  resumeDir?: string,
): Promise<Map<string, LoraPair>> {
  const { r, lora_alpha, use_rslora, target_modules } = config.lora;
  const scaling = use_rslora ? lora_alpha / Math.sqrt(r) : lora_alpha / r;
  const modules = [...shapes].filter(
    ([name, shape]) =>
      shape.length === 2 &&
      name.startsWith('model.layers.') &&
      target_modules.includes(moduleOf(name).split('.').at(-1)!),
  );
  if (modules.length === 0)
    throw new Error(`lora.target_modules [${target_modules.join(', ')}] match no linear module of ${config.base}`);
  const adapterShapes = new Map(
    modules.flatMap(
      ([name, [out, inp]]) =>
        [
          [`base_model.model.${moduleOf(name)}.lora_A.weight`, [r, inp]],
          [`base_model.model.${moduleOf(name)}.lora_B.weight`, [out, r]],
        ] as [string, number[]][],
    ),
  );
  const saved = resumeDir ? await readFloatTensors(resumeDir, adapterShapes, ADAPTER_FILE) : undefined;
  const random = rng(config.train.seed);
  const pairs = new Map<string, LoraPair>();
  for (const [name, [out, inp]] of modules) {
    const m = moduleOf(name);
    let a = saved?.get(`base_model.model.${m}.lora_A.weight`);
    if (!a) {
      a = new Float32Array(r * inp);
      const bound = 1 / Math.sqrt(inp);
      for (let i = 0; i < a.length; i++) a[i] = (random() * 2 - 1) * bound;
    }
    const b = saved?.get(`base_model.model.${m}.lora_B.weight`) ?? new Float32Array(out * r);
    pairs.set(m, {
      a: tf.variable(tf.tensor2d(a, [r, inp]), true, `${m}.lora_A.weight`),
      b: tf.variable(tf.tensor2d(b, [out, r]), true, `${m}.lora_B.weight`),
      scaling,
    });
  }
  return pairs;
}

async function loadOptimizer(optimizer: AdamW, dir: string): Promise<void> {
  const shapes = new Map(
    [...optimizer.params].flatMap(
      ([n, p]) =>
        [
          [`${n}.exp_avg`, p.shape],
          [`${n}.exp_avg_sq`, p.shape],
        ] as [string, number[]][],
    ),
  );
  const state = await readFloatTensors(dir, shapes, OPTIMIZER_FILE);
  for (const [name, p] of optimizer.params) {
    optimizer.m.get(name)!.assign(tf.tensor(state.get(`${name}.exp_avg`)!, p.shape));
    optimizer.v.get(name)!.assign(tf.tensor(state.get(`${name}.exp_avg_sq`)!, p.shape));
  }
  optimizer.step = Number((await readJsonObject(path.join(dir, TRAINER_STATE_FILE))).optimizer_step);
}
