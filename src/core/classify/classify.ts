import { ArchitectureFamily, FAMILIES, TensorRule } from './architectures';
import { Block, TensorClass } from './types';

interface CompiledRule {
  re: RegExp;
  block: Block;
  module: string;
}

interface CompiledFamily {
  name: string;
  layerPrefix: RegExp;
  layer: CompiledRule[];
  outside: CompiledRule[];
}

// Compiled once: classification runs on every tensor of a checkpoint, and in the language server.
const compileRule = ([pattern, block, module]: TensorRule): CompiledRule => ({ re: new RegExp(`^(?:${pattern.source})$`), block, module });
const compileFamily = (f: ArchitectureFamily): CompiledFamily => ({
  name: f.name,
  layerPrefix: f.layerPrefix,
  layer: f.layer.map(compileRule),
  outside: f.outside.map(compileRule),
});
const COMPILED = FAMILIES.map(compileFamily);

/** Model types are compared without case, `_` or `-`, so architecture class names can be matched too. */
const normalise = (s: string): string => s.toLowerCase().replace(/[_-]/g, '');

/** Family name or model_type (normalised) → families to try, that family first. */
const ORDER_BY_HINT = new Map<string, CompiledFamily[]>();
FAMILIES.forEach((f, i) => {
  const order = [COMPILED[i], ...COMPILED.filter((_, j) => j !== i)];
  for (const key of [f.name, ...f.modelTypes]) ORDER_BY_HINT.set(normalise(key), order);
});

const PEFT_PREFIX = /^base_model\.model\./;
// PEFT wrappers inside a path: ModulesToSaveWrapper's copies and original, LoRA layers' base_layer.
const PEFT_INFIX = /\.(?:modules_to_save\.[^.]+|original_module|base_layer)(?=\.)/g;
// A LoRA tensor (saved form, or in-memory form with the adapter name) ends the path of the module it adapts.
const LORA_SUFFIX = /\.(?:lora_[AB]|lora_embedding_[AB]|lora_magnitude_vector)(?:\.[^.]+){0,2}$/;
// Multimodal wrappers around a causal LM: `model.language_model.X` (new) and `language_model.X` (old).
const NEW_MULTIMODAL = /^model\.language_model\./;
const OLD_MULTIMODAL = /^language_model\./;

/**
 * The module path a tensor belongs to: PEFT and multimodal wrappers removed, and the last component
 * (the parameter or buffer: weight, bias, e_score_correction_bias, inv_freq, ...) dropped.
 */
export function modulePath(tensorName: string): string {
  let n = tensorName.replace(PEFT_PREFIX, '').replace(PEFT_INFIX, '');
  n = n.replace(NEW_MULTIMODAL, 'model.').replace(OLD_MULTIMODAL, '');
  const lora = LORA_SUFFIX.exec(n);
  if (lora) return n.slice(0, lora.index);
  const dot = n.lastIndexOf('.');
  return dot < 0 ? n : n.slice(0, dot);
}

function matchRules(rules: CompiledRule[], path: string): Pick<TensorClass, 'block' | 'module' | 'expert'> | undefined {
  for (const rule of rules) {
    const m = rule.re.exec(path);
    if (!m) continue;
    const groups = m.groups ?? {};
    const module = rule.module.replace(/\$<(\w+)>/g, (_, g: string) => groups[g] ?? '');
    return groups.expert === undefined ? { block: rule.block, module } : { block: rule.block, module, expert: Number(groups.expert) };
  }
  return undefined;
}

/**
 * Classifies a tensor by name. `family` (a family name or a config.json model_type) puts that family's
 * rules first; the other families are still tried. A name no rule matches is reported as unknown
 * (block 'other'), with its layer when a layer prefix matched.
 */
export function classifyTensor(name: string, family?: string): TensorClass {
  const path = modulePath(name);
  const order = (family !== undefined && ORDER_BY_HINT.get(normalise(family))) || COMPILED;
  let layer: number | null = null;
  for (const f of order) {
    const prefix = f.layerPrefix.exec(path);
    if (prefix) {
      const index = Number(prefix[1]);
      layer ??= index;
      const hit = matchRules(f.layer, path.slice(prefix[0].length));
      if (hit) return { layer: index, ...hit, family: f.name, known: true };
    } else {
      const hit = matchRules(f.outside, path);
      if (hit) return { layer: null, ...hit, family: f.name, known: true };
    }
  }
  return { layer, block: 'other', module: path.slice(path.lastIndexOf('.') + 1), known: false };
}

/**
 * The family for a config.json: by `model_type`, then a multimodal model's `text_config.model_type`,
 * then `architectures` (e.g. MixtralForCausalLM → mixtral). Undefined when none is known.
 */
export function familyForConfig(config: { model_type?: unknown; architectures?: unknown; text_config?: unknown }): string | undefined {
  const text = config.text_config;
  const textType = typeof text === 'object' && text !== null ? (text as { model_type?: unknown }).model_type : undefined;
  const archs = Array.isArray(config.architectures) ? config.architectures : [];
  const candidates = [config.model_type, textType, ...archs.map((a) => (typeof a === 'string' ? a.replace(/(?:For\w+|LMHeadModel|Model)$/, '') : undefined))];
  for (const c of candidates) {
    if (typeof c !== 'string') continue;
    const order = ORDER_BY_HINT.get(normalise(c));
    if (order) return order[0].name;
  }
  return undefined;
}
