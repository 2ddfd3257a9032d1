import { readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { Classifier, loadClassifier } from '../classify/classify';
import { Dtype, elementCount } from '../safetensors/dtypes';
import { CheckpointError } from '../errors';
import { MERGE_TEMP } from '../merge/recover';
import { ADAPTER_CONFIG, openLoraAdapter } from '../lora/adapter';
import { readProvenance } from '../merge/provenance';
import { ADAPTER_FILE, CheckpointWeights, INDEX_FILE, MODEL_FILE, readFolderJson } from './weights';

/** Written into every merge output; its presence marks a folder as a merged output of this project. */
export const PROVENANCE_FILE = 'taia_merge.json';

export type CheckpointKind = 'model' | 'adapter' | 'merged';

/**
 * What kind of checkpoint a folder holds, from file names alone (no reads), or undefined:
 * cheap enough to call on every folder of a workspace.
 */
export async function detectCheckpointKind(dir: string): Promise<CheckpointKind | undefined> {
  try {
    return kindFromFileNames(new Set(await readdir(dir)));
  } catch {
    return undefined;
  }
}

export async function isDirectory(dir: string): Promise<boolean> {
  return stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** The same decision from a folder listing a caller already has. */
export function kindFromFileNames(names: ReadonlySet<string>): CheckpointKind | undefined {
  if (names.has(ADAPTER_CONFIG) && names.has(ADAPTER_FILE)) return 'adapter';
  if (!names.has('config.json') || !(names.has(MODEL_FILE) || names.has(INDEX_FILE))) return undefined;
  return names.has(PROVENANCE_FILE) ? 'merged' : 'model';
}

export interface AdapterSummary {
  r: number;
  alpha: number;
  rsLoRA: boolean;
  targetModules: string[] | string;
  modulesToSave: string[];
  baseModel?: string;
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
  /** Distinct short module names the adapter's LoRA pairs act on (q_proj, v_proj, ...). */
  loraModules: string[];
}

export interface MergeSummary {
  recipe: string;
  scale: number;
  inputs: { role: string; path: string }[];
}

export interface CheckpointSummary {
  dir: string;
  kind: CheckpointKind;
  architecture?: string;
  modelType?: string;
  parameters: number;
  /** Parameters per dtype. */
  dtypes: Partial<Record<Dtype, number>>;
  /** Bytes of the weight files. */
  sizeBytes: number;
  layers?: number;
  tensors: number;
  files: string[];
  sharded: boolean;
  /** Tensor names no architecture rule recognises. */
  unknownTensors: string[];
  /** The architecture files whose rules classified this checkpoint's tensors (built-in or a workspace's). */
  architectureFiles: string[];
  adapter?: AdapterSummary;
  merge?: MergeSummary;
}

/** Reads headers and small JSON files only: fast on checkpoints of any size. */
export async function inspectCheckpoint(dir: string): Promise<CheckpointSummary> {
  if (MERGE_TEMP.test(path.basename(path.resolve(dir))))
    throw new CheckpointError(
      dir,
      'is the temporary folder of a merge that did not finish (the next merge into its output removes it), not an output',
    );
  const kind = await detectCheckpointKind(dir);
  if (!kind && !(await isDirectory(dir))) throw new CheckpointError(dir, 'no such folder');
  if (!kind)
    throw new CheckpointError(
      dir,
      `not a checkpoint folder (expected config.json with ${MODEL_FILE} or ${INDEX_FILE}, or ${ADAPTER_CONFIG} with ${ADAPTER_FILE})`,
    );
  if (kind === 'adapter') return inspectAdapter(dir);
  const config = await readFolderJson(dir, 'config.json');
  const weights = await CheckpointWeights.open(dir);
  try {
    const classifier = await loadClassifier({ near: dir });
    const summary = summarise(dir, kind, weights, classifier, classifier.familyForConfig(config)?.name);
    summary.architecture = architectureOf(config);
    summary.modelType = typeof config.model_type === 'string' ? config.model_type : undefined;
    summary.layers = layerCountOf(config) ?? summary.layers;
    if (kind === 'merged') summary.merge = await readMergeSummary(dir);
    return { ...summary, sizeBytes: await sizeOf(weights) };
  } finally {
    await weights.close();
  }
}

async function inspectAdapter(dir: string): Promise<CheckpointSummary> {
  const adapter = await openLoraAdapter(dir);
  try {
    const summary = summarise(dir, 'adapter', adapter.weights, await loadClassifier({ near: dir }), undefined);
    const c = adapter.config;
    summary.adapter = {
      r: c.r,
      alpha: c.loraAlpha,
      rsLoRA: c.useRslora,
      targetModules: c.targetModules,
      modulesToSave: c.modulesToSave,
      baseModel: c.baseModel,
      rankPattern: c.rankPattern,
      alphaPattern: c.alphaPattern,
      loraModules: [...new Set(adapter.modules.map((m) => m.module.split('.').pop()!))].sort(),
    };
    return { ...summary, sizeBytes: await sizeOf(adapter.weights) };
  } finally {
    await adapter.weights.close();
  }
}

function summarise(
  dir: string,
  kind: CheckpointKind,
  weights: CheckpointWeights,
  classifier: Classifier,
  family: string | undefined,
): CheckpointSummary {
  const dtypes: Partial<Record<Dtype, number>> = {};
  let parameters = 0;
  let maxLayer = -1;
  const unknownTensors: string[] = [];
  const families = new Set<string>();
  for (const { info } of weights.tensors) {
    const n = elementCount(info.shape);
    parameters += n;
    dtypes[info.dtype] = (dtypes[info.dtype] ?? 0) + n;
    const cls = classifier.classify(info.name, family);
    if (cls.family) families.add(cls.family);
    if (cls.layer !== null) maxLayer = Math.max(maxLayer, cls.layer);
    if (!cls.known) unknownTensors.push(info.name);
  }
  return {
    dir,
    kind,
    parameters,
    dtypes,
    sizeBytes: 0,
    layers: maxLayer >= 0 ? maxLayer + 1 : undefined,
    tensors: weights.byName.size,
    files: weights.files.map((f) => path.basename(f.path)),
    sharded: weights.index !== undefined,
    unknownTensors,
    architectureFiles: classifier.families.filter((f) => families.has(f.name)).map((f) => f.file),
  };
}

async function sizeOf(weights: CheckpointWeights): Promise<number> {
  const sizes = await Promise.all(weights.files.map((f) => stat(f.path).then((s) => s.size)));
  return sizes.reduce((a, b) => a + b, 0);
}

export function architectureOf(config: Record<string, unknown>): string | undefined {
  const a = config.architectures;
  return Array.isArray(a) && typeof a[0] === 'string'
    ? a[0]
    : typeof config.model_type === 'string'
      ? config.model_type
      : undefined;
}

/** num_hidden_layers under the names different architectures use. */
export function layerCountOf(config: Record<string, unknown>): number | undefined {
  for (const key of ['num_hidden_layers', 'n_layer', 'num_layers']) {
    const v = config[key];
    if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  }
  const text = config.text_config;
  return typeof text === 'object' && text !== null ? layerCountOf(text as Record<string, unknown>) : undefined;
}

async function readMergeSummary(dir: string): Promise<MergeSummary> {
  const p = await readProvenance(dir);
  return {
    recipe: p.recipe.name,
    scale: p.scale,
    inputs: p.inputs.map((i) => ({ role: String(i.role), path: String(i.path) })),
  };
}
