import { copyFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import type { Tensor } from '@tensorflow/tfjs-core';
import { CONFIG_FILES, TOKENIZER_FILES } from '../../../core/checkpoint/files';
import { ADAPTER_FILE, exists, MODEL_FILE } from '../../../core/checkpoint/weights';
import { checkpointDir, listCheckpoints } from '../../../core/runs/store';
import { OPTIMIZER_FILE, RunConfig, TRAINER_STATE_FILE } from '../../../core/runs/types';
import { readJsonObject } from '../../../core/util/json';
import { DataOrder, loadExamples, sequenceLength } from '../../data/examples';
import { ChatTokenizer } from '../../data/tokenizer';
import { learningRate } from '../../schedule';
import { initBackend, tf } from './backend';
import { setBlasThreads } from './nativeBlas';
import { writeFloatSafetensors, writeFolderAtomically } from './checkpoint';
import { rankCount, ReplicaPool, shardRanges, sliceRows } from './parallel';
import { clipFlatGradients, TrainableModel } from './trainable';
import type { EngineHooks, EngineResult } from '../types';

/**
 * Trains a Llama-family model as the run's config says, from scratch or from the run's latest
 * checkpoint, data-parallel over one rank per core (see parallel.ts).
 */
export async function trainWithTfjs(
  runDir: string,
  config: RunConfig,
  resume: boolean,
  hooks: EngineHooks,
): Promise<EngineResult> {
  const train = config.train;
  const backend = await initBackend(config.device, config.backend, [
    path.dirname(config.base),
    path.resolve(runDir, '../../..'),
  ]);
  const modelConfigJson = await readJsonObject(path.join(config.base, 'config.json'));
  const tok = await ChatTokenizer.load(config.base);
  hooks.log(`chat template: ${tok.templateSource}`);
  const { examples, skipped } = await loadExamples(
    config.dataset,
    tok,
    train.train_on,
    train.max_seq_length + 1,
    hooks.log,
  );
  if (skipped)
    hooks.log(
      `warning: ${skipped} of ${examples.length + skipped} examples have no response token within max_seq_length ${train.max_seq_length} and are skipped`,
    );
  const seqLen = sequenceLength(examples, train.max_seq_length);
  const order = new DataOrder(examples, train.batch_size, seqLen, train.seed, tok.ids.pad);
  const accum = train.gradient_accumulation_steps;
  const totalSteps =
    train.max_steps > 0
      ? train.max_steps
      : Math.max(1, train.num_train_epochs * Math.floor(order.microBatchesPerEpoch / accum));

  const latest = resume ? (await listCheckpoints(runDir)).at(-1) : undefined;
  // Killed during its first save, a run has no complete checkpoint and starts again from step 0 (the trainer says so).
  const startStep = latest ? Number((await readJsonObject(path.join(latest.dir, TRAINER_STATE_FILE))).global_step) : 0;

  const model = await TrainableModel.load(config, latest?.dir);
  const ranks = rankCount(config.workers, backend.name, order.batchSize);
  const shared = new SharedArrayBuffer(ranks * model.size * 4);
  const slices = Array.from({ length: ranks }, (_, r) => new Float32Array(shared, r * model.size * 4, model.size));
  let pool: ReplicaPool | undefined;
  try {
    pool = ranks > 1 ? await ReplicaPool.start(ranks, config, latest?.dir, shared, model.size) : undefined;
    // After the replicas opened the BLAS (each sets one thread): the setting is process-wide.
    if (backend.blas) setBlasThreads(backend.blas, availableParallelism() / ranks);
    await hooks.started({
      backend: `${backend.description}${ranks > 1 ? `, data-parallel over ${ranks} threads` : ''}`,
      totalSteps,
      startStep,
      parameters: model.parameterCount,
      trainableParameters: model.size,
      examples: examples.length,
    });
    const shards = shardRanges(order.batchSize, ranks);
    const save = (step: number): Promise<string> => saveCheckpoint(runDir, config, step, model, modelConfigJson);
    let step = startStep;
    let loss: number | undefined;
    let savedAt = -1;
    let savedDir = latest?.dir;
    while (step < totalSteps) {
      if (hooks.cancelled()) break;
      const t0 = performance.now();
      const lr = learningRate(train, step, totalSteps);
      const summed = slices[0];
      summed.fill(0);
      let lossSum = 0;
      for (let k = 0; k < accum; k++) {
        const batch = order.batch(step * accum + k);
        // Each rank's summed token loss, scaled so that the sum over ranks and micro-batches is the mean loss's gradient.
        const scale = 1 / (Math.max(batch.tokens, 1) * accum);
        const rows = shards.map(([from, to]) => sliceRows(batch, from, to, seqLen));
        // LoRA dropout masks follow from (seed, micro-batch, rank): a resumed run draws the ones it would have.
        const dropoutSeed = (rank: number) => `${train.seed}:${step * accum + k}:${rank}`;
        const others = rows.slice(1).map((r, i) => pool!.micro(i, r, seqLen, scale, k === 0, dropoutSeed(i + 1)));
        const own = model.accumulateGradients(rows[0], seqLen, scale, summed, dropoutSeed(0));
        lossSum += (own + (await Promise.all(others)).reduce((a, b) => a + b, 0)) / Math.max(batch.tokens, 1);
      }
      for (const slice of slices.slice(1)) for (let i = 0; i < summed.length; i++) summed[i] += slice[i];
      loss = lossSum / accum;
      if (!Number.isFinite(loss))
        throw new Error(
          `loss became ${loss} at step ${step + 1}: training diverged (try a lower learning_rate or max_grad_norm)`,
        );
      const gradNorm = clipFlatGradients(summed, train.max_grad_norm);
      const applied = pool?.apply(lr);
      model.applyGradients(summed, lr);
      await applied;
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
        savedDir = await save(step);
        await hooks.checkpoint(step, savedDir);
        savedAt = step;
      }
      // Lets the IPC channel deliver a cancel between steps.
      await new Promise((r) => setImmediate(r));
    }
    // A stop right after a periodic save keeps that checkpoint (not the one resumed from).
    const checkpoint = savedAt === step || step === startStep ? savedDir : await save(step);
    if (checkpoint && savedAt !== step && step !== startStep) await hooks.checkpoint(step, checkpoint);
    return { state: step < totalSteps ? 'cancelled' : 'done', step, finalLoss: loss, checkpoint };
  } finally {
    await pool?.close();
    model.dispose();
  }
}

