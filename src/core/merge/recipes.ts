import { parse as parseYaml } from 'yaml';
import { Block, BLOCKS, TensorClass } from '../classify/types';
import { InputError, OptionError } from '../errors';
import { compilePattern, Pattern } from '../util/pattern';
import { readRegularText } from '../util/files';

export type Source = 'base' | 'finetuned';

/** A rule matches when every field it sets matches; the first matching rule decides the source. */
export interface RecipeRule {
  block?: Block[];
  module?: string[];
  /** Regular expression tested against the full tensor name (linear-time: recipe files are user input). */
  name?: Pattern;
  /** Inclusive layer range; tensors outside the layer stack never match a rule with `layers`. */
  layers?: [number, number];
  source: Source;
}

export interface Recipe {
  name: string;
  description: string;
  /** Where the recipe comes from: the paper's rule, an ablation, a comparator, or a user file. */
  origin: string;
  /** Source of tensors no rule matches. */
  default: Source;
  rules: RecipeRule[];
}

/**
 * The built-in recipes, written in the same form a user's recipe file uses, so they are data read by
 * the one interpreter below.
 */
const BUILTIN_TEXT: Record<string, string> = {
  taia: `
name: taia
description: the paper's rule - everything from the fine-tune except the FFN (MLP) matrices, which revert to base; for a LoRA adapter only non-FFN LoRA modules are applied
origin: TAIA (arXiv 2405.20192), official code load_pretrained_model(unload_ffn=True)
default: finetuned
rules:
  - { block: ffn, source: base }
`,
  'taia-strict': `
name: taia-strict
description: strictly attention only - the attention block (projections, their biases, q/k norms) from the fine-tune, everything else from base
origin: stricter reading of TAIA; not the paper's code
default: base
rules:
  - { block: attention, source: finetuned }
`,
  taif: `
name: taif
description: the paper's TAIF ablation - only the FFN (MLP) matrices from the fine-tune, everything else from base
origin: TAIA paper ablation (infer with only the FFN part)
default: base
rules:
  - { block: ffn, source: finetuned }
`,
  full: `
name: full
description: the whole fine-tune (for an adapter, every LoRA module folded in) - the usual merged model
origin: comparator
default: finetuned
rules: []
`,
  base: `
name: base
description: the base model unchanged, written in the same format as the other recipes
origin: comparator
default: base
rules: []
`,
};

export const BUILTIN_RECIPE_NAMES = Object.keys(BUILTIN_TEXT);

export class RecipeError extends InputError {
  constructor(source: string, problem: string) {
    super(`${source}: ${problem}`);
    this.name = 'RecipeError';
  }
}

export function builtinRecipe(name: string): Recipe | undefined {
  const text = BUILTIN_TEXT[name];
  return text === undefined ? undefined : parseRecipe(text, `built-in recipe '${name}'`);
}

/** A built-in name, or a YAML/JSON recipe file. */
export async function loadRecipe(nameOrFile: string): Promise<Recipe> {
  const builtin = builtinRecipe(nameOrFile);
  if (builtin) return builtin;
  let text: string;
  try {
    text = await readRegularText(nameOrFile, 2 ** 20);
  } catch (e) {
    throw new RecipeError(
      nameOrFile,
      `not a built-in recipe (${BUILTIN_RECIPE_NAMES.join(', ')}) and not a readable recipe file (${(e as Error).message})`,
    );
  }
  return parseRecipe(text, nameOrFile);
}

const SOURCES: readonly Source[] = ['base', 'finetuned'];

