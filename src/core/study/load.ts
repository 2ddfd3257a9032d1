// A study file made ready to run: validated, paths resolved against its folder, a run folder resolved
// to its newest checkpoint, and the variant entries expanded into named variants with their recipes.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { detectCheckpointKind } from '../checkpoint/discover';
import { ExperimentError, locate } from '../experiment/load';
import type { ExperimentDefaults, ExperimentProblem } from '../experiment/validate';
import { builtinRecipe, loadRecipe, Recipe, recipeToJson } from '../merge/recipes';
import { listCheckpoints } from '../runs/store';
import { readJsonObject } from '../util/json';
import { parseStudy } from './parse';
import { ScanKind, StudyConfig, VariantEntry } from './schema';

/** One variant to evaluate: a recipe with its scale and layer range, named uniquely in the study. */
export interface StudyVariant {
  name: string;
  recipe: Recipe;
  /** What the trainer is told: a built-in name or a recipe file; for a scan's generated recipe, its name. */
  recipeRef: string;
  /** A generated recipe as its document (JSON), sent to the evaluator in place of a file. */
  recipeText?: string;
  scale?: number;
  layers?: [number, number];
  /** For the heatmap: which layers a scan variant reverts. */
  scan?: { kind: ScanKind; layers: [number, number] };
}

export interface Study {
  file: string;
  config: StudyConfig;
  /** The fine-tune or adapter actually evaluated (a run folder's newest checkpoint). */
  finetuned: string;
  layerCount?: number;
  variants: StudyVariant[];
}

/** Reads and checks a study file; `defaults` fill keys it leaves out (the editor's `taiaLab.slurm.*` settings). */
export async function loadStudy(file: string, defaults: ExperimentDefaults = {}): Promise<Study> {
  const text = await readFile(file, 'utf-8').catch((e: NodeJS.ErrnoException) => {
    throw new ExperimentError(file, [
      { path: [], message: `cannot read (${e.code})`, severity: 'error', line: 1, column: 1 },
    ]);
  });
  const fail = (problems: ExperimentProblem[]) =>
    new ExperimentError(
      file,
      problems.map((p) => ({ ...p, ...locate(text, p) })),
    );
  const parsed = parseStudy(text, file, defaults);
  const errors = parsed.problems.filter((p) => p.severity === 'error');
  if (errors.length) throw fail(errors);
  const at = (p: string) => path.resolve(path.dirname(file), p);
  const config: StudyConfig = {
    ...parsed.config,
    base: at(parsed.config.base),
    finetuned: at(parsed.config.finetuned),
    eval: { ...parsed.config.eval, tasks: parsed.config.eval.tasks.map(at) },
  };
  const problems: ExperimentProblem[] = [];
  const baseKind = await detectCheckpointKind(config.base).catch(() => undefined);
  if (baseKind !== 'model' && baseKind !== 'merged')
    problems.push({
      path: ['base'],
      message: `'base': ${config.base} is not a model folder (config.json with safetensors weights)`,
      severity: 'error',
    });
  const finetuned = await resolveFinetuned(config.finetuned);
  if (!finetuned)
    problems.push({
      path: ['finetuned'],
      message: `'finetuned': ${config.finetuned} is not a model folder, a LoRA adapter or a run folder with a checkpoint`,
      severity: 'error',
    });
  if (problems.length) throw fail(problems);
  const layerCount = await layersOf(config.base);
  const variants: StudyVariant[] = [];
  for (const entry of config.variants) {
    try {
      variants.push(...(await expand(entry, at, layerCount)));
    } catch (e) {
      problems.push({
        path: ['variants', entry.index],
        message: `variant ${entry.index + 1}: ${(e as Error).message}`,
        severity: 'error',
      });
    }
  }
  const seen = new Map<string, number>();
  for (const v of variants) seen.set(v.name, (seen.get(v.name) ?? 0) + 1);
  const doubled = [...seen].filter(([, n]) => n > 1).map(([name]) => name);
  if (doubled.length)
    problems.push({
      path: ['variants'],
      message: `variant names must differ; twice: ${doubled.join(', ')} (give one a name)`,
      severity: 'error',
    });
  if (problems.length) throw fail(problems);
  return { file: path.resolve(file), config, finetuned: finetuned!, layerCount, variants };
}

/** A model or adapter folder as it is; a run folder by its newest checkpoint. */
async function resolveFinetuned(dir: string): Promise<string | undefined> {
  if (await detectCheckpointKind(dir).catch(() => undefined)) return dir;
  const newest = (await listCheckpoints(dir)).at(-1);
  return newest && (await detectCheckpointKind(newest.dir).catch(() => undefined)) ? newest.dir : undefined;
}

async function layersOf(base: string): Promise<number | undefined> {
  const config = await readJsonObject(path.join(base, 'config.json'));
  const n = config.num_hidden_layers ?? config.n_layer ?? config.num_layers;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : undefined;
}

async function expand(
  entry: VariantEntry,
  at: (p: string) => string,
  layerCount: number | undefined,
): Promise<StudyVariant[]> {
  if (entry.scan) {
    if (!layerCount) throw new Error("a scan needs the base's layer count (num_hidden_layers in its config.json)");
    return Array.from({ length: layerCount }, (_, l) => {
      const layers: [number, number] = entry.scan === 'revert-ffn-each' ? [l, l] : [0, l];
      const name = entry.scan === 'revert-ffn-each' ? `revert-ffn-L${l}` : `revert-ffn-L0-${l}`;
      const recipe: Recipe = {
        name,
        description: `the whole fine-tune except the FFN of layer${layers[0] === layers[1] ? ` ${l}` : `s 0-${l}`}, which reverts to base`,
        origin: `study scan ${entry.scan}`,
        default: 'finetuned',
        rules: [{ block: ['ffn'], layers, source: 'base' }],
      };
      return {
        name,
        recipe,
        recipeRef: name,
        recipeText: JSON.stringify(recipeToJson(recipe)),
        scan: { kind: entry.scan!, layers },
      };
    });
  }
  const ref = builtinRecipe(entry.recipe!) ? entry.recipe! : at(entry.recipe!);
  const recipe = await loadRecipe(ref);
  const out: StudyVariant[] = [];
  for (const layers of entry.layers ?? [undefined]) {
    for (const scale of entry.scale ?? [undefined]) {
      const name =
        entry.name ??
        [recipe.name, layers && `L${layers[0]}-${layers[1]}`, scale !== undefined && `x${scale}`]
          .filter(Boolean)
          .join('-');
      out.push({ name, recipe, recipeRef: ref, scale, layers });
    }
  }
  return out;
}
