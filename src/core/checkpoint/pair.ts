// Opens a base checkpoint with its fine-tune (a full model or a PEFT LoRA adapter) and pairs their
// tensors: the one place the merge plan and the delta report share for reading two checkpoints as one.
import * as path from 'node:path';
import { Classifier, loadClassifier } from '../classify/classify';
import { CheckpointError } from '../errors';

import { LoraAdapter, openLoraAdapter } from '../lora/adapter';
import { detectCheckpointKind } from './discover';
import { CheckpointWeights, readFolderJson, WeightRef } from './weights';

export interface CheckpointPair {
  baseConfig: Record<string, unknown>;
  classifier: Classifier;
  /** The architecture family base's config.json names, when an architecture file knows it. */
  family?: string;
  base: CheckpointWeights;
  kind: 'model' | 'adapter';
  /** With kind 'model': the fine-tune's weights and config.json (checked to agree with base's). */
  finetuned?: CheckpointWeights;
  finetunedConfig?: Record<string, unknown>;
  /** With kind 'adapter'. */
  adapter?: LoraAdapter;
}

export interface PairOptions {
  /** Architecture folders in front of the bundled ones; default: the nearest `.taia/architectures` above base. */
  architectureDirs?: string[];
  /** Refuse a base that is not a model folder (the merge); the delta report lets opening the weights decide. */
  requireModelBase?: boolean;
}

/** Detects the fine-tune's kind, reads configs and the classifier, and opens both sides header-only. */
export async function openPair(baseDir: string, finetunedDir: string, opts: PairOptions = {}): Promise<CheckpointPair> {
  if (opts.requireModelBase) {
    const baseKind = await detectCheckpointKind(baseDir);
    if (baseKind !== 'model' && baseKind !== 'merged')
      throw new CheckpointError(
        baseDir,
        'base must be a Hugging Face model folder (config.json and safetensors weights)',
      );
  }
  const kind = await detectCheckpointKind(finetunedDir);
  if (!kind)
    throw new CheckpointError(
      finetunedDir,
      'not a model folder or a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors)',
    );
  const baseConfig = await readFolderJson(baseDir, 'config.json');
  const classifier = await loadClassifier(opts.architectureDirs ? { dirs: opts.architectureDirs } : { near: baseDir });
  const family = classifier.familyForConfig(baseConfig)?.name;
  const base = await CheckpointWeights.open(baseDir);
  const pair: CheckpointPair = { baseConfig, classifier, family, base, kind: kind === 'adapter' ? 'adapter' : 'model' };
  try {
    if (kind === 'adapter') {
      pair.adapter = await openLoraAdapter(finetunedDir);
    } else {
      pair.finetuned = await CheckpointWeights.open(finetunedDir);
      pair.finetunedConfig = await readFolderJson(finetunedDir, 'config.json');
      checkConfigsAgree(finetunedDir, baseConfig, pair.finetunedConfig);
    }
  } catch (e) {
    await closePair(pair);
    throw e;
  }
  return pair;
}

export async function closePair(pair: Pick<CheckpointPair, 'base' | 'finetuned' | 'adapter'>): Promise<void> {
  await pair.base.close();
  await pair.finetuned?.close();
  await pair.adapter?.weights.close();
}

function checkConfigsAgree(finetunedDir: string, base: Record<string, unknown>, ft: Record<string, unknown>): void {
  for (const key of ['model_type', 'hidden_size', 'num_hidden_layers', 'n_embd', 'n_layer', 'vocab_size']) {
    if (base[key] !== undefined && ft[key] !== undefined && base[key] !== ft[key]) {
      throw new CheckpointError(
        path.join(finetunedDir, 'config.json'),
        `"${key}" is ${JSON.stringify(ft[key])} but base has ${JSON.stringify(base[key])}: not a fine-tune of this base`,
      );
    }
  }
}

/**
 * Pairs tensors of two full checkpoints by name: those in both (in the order of `baseRefs`: the merge
 * keeps the index's order, the delta report reads in storage order), and those on one side only.
 */
export function matchTensors(
  baseRefs: readonly WeightRef[],
  ft: CheckpointWeights,
): { both: [WeightRef, WeightRef][]; onlyInBase: WeightRef[]; onlyInFinetuned: WeightRef[] } {
  const both: [WeightRef, WeightRef][] = [];
  const onlyInBase: WeightRef[] = [];
  for (const b of baseRefs) {
    const f = ft.get(b.info.name);
    if (f) both.push([b, f]);
    else onlyInBase.push(b);
  }
  const inBase = new Set(baseRefs.map((b) => b.info.name));
  const onlyInFinetuned = [...ft.byName.values()].filter((f) => !inBase.has(f.info.name));
  return { both, onlyInBase, onlyInFinetuned };
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A fine-tuned tensor must have its base tensor's shape: anything else is not a fine-tune of it. */
export function checkSameShape(b: WeightRef, f: WeightRef): void {
  if (!sameShape(b.info.shape, f.info.shape)) {
    throw new CheckpointError(
      f.file.path,
      `shape ${JSON.stringify(f.info.shape)} differs from base ${JSON.stringify(b.info.shape)} in ${b.file.path}`,
      b.info.name,
    );
  }
}
