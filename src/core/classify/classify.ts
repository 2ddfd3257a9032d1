import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import {
  ArchitectureFamily,
  BUNDLED_FAMILIES,
  loadArchitectureDir,
  TensorRule,
  WORKSPACE_ARCHITECTURES,
} from './architectures';
import { Block, TensorClass } from './types';

interface CompiledRule {
  re: RegExp;
  block: Block;
  module: string;
  tower?: string;
}

interface CompiledFamily {
  family: ArchitectureFamily;
  layerPrefixes: RegExp[];
  layer: CompiledRule[];
  outside: CompiledRule[];
}

// A rule matches the module path, optionally followed by one parameter component (weight, bias,
// e_score_correction_bias, or a fused expert tensor's own name such as gate_up_proj).
const compileRule = (r: TensorRule): CompiledRule => ({
  re: new RegExp(`^(?:${r.match})(?:\\.[^.]+)?$`),
  block: r.block,
  module: r.module,
  tower: r.tower,
});
const compileFamily = (f: ArchitectureFamily): CompiledFamily => ({
  family: f,
  layerPrefixes: f.layerPrefixes.map((p) => new RegExp(`^(?:${p})`)),
  layer: f.layerRules.map(compileRule),
  outside: f.rules.map(compileRule),
});

/** Model types are compared without case, `_` or `-`, so architecture class names can be matched too. */
const normalise = (s: string): string => s.toLowerCase().replace(/[_-]/g, '');

const PEFT_PREFIX = /^base_model\.model\./;
// PEFT wrappers inside a path: ModulesToSaveWrapper's copies and original, LoRA layers' base_layer.
const PEFT_INFIX = /\.(?:modules_to_save\.[^.]+|original_module|base_layer)(?=\.)/g;
// A LoRA tensor (saved form, or in-memory form with the adapter name) ends the path of the module it adapts.
const LORA_SUFFIX = /\.(?:lora_[AB]|lora_embedding_[AB]|lora_magnitude_vector)(?:\.[^.]+){0,2}$/;
/**
 * Wrappers around a causal language model inside multimodal models, removed so the language model's
 * names meet its family's rules: `model.language_model.X` (transformers >= 4.52), `language_model.X`
 * (older LLaVA, Gemma 3, InternVL), `model.text_model.X` (Idefics3, SmolVLM), `llm.X` (MiniCPM-V).
 */
const LANGUAGE_MODEL_WRAPPERS: readonly [RegExp, string][] = [
  [/^model\.language_model\.(?!model\.)/, 'model.'],
  [/^model\.language_model\./, ''],
  [/^language_model\./, ''],
  [/^model\.text_model\./, 'model.'],
  [/^llm\./, ''],
];
/** The paper's rule (its code skips every key containing one of these): FFN in every architecture. */
const PAPER_FFN = /(gate_up|gate|up|down)_proj/;

/**
 * The name a tensor is classified by: PEFT and language-model wrappers removed, and a LoRA tensor's
 * own suffix dropped (so it is the path of the module it adapts).
 */
function normalisedName(tensorName: string): string {
  let n = tensorName.replace(PEFT_PREFIX, '').replace(PEFT_INFIX, '');
  for (const [re, to] of LANGUAGE_MODEL_WRAPPERS) {
    if (re.test(n)) {
      n = n.replace(re, to);
      break;
    }
  }
  const lora = LORA_SUFFIX.exec(n);
  return lora ? n.slice(0, lora.index) : n;
}

/** The module path a tensor belongs to: wrappers removed and the last component (weight, bias, ...) dropped. */
export function modulePath(tensorName: string): string {
  const n = normalisedName(tensorName);
  if (LORA_SUFFIX.test(tensorName)) return n;
  const dot = n.lastIndexOf('.');
  return dot < 0 ? n : n.slice(0, dot);
}

function matchRules(
  rules: CompiledRule[],
  name: string,
): Pick<TensorClass, 'block' | 'module' | 'expert' | 'tower'> | undefined {
  for (const rule of rules) {
    const m = rule.re.exec(name);
    if (!m) continue;
    const groups = m.groups ?? {};
    const module = rule.module.replace(/\$<(\w+)>/g, (_, g: string) => groups[g] ?? '');
    return {
      block: rule.block,
      module,
      ...(groups.expert === undefined ? {} : { expert: Number(groups.expert) }),
      ...(rule.tower ? { tower: rule.tower } : {}),
    };
  }
  return undefined;
}

/**
 * The architecture table (bundled families, and a workspace's own in front of them) and its one
 * interpreter. Compiled once: classification runs on every tensor of a checkpoint, and in the
 * language server.
 */