/** Parses and validates a recipe document (YAML, so JSON too). */
export function parseRecipe(text: string, source: string): Recipe {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new RecipeError(source, `invalid YAML (${(e as Error).message})`);
  }
  const fail = (problem: string): never => {
    throw new RecipeError(source, problem);
  };
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    fail('a recipe is a mapping with name, default and rules');
  const d = doc as Record<string, unknown>;
  for (const key of Object.keys(d))
    if (!['name', 'description', 'origin', 'default', 'rules'].includes(key)) fail(`unknown key '${key}'`);
  if (typeof d.name !== 'string' || d.name === '') fail('"name" must be a non-empty string');
  if (!SOURCES.includes(d.default as Source)) fail(`"default" must be one of ${SOURCES.join(', ')}`);
  const rules = d.rules ?? [];
  if (!Array.isArray(rules)) fail('"rules" must be a list');
  return {
    name: d.name as string,
    description: typeof d.description === 'string' ? d.description : '',
    origin: typeof d.origin === 'string' ? d.origin : source,
    default: d.default as Source,
    rules: (rules as unknown[]).map((r, i) => parseRule(r, (p) => fail(`rule ${i + 1}: ${p}`))),
  };
}

function parseRule(raw: unknown, fail: (problem: string) => never): RecipeRule {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('a rule is a mapping');
  const r = raw as Record<string, unknown>;
  for (const key of Object.keys(r))
    if (!['block', 'module', 'name', 'layers', 'source'].includes(key)) fail(`unknown key '${key}'`);
  if (!SOURCES.includes(r.source as Source)) fail(`"source" must be one of ${SOURCES.join(', ')}`);
  const list = (key: string): string[] | undefined => {
    const v = r[key];
    if (v === undefined) return undefined;
    const items = Array.isArray(v) ? v : [v];
    if (!items.every((x) => typeof x === 'string')) fail(`"${key}" must be a name or a list of names`);
    return items as string[];
  };
  const block = list('block');
  for (const b of block ?? [])
    if (!BLOCKS.includes(b as Block)) fail(`unknown block '${b}' (blocks: ${BLOCKS.join(', ')})`);
  let name: Pattern | undefined;
  if (r.name !== undefined) {
    if (typeof r.name !== 'string') fail('"name" must be a regular expression string');
    try {
      name = compilePattern(r.name as string);
    } catch (e) {
      fail(`"name" ${(e as Error).message}`);
    }
  }
  let layers: [number, number] | undefined;
  try {
    layers =
      r.layers === undefined
        ? undefined
        : parseLayerRange(Array.isArray(r.layers) ? r.layers.join('-') : String(r.layers));
  } catch (e) {
    fail(`"layers": ${(e as Error).message}`);
  }
  return { block: block as Block[] | undefined, module: list('module'), name, layers, source: r.source as Source };
}

/** "A-B" or "N" → inclusive range. */
export function parseLayerRange(text: string): [number, number] {
  const m = /^\s*(\d+)\s*(?:-\s*(\d+))?\s*$/.exec(text);
  if (!m) throw new OptionError('layers', 'invalid layer range', `'${text}' (expected A-B, e.g. 0-15)`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (hi < lo) throw new OptionError('layers', 'invalid layer range', `'${text}': end before start`);
  return [lo, hi];
}

function ruleMatches(rule: RecipeRule, cls: TensorClass, name: string): boolean {
  if (rule.block && !rule.block.includes(cls.block)) return false;
  if (rule.module && !rule.module.includes(cls.module)) return false;
  if (rule.name && !rule.name.test(name)) return false;
  if (rule.layers && (cls.layer === null || cls.layer < rule.layers[0] || cls.layer > rule.layers[1])) return false;
  return true;
}

/** Where a tensor comes from under a recipe. */
export function recipeSource(recipe: Recipe, cls: TensorClass, name: string): Source {
  return recipe.rules.find((rule) => ruleMatches(rule, cls, name))?.source ?? recipe.default;
}

/** The source under a recipe limited to an inclusive layer range: layer tensors outside it come from base. */
export function sourceWithinLayers(
  recipe: Recipe,
  layers: readonly [number, number] | undefined,
  cls: TensorClass,
  name: string,
): Source {
  if (layers && cls.layer !== null && (cls.layer < layers[0] || cls.layer > layers[1])) return 'base';
  return recipeSource(recipe, cls, name);
}

/** The recipe as plain data (for provenance and `--json`). */
export function recipeToJson(recipe: Recipe): unknown {
  return {
    ...recipe,
    rules: recipe.rules.map((r) => ({ ...r, name: r.name?.source })),
  };
}
