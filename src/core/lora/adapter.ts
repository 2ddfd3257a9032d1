import * as path from 'node:path';
import { CheckpointError } from '../errors';
import { ADAPTER_FILE, CheckpointWeights, readFolderJson, WeightRef } from '../checkpoint/weights';
import { isFloatDtype } from '../safetensors/dtypes';
import { compilePattern, Pattern } from '../util/pattern';

export const ADAPTER_CONFIG = 'adapter_config.json';
const PREFIX = 'base_model.model.';

/** The fields of PEFT's LoraConfig that decide how an adapter folds into its base. */
export interface LoraConfig {
  r: number;
  loraAlpha: number;
  useRslora: boolean;
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
  fanInFanOut: boolean;
  targetModules: string[] | string;
  modulesToSave: string[];
  baseModel?: string;
  useDora: boolean;
  loraBias: boolean;
}

/** One LoRA pair and the base tensor it updates: W' = W + scaling · B·A (transposed when `transpose`). */
export interface LoraModule {
  /** Module path in base-model naming, e.g. `model.layers.0.self_attn.q_proj`. */
  module: string;
  /** Base tensor the delta is added to. */
  target: string;
  a: WeightRef;
  b: WeightRef;
  /** lora_B.bias (PEFT's `lora_bias`), added to `<module>.bias` times scaling. */
  bias?: WeightRef;
  r: number;
  scaling: number;
  /** fan_in_fan_out (GPT-2 Conv1D) and embedding LoRA store the delta transposed. */
  transpose: boolean;
}

export interface LoraAdapter {
  dir: string;
  config: LoraConfig;
  weights: CheckpointWeights;
  modules: LoraModule[];
  /** Whole tensors stored in the adapter (modules_to_save, trained biases, resized embeddings), by base name. */
  replacements: Map<string, WeightRef>;
}

export async function readLoraConfig(dir: string): Promise<LoraConfig> {
  const file = path.join(dir, ADAPTER_CONFIG);
  const c = await readFolderJson(dir, ADAPTER_CONFIG);
  const fail = (problem: string): never => {
    throw new CheckpointError(file, problem);
  };
  // A field written as null is not a field left out: PEFT would fail on it, so it is refused here too.
  for (const key of [
    'peft_type',
    'r',
    'lora_alpha',
    'target_modules',
    'rank_pattern',
    'alpha_pattern',
    'modules_to_save',
    'use_rslora',
    'fan_in_fan_out',
    'use_dora',
    'lora_bias',
  ]) {
    if (c[key] === null && !NULLABLE.has(key)) fail(`"${key}" is null; leave it out or give a value`);
  }
  const peftType = c.peft_type ?? 'LORA';
  if (peftType !== 'LORA')
    fail(`peft_type ${JSON.stringify(peftType)} is not supported (only LORA adapters fold into weights here)`);
  const num = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
      fail(`"${key}" must be a positive number, got ${JSON.stringify(c[key])}`);
    return v as number;
  };
  const pattern = (key: string): Record<string, number> => {
    const v = c[key] ?? {};
    if (
      typeof v !== 'object' ||
      v === null ||
      Array.isArray(v) ||
      !Object.values(v).every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0)
    ) {
      fail(`"${key}" must map module patterns to positive numbers`);
    }
    for (const k of Object.keys(v)) {
      if (k === '') fail(`"${key}" has an empty key, which would match every module`);
      try {
        compilePattern(k);
      } catch (e) {
        fail(`"${key}" key ${JSON.stringify(k)} ${(e as Error).message}`);
      }
    }
    return v as Record<string, number>;
  };
  // PiSSA, OLoRA and CorDA move the adapter's principal part out of the base weights, and LoftQ
  // quantises them: such an adapter is relative to the residual base saved with it, not to the original.
  const init = c.init_lora_weights;
  if (typeof init === 'string' && /^(pissa|olora|corda|loftq)/i.test(init)) {
    fail(
      `"init_lora_weights": ${JSON.stringify(init)} adapters are relative to the residual base that initialisation wrote, not to the original base: folding it here would give a wrong model. Convert it to a plain LoRA first (PEFT's save_pretrained with path_initial_model_for_weight_conversion), or merge it onto its residual base with PEFT`,
    );
  }
  const targets = c.target_modules ?? [];
  if (!(typeof targets === 'string' || (Array.isArray(targets) && targets.every((t) => typeof t === 'string'))))
    fail('"target_modules" must be a list of names or a regex string');
  const toSave = c.modules_to_save ?? [];
  if (!Array.isArray(toSave) || !toSave.every((t) => typeof t === 'string'))
    fail('"modules_to_save" must be a list of names');
  return {
    r: num('r', 8),
    loraAlpha: num('lora_alpha', 8),
    useRslora: c.use_rslora === true,
    rankPattern: pattern('rank_pattern'),
    alphaPattern: pattern('alpha_pattern'),
    fanInFanOut: c.fan_in_fan_out === true,
    targetModules: targets as string[] | string,
    modulesToSave: toSave as string[],
    baseModel: typeof c.base_model_name_or_path === 'string' ? c.base_model_name_or_path : undefined,
    useDora: c.use_dora === true,
    loraBias: c.lora_bias === true,
  };
}

/** PEFT leaves these out of saved configs or writes them as null by default. */
const NULLABLE = new Set(['modules_to_save']);

/**
 * PEFT's pattern lookup (`get_pattern_key`): the first key that matches the module name as a whole
 * or as a dotted suffix, read as a regular expression (in linear time: the keys come from a file).
 */
