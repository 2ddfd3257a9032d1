import * as path from 'node:path';
import { openLoraAdapter } from '../../../core/lora/adapter';
import { addDeltaRows, loraFactors } from '../../../core/lora/fold';
import { toFloat32 } from '../../../core/safetensors/convert';
import type { FloatDtype } from '../../../core/safetensors/dtypes';
import { readJsonObject } from '../../../core/util/json';
import { VariantSpec, VirtualMerge } from '../../../core/merge/virtual';
import type { EvalRequest, LanguageModel, LoglikelihoodRequest, ModelToEvaluate } from '../../evaluate/types';
import { initBackend, tf } from './backend';
import { readFloatTensors, readTensorsFrom } from './checkpoint';
import { DecodingSession } from './inference';
import { LlamaConfig, llamaConfig, LlamaWeights, llamaTensorShapes } from './llama';
import { Rotary } from './ops';

const MAX_LENGTH = 4096;

/**
 * The built-in engine as the evaluator's model: one sequence at a time through a KV-cache decoding
 * session (the training forward's own arithmetic). An adapter is folded into its base with the merge's
 * LoRA code, so an adapter scores exactly as its merged model.
 */
export async function openTfjsModel(model: ModelToEvaluate, req: EvalRequest): Promise<LanguageModel> {
  const backend = await initBackend(req.device, req.backend, [path.dirname(req.checkpoint)]);
  const weights = await loadWeights(model);
  const rotary = new Rotary(weights.config.headDim, MAX_LENGTH, weights.config.ropeTheta);
  const vocab = weights.config.vocabSize;
  /** `use` with a fresh decoding session, disposed afterwards. */
  const withSession = async <T>(use: (session: DecodingSession) => T): Promise<T> => {
    const session = new DecodingSession(weights, rotary);
    try {
      return use(session);
    } finally {
      session.dispose();
      // One sequence per turn of the event loop: the trainer's IPC (a cancel) is served in between.
      await new Promise((r) => setImmediate(r));
    }
  };
  return {
    description: backend.description,
    batchSize: 1,
    async loglikelihood(requests: LoglikelihoodRequest[]) {
      const out: number[] = [];
      for (const { context, continuation } of requests) {
        out.push(
          await withSession((session) => {
            // Log-probabilities of the continuation's tokens, each given everything before it.
            const logp = session.feed([...context, ...continuation].slice(0, -1));
            return continuation.reduce((sum, t, i) => sum + logp[(context.length - 1 + i) * vocab + t], 0);
          }),
        );
      }
      return out;
    },
    async generate(prompts: number[][], maxNewTokens: number, stop: number) {
      const out: number[][] = [];
      for (const prompt of prompts) {
        out.push(
          await withSession((session) => {
            let logp = session.feed(prompt);
            const ids: number[] = [];
            for (let i = 0; i < maxNewTokens; i++) {
              const last = logp.subarray(logp.length - vocab);
              let best = 0;
              for (let v = 1; v < vocab; v++) if (last[v] > last[best]) best = v;
              if (best === stop) break;
              ids.push(best);
              logp = session.feed([best]);
            }
            return ids;
          }),
        );
      }
      return out;
    },
    async dispose() {
      rotary.dispose();
      weights.dispose();
    },
  };
}

/** Frozen weights of a model folder, of an adapter folded into its base, or of a merge variant read virtually. */
async function loadWeights({ modelDir, adapterDir, variant }: ModelToEvaluate): Promise<LlamaWeights> {
  if (variant) return loadVariant(variant);
  const config = llamaConfig(
    await readJsonObject(path.join(modelDir, 'config.json')),
    path.join(modelDir, 'config.json'),
  );
  const values = await readFloatTensors(modelDir, llamaTensorShapes(config));
  if (adapterDir) {
    const adapter = await openLoraAdapter(adapterDir);
    try {
      for (const m of adapter.modules) {
        const target = values.get(m.target);
        if (!target) throw new Error(`${adapterDir}: adapts '${m.target}', which the base does not have`);
        addDeltaRows(target, 0, await loraFactors(m));
      }
      for (const [name, ref] of adapter.replacements) {
        if (values.has(name))
          values.set(name, toFloat32(await ref.file.read(ref.info.name), ref.info.dtype as FloatDtype));
      }
    } finally {
      await adapter.weights.close();
    }
  }
  return frozen(config, values);
}

function frozen(config: LlamaConfig, values: Map<string, Float32Array>): LlamaWeights {
  const shapes = llamaTensorShapes(config);
  return new LlamaWeights(
    config,
    new Map([...values].map(([name, v]) => [name, tf.tensor(v, shapes.get(name))])),
    false,
  );
}

/** The variant's tensors as its written merge would hold them, produced one by one from base and fine-tune. */
async function loadVariant(spec: VariantSpec): Promise<LlamaWeights> {
  const merge = await VirtualMerge.open(spec);
  try {
    const configFile = path.join(merge.plan.configSource, 'config.json');
    const config = llamaConfig(await readJsonObject(configFile), configFile);
    const label = `${spec.finetuned} (virtual '${spec.recipe.name}' merge)`;
    const source = {
      where: () => label,
      names: merge.names,
      tensor: (n: string) => merge.tensor(n),
      read: (n: string) => merge.read(n),
    };
    return frozen(config, await readTensorsFrom(source, label, llamaTensorShapes(config)));
  } finally {
    await merge.close();
  }
}