export class Classifier {
  private readonly compiled: CompiledFamily[];
  private readonly byHint = new Map<string, CompiledFamily[]>();

  constructor(readonly families: readonly ArchitectureFamily[]) {
    this.compiled = families.map(compileFamily);
    this.compiled.forEach((f, i) => {
      const order = [f, ...this.compiled.filter((_, j) => j !== i)];
      for (const key of [f.family.name, ...f.family.modelTypes])
        if (!this.byHint.has(normalise(key))) this.byHint.set(normalise(key), order);
    });
  }

  /**
   * Classifies a tensor by name. `family` (a family name or a config.json model_type) puts that
   * family's rules first; the other families are still tried. Whatever they say, a name containing
   * gate_proj, up_proj or down_proj is FFN (the paper's rule). A name nothing matches is reported
   * as unknown (block 'other'), with its layer when a layer prefix matched.
   */
  classify(name: string, family?: string): TensorClass {
    const cls = this.byRules(name, family);
    const paper = PAPER_FFN.exec(name);
    if (!paper || cls.block === 'ffn') return cls;
    return { ...cls, block: 'ffn', module: paper[1], known: true, byPaperRule: true };
  }

  private byRules(name: string, family?: string): TensorClass {
    const n = normalisedName(name);
    const order = (family !== undefined && this.byHint.get(normalise(family))) || this.compiled;
    let layer: number | null = null;
    for (const f of order) {
      const prefix = f.layerPrefixes.map((p) => p.exec(n)).find((m) => m !== null);
      if (prefix) {
        const index = Number(prefix[1]);
        layer ??= index;
        const hit = matchRules(f.layer, n.slice(prefix[0].length));
        if (hit) return { layer: index, ...hit, family: f.family.name, known: true };
      }
      const hit = matchRules(f.outside, n);
      if (hit) return { layer: null, ...hit, family: f.family.name, known: true };
    }
    const mod = modulePath(name);
    return { layer, block: 'other', module: mod.slice(mod.lastIndexOf('.') + 1), known: false };
  }

  /**
   * The family for a config.json: by `model_type`, then a multimodal model's `text_config.model_type`,
   * then `architectures` (e.g. MixtralForCausalLM → mixtral). Undefined when none is known.
   */
  familyForConfig(config: {
    model_type?: unknown;
    architectures?: unknown;
    text_config?: unknown;
    llm_config?: unknown;
  }): ArchitectureFamily | undefined {
    const inner = [config.text_config, config.llm_config].map((c) =>
      typeof c === 'object' && c !== null ? (c as { model_type?: unknown }).model_type : undefined,
    );
    const archs = Array.isArray(config.architectures) ? config.architectures : [];
    const candidates = [
      config.model_type,
      ...inner,
      ...archs.map((a) => (typeof a === 'string' ? a.replace(/(?:For\w+|LMHeadModel|Model)$/, '') : undefined)),
    ];
    for (const c of candidates) {
      if (typeof c !== 'string') continue;
      const order = this.byHint.get(normalise(c));
      if (order) return order[0].family;
    }
    return undefined;
  }
}

/** The bundled table alone. */
export const BUNDLED_CLASSIFIER = new Classifier(BUNDLED_FAMILIES);

export function classifyTensor(name: string, family?: string): TensorClass {
  return BUNDLED_CLASSIFIER.classify(name, family);
}

/** The bundled family name for a config.json, or undefined. */
export function familyForConfig(config: Parameters<Classifier['familyForConfig']>[0]): string | undefined {
  return BUNDLED_CLASSIFIER.familyForConfig(config)?.name;
}

const isDir = (p: string): Promise<boolean> =>
  stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );

/** The nearest `.taia/architectures` folder at or above `start`, or undefined. */
export async function findArchitectureDir(start: string): Promise<string | undefined> {
  let dir = path.resolve(start);
  for (;;) {
    const candidate = path.join(dir, WORKSPACE_ARCHITECTURES);
    if (await isDir(candidate)) return candidate;
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/**
 * The table for a checkpoint: the families of `dirs` (validated; a broken file is an error naming it)
 * in front of the bundled ones. Without `dirs`, the nearest workspace `.taia/architectures` above `near`.
 */
export async function loadClassifier(opts: { dirs?: readonly string[]; near?: string }): Promise<Classifier> {
  const dirs = opts.dirs ?? [];
  const found = dirs.length === 0 && opts.near !== undefined ? await findArchitectureDir(opts.near) : undefined;
  const own = (await Promise.all([...dirs, ...(found ? [found] : [])].map(loadArchitectureDir))).flat();
  return own.length === 0 ? BUNDLED_CLASSIFIER : new Classifier([...own, ...BUNDLED_FAMILIES]);
}