export function patternValue(patterns: Record<string, number>, module: string): number | undefined {
  for (const [key, value] of Object.entries(patterns)) {
    if (suffixPattern(key).test(module)) return value;
  }
  return undefined;
}

const compiled = new Map<string, Pattern>();

function suffixPattern(key: string): Pattern {
  let p = compiled.get(key);
  if (!p) {
    p = compilePattern(`^(.*\\.)?(${key})$`);
    compiled.set(key, p);
  }
  return p;
}

/** scaling = alpha / r, or alpha / √r with rsLoRA, after rank_pattern and alpha_pattern overrides. */
export function loraScaling(config: LoraConfig, module: string): { r: number; alpha: number; scaling: number } {
  const r = patternValue(config.rankPattern, module) ?? config.r;
  const alpha = patternValue(config.alphaPattern, module) ?? config.loraAlpha;
  return { r, alpha, scaling: config.useRslora ? alpha / Math.sqrt(r) : alpha / r };
}

const LORA_KEY = /^(.*)\.(lora_A|lora_B|lora_embedding_A|lora_embedding_B)(?:\.weight)?$/;
const LORA_BIAS_KEY = /^(.*)\.lora_B\.bias$/;

/** Opens a PEFT LoRA adapter folder and pairs its A/B matrices, checking shapes and ranks. */
export async function openLoraAdapter(dir: string): Promise<LoraAdapter> {
  const configFile = path.join(dir, ADAPTER_CONFIG);
  const config = await readLoraConfig(dir);
  if (config.useDora)
    throw new CheckpointError(
      configFile,
      "DoRA adapters (use_dora: true) are not supported: their magnitude vector makes W' differ from W + s·B·A",
    );
  const weights = await CheckpointWeights.open(dir, ADAPTER_FILE);
  try {
    return { dir, config, weights, ...pairModules(weights, config) };
  } catch (e) {
    await weights.close();
    throw e;
  }
}

function pairModules(weights: CheckpointWeights, config: LoraConfig): Pick<LoraAdapter, 'modules' | 'replacements'> {
  const parts = new Map<string, { a?: WeightRef; b?: WeightRef; bias?: WeightRef; embedding: boolean }>();
  const replacements = new Map<string, WeightRef>();
  for (const ref of weights.tensors) {
    const key = ref.info.name;
    const fail = (problem: string): never => {
      throw new CheckpointError(ref.file.path, problem, key);
    };
    if (!key.startsWith(PREFIX)) fail(`adapter key does not start with '${PREFIX}'`);
    const name = key.slice(PREFIX.length);
    if (name.includes('lora_magnitude_vector')) fail('DoRA magnitude vectors are not supported');
    const bias = LORA_BIAS_KEY.exec(name);
    const m = LORA_KEY.exec(name);
    if (bias) {
      slot(parts, bias[1]).bias = ref;
    } else if (m) {
      const p = slot(parts, m[1]);
      if (m[2].startsWith('lora_embedding')) p.embedding = true;
      if (m[2].endsWith('A')) p.a = ref;
      else p.b = ref;
    } else if (/\.lora_/.test(name)) {
      fail('unrecognised LoRA tensor');
    } else {
      replacements.set(name, ref);
    }
  }
  const modules: LoraModule[] = [];
  for (const [module, p] of parts) {
    const file = (p.a ?? p.b ?? p.bias)!.file.path;
    if (!p.a || !p.b)
      throw new CheckpointError(
        file,
        `LoRA module has ${p.a ? 'lora_A' : 'lora_B'} but no ${p.a ? 'lora_B' : 'lora_A'}`,
        module,
      );
    const { r, scaling } = loraScaling(config, module);
    const ar = p.a.info.shape[0];
    const bc = p.b.info.shape[1];
    if (p.a.info.shape.length !== 2 || p.b.info.shape.length !== 2)
      throw new CheckpointError(file, 'lora_A and lora_B must be 2-D', module);
    for (const ref of [p.a, p.b, p.bias]) {
      // Refused here, not while writing, so a dry run refuses what the merge would.
      if (ref && !isFloatDtype(ref.info.dtype))
        throw new CheckpointError(
          ref.file.path,
          `LoRA weights must be F32, F16 or BF16, not ${ref.info.dtype}`,
          ref.info.name,
        );
    }
    // Embedding LoRA stores A as [r, num_embeddings] and B as [dim, r] too, but in PEFT's naming A's
    // rows are the rank, as for linear layers.
    if (ar !== r || bc !== r)
      throw new CheckpointError(
        file,
        `rank mismatch: config says r=${r}, lora_A is ${JSON.stringify(p.a.info.shape)}, lora_B is ${JSON.stringify(p.b.info.shape)}`,
        module,
      );
    modules.push({
      module,
      target: `${module}.weight`,
      a: p.a,
      b: p.b,
      bias: p.bias,
      r,
      scaling,
      transpose: p.embedding || config.fanInFanOut,
    });
  }
  return { modules, replacements };
}

function slot<T extends { embedding: boolean }>(map: Map<string, T>, key: string): T {
  let v = map.get(key);
  if (!v) {
    v = { embedding: false } as T;
    map.set(key, v);
  }
  return v;
}

/** The shape W must have for this LoRA pair: [out, in], or [in, out] when stored transposed. */
export function expectedTargetShape(m: LoraModule): [number, number] {
  const out = m.b.info.shape[0];
  const inp = m.a.info.shape[1];
  return m.transpose ? [inp, out] : [out, inp];
}
