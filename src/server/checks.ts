// Findings that need the file system: the base and dataset paths, target modules and merge recipe
// rules against the base checkpoint's tensors, and whether training fits the device's memory.
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { detectCheckpointKind } from '../core/checkpoint/discover';
import type { ExperimentConfig } from '../core/experiment/schema';
import { resolveExperimentPath } from '../core/experiment/validate';
import { builtinRecipe, loadRecipe, Recipe, RecipeRule, recipeSource } from '../core/merge/recipes';
import { formatBytes } from '../core/util/size';
import { closest } from '../core/util/suggest';
import { BaseModel, baseModel } from './checkpoints';
import { datasetSummary } from './datasets';
import type { Finding } from './findings';
import { deviceMemory, estimateMemory } from './memory';

export interface CheckOptions {
  /** Memory of the training GPU in bytes (a setting); without it a GPU run is not checked. */
  gpuBytes?: number;
  totalMem: number;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Every file-system finding of a config whose schema is valid; `file` is the experiment file. */
export async function fileFindings(file: string, config: ExperimentConfig, opts: CheckOptions): Promise<Finding[]> {
  // A path the schema rejected (missing, not a string) is '' in the config and already reported.
  const [base, dataset] = await Promise.all([
    config.base
      ? checkBase(resolveExperimentPath(file, config.base), config.engine)
      : { model: undefined, findings: [] },
    config.dataset ? checkDataset(resolveExperimentPath(file, config.dataset)) : [],
  ]);
  const findings = [...base.findings, ...dataset];
  if (base.model)
    findings.push(
      ...checkModules(base.model, config),
      ...(await checkRecipe(file, base.model, config)),
      ...checkMemory(base.model, config, opts),
    );
  return findings;
}

/** Tokenizer files each engine reads: the built-in one only the "fast" tokenizer.json; transformers also the slow formats. */
// `engine: command` brings its own tokenizer: nothing to check.
const TOKENIZER_FILES: Record<ExperimentConfig['engine'], string[]> = {
  tfjs: ['tokenizer.json'],
  torch: ['tokenizer.json', 'tokenizer.model', 'vocab.json', 'vocab.txt', 'spiece.model'],
  command: [],
};

export async function checkBase(
  dir: string,
  engine: ExperimentConfig['engine'] = 'tfjs',
): Promise<{ model?: BaseModel; findings: Finding[] }> {
  const fail = (what: string): { model?: BaseModel; findings: Finding[] } => ({
    findings: [{ path: ['base'], message: `'base': ${dir} ${what}`, severity: 'error' }],
  });
  const kind = await detectCheckpointKind(dir);
  if (kind === 'adapter') return fail('is a LoRA adapter, not a model folder');
  if (!kind)
    return fail(
      (await stat(dir).catch(() => undefined))
        ? 'is not a model folder (config.json with safetensors weights)'
        : 'does not exist',
    );
  let model: BaseModel;
  try {
    model = await baseModel(dir);
  } catch (e) {
    return fail(`cannot be read: ${message(e)}`);
  }
  // Without a tokenizer the run fails at its start; say so while the file is edited.
  const files = TOKENIZER_FILES[engine] ?? TOKENIZER_FILES.tfjs;
  const found = await Promise.all(
    files.map((f) =>
      stat(path.join(dir, f)).then(
        () => true,
        () => false,
      ),
    ),
  );
  if (files.length && !found.some(Boolean))
    return {
      model,
      ...fail(
        `has no tokenizer (${files.join(', ')}${engine === 'tfjs' ? ': the built-in engine reads the "fast" tokenizer.json only' : ''}); copy it from where the model came from`,
      ),
    };
  return { model, findings: [] };
}

async function checkDataset(file: string): Promise<Finding[]> {
  const finding = (what: string, severity: Finding['severity'] = 'error'): Finding[] => [
    { path: ['dataset'], message: `'dataset': ${file} ${what}`, severity },
  ];
  const info = await stat(file).catch(() => undefined);
  if (!info) return finding('does not exist');
  if (!info.isFile()) return finding('is a folder, not a dataset file');
  try {
    const summary = await datasetSummary(file);
    if (summary.format === 'unknown')
      return finding(
        'is not a dataset: no known format (Alpaca, ShareGPT, chat messages, prompt/completion, text, Parquet)',
      );
    if (summary.rows === 0) return finding('has no rows');
    const first = summary.problems[0];
    if (first)
      return finding(
        `is ${summary.format} with ${summary.problems.length} problem(s) in its first rows, e.g. ${first.line ? `line ${first.line}` : `row ${first.row}`}: ${first.message}`,
        'warning',
      );
    return [];
  } catch (e) {
    return finding(`cannot be read as a dataset: ${message(e)}`);
  }
}

/** Target modules that name no linear module of the base; an error when none does (training would fail), else warnings. */
function checkModules(model: BaseModel, config: ExperimentConfig): Finding[] {
  if (config.train.method !== 'lora') return [];
  const targets = config.lora.target_modules;
  const known = [...model.linear.keys()].sort();
  const unmatched = targets.map((name, i) => ({ name, i })).filter(({ name }) => !model.linear.has(name));
  const severity = unmatched.length === targets.length ? 'error' : 'warning';
  return unmatched.map(({ name, i }) => {
    const replacement = closest(name, known);
    return {
      path: ['lora', 'target_modules', i],
      severity,
      replacement,
      message: `'${name}' matches no linear module of the base model${replacement ? `; did you mean '${replacement}'?` : ''} (modules: ${known.join(', ') || 'none'})`,
    };
  });
}

/** A recipe that cannot be loaded, and each of its rules that selects no tensor of the base. */
async function checkRecipe(file: string, model: BaseModel, config: ExperimentConfig): Promise<Finding[]> {
  const name = config.merge.recipe;
  let recipe: Recipe;
  try {
    recipe = builtinRecipe(name) ?? (await loadRecipe(resolveExperimentPath(file, name)));
  } catch (e) {
    return [{ path: ['merge', 'recipe'], message: message(e), severity: 'error' }];
  }
  return recipe.rules.flatMap((rule, i): Finding[] =>
    model.tensors.some((t) => ruleSelects(recipe, rule, t.cls, t.name))
      ? []
      : [
          {
            path: ['merge', 'recipe'],
            message: `recipe '${recipe.name}' rule ${i + 1} (${describeRule(rule)}) matches no tensor of the base model`,
            severity: 'warning',
          },
        ],
  );
}

/** Whether one rule matches a tensor, asked through recipeSource (the one interpreter of rules) with a recipe of that rule alone, whose default is the other source. */
function ruleSelects(
  recipe: Recipe,
  rule: RecipeRule,
  cls: BaseModel['tensors'][number]['cls'],
  name: string,
): boolean {
  const alone: Recipe = { ...recipe, rules: [rule], default: rule.source === 'base' ? 'finetuned' : 'base' };
  return recipeSource(alone, cls, name) === rule.source;
}

function describeRule(rule: RecipeRule): string {
  const parts = [
    rule.block && `block ${rule.block.join('|')}`,
    rule.module && `module ${rule.module.join('|')}`,
    rule.name && `name /${rule.name.source}/`,
    rule.layers && `layers ${rule.layers.join('-')}`,
  ];
  return parts.filter(Boolean).join(', ') || 'every tensor';
}

function checkMemory(model: BaseModel, config: ExperimentConfig, opts: CheckOptions): Finding[] {
  const available = deviceMemory(config.device, opts.totalMem, opts.gpuBytes);
  const m = estimateMemory(model, config.train, config.lora);
  if (available === undefined || m.total <= available) return [];
  const parts = `weights ${formatBytes(m.weights)}, gradients ${formatBytes(m.grads)}, AdamW state ${formatBytes(m.optimizer)}, activations ${formatBytes(m.activations)}`;
  return [
    {
      path: ['base'],
      severity: 'warning',
      message: `training needs about ${formatBytes(m.total)} (${parts}), more than the ${formatBytes(available)} of the ${config.device === 'cpu' || opts.gpuBytes === undefined ? 'CPU' : 'GPU'}; lower train.batch_size or train.max_seq_length, or use LoRA`,
    },
  ];
}