/**
 * A checkpoint as Hugging Face Trainer lays it out: the model (a full model folder, or a PEFT adapter
 * folder under LoRA) plus optimizer state and trainer_state.json, so merge, diff and resume all read it.
 */
async function saveCheckpoint(
  runDir: string,
  config: RunConfig,
  step: number,
  model: TrainableModel,
  modelConfig: Record<string, unknown>,
): Promise<string> {
  const { weights, optimizer, params } = model;
  const dest = checkpointDir(runDir, step);
  const source = (name: string, t: Tensor) => ({
    name,
    shape: t.shape,
    values: () => t.data() as Promise<Float32Array>,
  });
  await writeFolderAtomically(dest, async (tmp) => {
    if (weights.trainable) {
      await writeFloatSafetensors(
        path.join(tmp, MODEL_FILE),
        [...weights.tensors].map(([n, t]) => source(n, t)),
      );
      await writeFile(
        path.join(tmp, 'config.json'),
        JSON.stringify({ ...modelConfig, torch_dtype: 'float32' }, null, 2) + '\n',
      );
    } else {
      await writeFloatSafetensors(
        path.join(tmp, ADAPTER_FILE),
        [...weights.lora].flatMap(([m, p]) => [
          source(`base_model.model.${m}.lora_A.weight`, p.a),
          source(`base_model.model.${m}.lora_B.weight`, p.b),
        ]),
      );
      await writeFile(path.join(tmp, 'adapter_config.json'), JSON.stringify(adapterConfig(config), null, 2) + '\n');
    }
    for (const f of [...TOKENIZER_FILES, ...CONFIG_FILES.filter((f) => f !== 'config.json')]) {
      if (await exists(path.join(config.base, f))) await copyFile(path.join(config.base, f), path.join(tmp, f));
    }
    await writeFloatSafetensors(
      path.join(tmp, OPTIMIZER_FILE),
      [...params].flatMap(([n]) => [
        source(`${n}.exp_avg`, optimizer.m.get(n)!),
        source(`${n}.exp_avg_sq`, optimizer.v.get(n)!),
      ]),
    );
    await writeFile(
      path.join(tmp, TRAINER_STATE_FILE),
      JSON.stringify(
        { global_step: step, optimizer_step: optimizer.step, seed: config.train.seed, engine: 'tfjs' },
        null,
        2,
      ) + '\n',
    );
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
