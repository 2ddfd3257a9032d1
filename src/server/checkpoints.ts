// What the server needs to know about a base checkpoint (tensor names and shapes, size, layout), read
// from its safetensors headers and config.json once per (folder, mtimes) and then kept.
import * as path from 'node:path';
import { loadClassifier, modulePath } from '../core/classify/classify';
import type { TensorClass } from '../core/classify/types';
import { CheckpointSummary, inspectCheckpoint, layerCountOf } from '../core/checkpoint/discover';
import { CheckpointWeights, INDEX_FILE, MODEL_FILE } from '../core/checkpoint/weights';
import { ADAPTER_CONFIG } from '../core/lora/adapter';
import { elementCount } from '../core/safetensors/dtypes';
import { readJsonObject } from '../core/util/json';
import { fileSignature, SignatureCache } from './cache';

export interface BaseTensor {
  name: string;
  shape: number[];
  cls: TensorClass;
}

export interface BaseModel {
  dir: string;
  parameters: number;
  hidden?: number;
  layers?: number;
  tensors: BaseTensor[];
  /**
   * Short names of the linear modules in the layer stack (q_proj, down_proj, ...), each with its
   * weights' [out, in] shapes: what `lora.target_modules` names, by the trainer's and PEFT's rule that
   * a plain name matches the last part of a module path.
   */
  linear: Map<string, number[][]>;
}

const models = new SignatureCache<BaseModel>();
const summaries = new SignatureCache<CheckpointSummary>();

/** The files whose change means a checkpoint must be read again. */
function signature(dir: string): Promise<string> {
  return fileSignature([dir, ...['config.json', MODEL_FILE, INDEX_FILE, ADAPTER_CONFIG].map((f) => path.join(dir, f))]);
}

export async function baseModel(dir: string): Promise<BaseModel> {
  return models.get(dir, await signature(dir), () => readBaseModel(dir));
}

/** inspectCheckpoint, cached: what hover shows on a checkpoint path. */
export async function checkpointSummary(dir: string): Promise<CheckpointSummary> {
  return summaries.get(dir, await signature(dir), () => inspectCheckpoint(dir));
}

async function readBaseModel(dir: string): Promise<BaseModel> {
  const config = await readJsonObject(path.join(dir, 'config.json'));
  const classifier = await loadClassifier({ near: dir });
  const family = classifier.familyForConfig(config)?.name;
  const weights = await CheckpointWeights.open(dir);
  try {
    const tensors = weights.tensors.map(({ info }) => ({
      name: info.name,
      shape: info.shape,
      cls: classifier.classify(info.name, family),
    }));
    const linear = new Map<string, number[][]>();
    for (const t of tensors) {
      if (t.shape.length !== 2 || t.cls.layer === null || !t.name.endsWith('.weight')) continue;
      const short = modulePath(t.name).split('.').at(-1)!;
      linear.set(short, [...(linear.get(short) ?? []), t.shape]);
    }
    const hidden = [config.hidden_size, config.n_embd, config.d_model].find((v): v is number => typeof v === 'number');
    return {
      dir,
      parameters: tensors.reduce((n, t) => n + elementCount(t.shape), 0),
      hidden,
      layers: layerCountOf(config),
      tensors,
      linear,
    };
  } finally {
    await weights.close();
  }
}
