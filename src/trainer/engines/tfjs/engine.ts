import { copyFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { CONFIG_FILES, TOKENIZER_FILES } from '../../../core/checkpoint/files';
import { ADAPTER_FILE, exists, MODEL_FILE } from '../../../core/checkpoint/weights';
import { checkpointDir, listCheckpoints } from '../../../core/runs/store';
import { OPTIMIZER_FILE, RunConfig, TRAINER_STATE_FILE } from '../../../core/runs/types';
import { readJsonObject } from '../../../core/util/json';
import { rng } from '../../../core/util/random';
import { DataOrder, loadExamples, sequenceLength } from '../../data/examples';
import { ChatTokenizer } from '../../data/tokenizer';
import { learningRate } from '../../schedule';
import { AdamW, clipByGlobalNorm } from './adamw';
import { initBackend, tf } from './backend';
import { readFloatTensors, writeFloatSafetensors, writeFolderAtomically } from './checkpoint';
import { ForwardContext, forward, llamaConfig, LlamaWeights, llamaTensorShapes, LoraPair, maskedCrossEntropy } from './llama';

/** What the engine tells the process around it; the process turns these into protocol messages and files. */
export interface EngineHooks {
  started(info: { backend: string; totalSteps: number; startStep: number; parameters: number; trainableParameters: number; examples: number }): Promise<void>;
  step(info: { step: number; totalSteps: number; epoch: number; loss: number; lr: number; gradNorm: number; tokensPerSecond: number; liveTensors: number }): Promise<void>;
  checkpoint(step: number, dir: string): Promise<void>;
  log(message: string): void;
  /** Polled between steps. */
  cancelled(): boolean;
}

export interface EngineResult {
  state: 'done' | 'cancelled';
  step: number;
  finalLoss?: number;
  checkpoint?: string;
}

/** Trains a Llama-family model as the run's config says, from scratch or from the run's latest checkpoint. */
export async function trainWithTfjs(runDir: string, config: RunConfig, resume: boolean, hooks: EngineHooks): Promise<EngineResult> {
  const train = config.train;
  const backend = await initBackend(config.device, config.backend, [path.dirname(config.base), path.resolve(runDir, '../../..')]);
  const modelConfigJson = await readJsonObject(path.join(config.base, 'config.json'));
  const model = llamaConfig(modelConfigJson, path.join(config.base, 'config.json'));
  const tok = await ChatTokenizer.load(config.base);
  hooks.log(`chat template: ${tok.templateSource}`);
  const examples = await loadExamples(config.dataset, tok, train.train_on, train.max_seq_length + 1);
  const seqLen = sequenceLength(examples, train.max_seq_length);
  const order = new DataOrder(examples, train.batch_size, seqLen, train.seed, tok.ids.pad);
  const accum = train.gradient_accumulation_steps;
  const totalSteps = train.max_steps > 0 ? train.max_steps : Math.max(1, train.num_train_epochs * Math.floor(order.microBatchesPerEpoch / accum));

  const latest = resume ? (await listCheckpoints(runDir)).at(-1) : undefined;
  if (resume && !latest) throw new Error(`${runDir}: nothing to resume from (no checkpoints/checkpoint-N folder)`);
  const startStep = latest ? Number((await readJsonObject(path.join(latest.dir, TRAINER_STATE_FILE))).global_step) : 0;

  const shapes = llamaTensorShapes(model);
  const lora = train.method === 'lora';
  const initial = await readFloatTensors(latest && !lora ? latest.dir : config.base, shapes);
  const tensors = new Map<string, Tensor>([...initial].map(([name, values]) => [name, lora ? tf.tensor(values, shapes.get(name)) : tf.variable(tf.tensor(values, shapes.get(name)), true, name)]));
  initial.clear();
  const pairs = lora ? await loraPairs(config, shapes, latest?.dir) : new Map<string, LoraPair>();
  const weights = new LlamaWeights(model, tensors, !lora, pairs, lora ? config.lora.lora_dropout : 0);
  // tf.variableGrads keys gradients by variable name, so variables are named as these keys.
  const params = lora
    ? new Map([...pairs].flatMap(([m, p]) => [[`${m}.lora_A.weight`, p.a], [`${m}.lora_B.weight`, p.b]] as [string, Variable][]))
    : (tensors as Map<string, Variable>);
  const optimizer = new AdamW(params, { beta1: train.adam_beta1, beta2: train.adam_beta2, epsilon: train.adam_epsilon, weightDecay: train.weight_decay });
  if (latest) await loadOptimizer(optimizer, latest.dir);

  const count = (m: Map<string, Tensor>) => [...m.values()].reduce((n, t) => n + t.size, 0);
  await hooks.started({ backend: backend.description, totalSteps, startStep, parameters: count(tensors), trainableParameters: count(params), examples: examples.length });

  const ctx = new ForwardContext(model, order.batchSize, seqLen);
  const save = (step: number): Promise<string> => saveCheckpoint(runDir, config, step, weights, optimizer, params, modelConfigJson);
  let step = startStep;
  let loss: number | undefined;
  let savedAt = -1;
  try {
    while (step < totalSteps) {
      if (hooks.cancelled()) break;
      const t0 = performance.now();
      const lr = learningRate(train, step, totalSteps);
      let grads = new Map<string, Tensor>();
      let lossSum = 0;
      for (let k = 0; k < accum; k++) {
        const batch = order.batch(step * accum + k);
        const { value, grads: g } = tf.variableGrads(() => maskedCrossEntropy(forward(weights, ctx, batch.inputs, true), batch.labels, batch.weights), [...params.values()]);
        lossSum += (await value.data())[0];
        value.dispose();
        grads = accumulate(grads, g, accum);
      }
      loss = lossSum / accum;
      if (!Number.isFinite(loss)) throw new Error(`loss became ${loss} at step ${step + 1}: training diverged (try a lower learning_rate or max_grad_norm)`);
      const gradNorm = clipByGlobalNorm(grads, train.max_grad_norm);
      optimizer.apply(grads, lr);
      tf.dispose([...grads.values()]);
      step++;
      const seconds = (performance.now() - t0) / 1000;
      await hooks.step({
        step,
        totalSteps,
        epoch: (step * accum) / order.microBatchesPerEpoch,
        loss,
        lr,
        gradNorm,
        tokensPerSecond: (order.batchSize * seqLen * accum) / seconds,
        liveTensors: tf.memory().numTensors,
      });
      if (train.save_steps > 0 && step % train.save_steps === 0 && step < totalSteps) {
        await hooks.checkpoint(step, await save(step));
        savedAt = step;
      }
      // Lets the IPC channel deliver a cancel between steps.
      await new Promise((r) => setImmediate(r));
    }
    const checkpoint = savedAt === step || step === startStep ? latest?.dir : await save(step);
    if (checkpoint && savedAt !== step && step !== startStep) await hooks.checkpoint(step, checkpoint);
    return { state: step < totalSteps ? 'cancelled' : 'done', step, finalLoss: loss, checkpoint };
  } finally {
    ctx.dispose();
    optimizer.dispose();
    weights.dispose();
  }
}

/** Sums micro-batch gradients, each divided by the accumulation count (their mean, as the Trainer's loss scaling). */
function accumulate(into: Map<string, Tensor>, grads: Record<string, Tensor>, accum: number): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, g] of Object.entries(grads)) {
    const scaled = accum === 1 ? g : tf.div(g, accum);
    const prev = into.get(name);
    out.set(name, prev ? tf.add(prev, scaled) : scaled);
    if (prev) prev.dispose();
    if (scaled !== g) g.dispose();
  }
  return out;
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
async function loraPairs(config: RunConfig, shapes: Map<string, number[]>, resumeDir?: string): Promise<Map<string, LoraPair>> {
  const { r, lora_alpha, use_rslora, target_modules } = config.lora;
  const scaling = use_rslora ? lora_alpha / Math.sqrt(r) : lora_alpha / r;
  const modules = [...shapes].filter(([name, shape]) => shape.length === 2 && name.startsWith('model.layers.') && target_modules.includes(moduleOf(name).split('.').at(-1)!));
  if (modules.length === 0) throw new Error(`lora.target_modules [${target_modules.join(', ')}] match no linear module of ${config.base}`);
  const adapterShapes = new Map(modules.flatMap(([name, [out, inp]]) => [[`base_model.model.${moduleOf(name)}.lora_A.weight`, [r, inp]], [`base_model.model.${moduleOf(name)}.lora_B.weight`, [out, r]]] as [string, number[]][]));
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
    pairs.set(m, { a: tf.variable(tf.tensor2d(a, [r, inp]), true, `${m}.lora_A.weight`), b: tf.variable(tf.tensor2d(b, [out, r]), true, `${m}.lora_B.weight`), scaling });
  }
  return pairs;
}

async function loadOptimizer(optimizer: AdamW, dir: string): Promise<void> {
  const shapes = new Map([...optimizer.params].flatMap(([n, p]) => [[`${n}.exp_avg`, p.shape], [`${n}.exp_avg_sq`, p.shape]] as [string, number[]][]));
  const state = await readFloatTensors(dir, shapes, OPTIMIZER_FILE);
  for (const [name, p] of optimizer.params) {
    optimizer.m.get(name)!.assign(tf.tensor(state.get(`${name}.exp_avg`)!, p.shape));
    optimizer.v.get(name)!.assign(tf.tensor(state.get(`${name}.exp_avg_sq`)!, p.shape));
  }
  optimizer.step = Number((await readJsonObject(path.join(dir, TRAINER_STATE_FILE))).optimizer_step);
}

/**
 * A checkpoint as Hugging Face Trainer lays it out: the model (a full model folder, or a PEFT adapter
 * folder under LoRA) plus optimizer state and trainer_state.json, so merge, diff and resume all read it.
 */
async function saveCheckpoint(runDir: string, config: RunConfig, step: number, weights: LlamaWeights, optimizer: AdamW, params: Map<string, Variable>, modelConfig: Record<string, unknown>): Promise<string> {
  const dest = checkpointDir(runDir, step);
  const source = (name: string, t: Tensor) => ({ name, shape: t.shape, values: () => t.data() as Promise<Float32Array> });
  await writeFolderAtomically(dest, async (tmp) => {
    if (weights.trainable) {
      await writeFloatSafetensors(path.join(tmp, MODEL_FILE), [...weights.tensors].map(([n, t]) => source(n, t)));
      await writeFile(path.join(tmp, 'config.json'), JSON.stringify({ ...modelConfig, torch_dtype: 'float32' }, null, 2) + '\n');
    } else {
      await writeFloatSafetensors(path.join(tmp, ADAPTER_FILE), [...weights.lora].flatMap(([m, p]) => [source(`base_model.model.${m}.lora_A.weight`, p.a), source(`base_model.model.${m}.lora_B.weight`, p.b)]));
      await writeFile(path.join(tmp, 'adapter_config.json'), JSON.stringify(adapterConfig(config), null, 2) + '\n');
    }
    for (const f of [...TOKENIZER_FILES, ...CONFIG_FILES.filter((f) => f !== 'config.json')]) {
      if (await exists(path.join(config.base, f))) await copyFile(path.join(config.base, f), path.join(tmp, f));
    }
    await writeFloatSafetensors(path.join(tmp, OPTIMIZER_FILE), [...params].flatMap(([n]) => [source(`${n}.exp_avg`, optimizer.m.get(n)!), source(`${n}.exp_avg_sq`, optimizer.v.get(n)!)]));
    await writeFile(path.join(tmp, TRAINER_STATE_FILE), JSON.stringify({ global_step: step, optimizer_step: optimizer.step, seed: config.train.seed, engine: 'tfjs' }, null, 2) + '\n');
  });
  return dest;
}

/** PEFT's adapter_config.json for what was trained; the merge core and PEFT both read it. */
function adapterConfig(config: RunConfig): Record<string, unknown> {
  const { r, lora_alpha, lora_dropout, use_rslora, target_modules } = config.lora;
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: config.base,
    r,
    lora_alpha,
    lora_dropout,
    use_rslora,
    target_modules,
    bias: 'none',
    fan_in_fan_out: false,
    use_dora: false,
    init_lora_weights: true,
    inference_mode: true,
    modules_to_save: null,
  };
}

