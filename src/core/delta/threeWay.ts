// The three-way form of a delta report: which input each tensor of a merged output equals, checked
// against the recipe its provenance file records.
import * as path from 'node:path';
import { BLOCKS, TensorClass } from '../classify/types';
import { PROVENANCE_FILE } from '../checkpoint/discover';
import { exists } from '../checkpoint/weights';
import { readProvenance } from '../merge/provenance';
import { Recipe, sourceWithinLayers } from '../merge/recipes';
import { MergedSource, ThreeWay, TensorDelta } from './types';

/** What a merged output's provenance records: the rules applied, the layer range, and each tensor's class. */
export interface MergedRecord {
  recipe: Recipe;
  layers?: [number, number];
  classes: Map<string, Pick<TensorClass, 'layer' | 'block' | 'module'>>;
}

/** The rules a merged output was made with, read from its provenance file; undefined when it has none. */
export async function mergedRecipe(dir: string): Promise<MergedRecord | undefined> {
  if (!(await exists(path.join(dir, PROVENANCE_FILE)))) return undefined;
  const p = await readProvenance(dir);
  const classes = new Map(p.tensors.map((t) => [t.name, { layer: t.layer, block: t.block, module: t.module }]));
  return { recipe: p.recipe, layers: p.layers ?? undefined, classes };
}

/** Where a merged tensor should come from under its recorded recipe, applied to the class the merge gave it. */
export function expectedSource(recipe: MergedRecord, cls: TensorClass, name: string): 'base' | 'finetuned' {
  return sourceWithinLayers(recipe.recipe, recipe.layers, { ...cls, ...recipe.classes.get(name) }, name);
}

/** A merged tensor's source from whether it equals base and the fine-tune; an unchanged tensor equals both, and is right whatever the recipe says. */
export function mergedSource(
  equalsBase: boolean,
  equalsFt: boolean,
  expected: 'base' | 'finetuned' | undefined,
): MergedSource {
  if (equalsBase && equalsFt) return expected ?? 'finetuned';
  return equalsBase ? 'base' : equalsFt ? 'finetuned' : 'neither';
}

/** Whether a recipe sends the FFN to base: by a rule, or by its default with no rule taking it from the fine-tune. */
function revertsFfn(recipe: Recipe): boolean {
  const ffnRule = recipe.rules.find((r) => r.block?.includes('ffn') && !r.module && !r.name && !r.layers);
  return (ffnRule?.source ?? recipe.default) === 'base';
}

export function threeWay(merged: string, recipe: { recipe: Recipe } | undefined, tensors: TensorDelta[]): ThreeWay {
  const sources = Object.fromEntries(
    BLOCKS.map((b) => [b, { base: 0, finetuned: 0, neither: 0 }]),
  ) as ThreeWay['sources'];
  const violations: ThreeWay['violations'] = [];
  for (const t of tensors) {
    if (!t.merged) continue;
    sources[t.block][t.merged.source]++;
    if (t.merged.expected && t.merged.source !== t.merged.expected)
      violations.push({ name: t.name, expected: t.merged.expected, actual: t.merged.source });
  }
  const name = recipe?.recipe.name;
  const ffnReverted = sources.ffn.finetuned === 0 && sources.ffn.neither === 0 && sources.ffn.base > 0;
  // A recipe that reverts the FFN, applied to a model none of whose FFN tensors equal base, did not
  // revert anything: typically an architecture the classifier did not know.
  const noFfnReverted = recipe !== undefined && revertsFfn(recipe.recipe) && sources.ffn.base === 0;
  const verdict = !recipe
    ? 'the merged output has no provenance file: sources are listed, nothing is checked against a recipe'
    : noFfnReverted
      ? `recipe '${name}' check FAILED: the recipe reverts the FFN, but no FFN tensor of the output equals base (${sources.ffn.finetuned + sources.ffn.neither} FFN tensor(s) found)`
      : violations.length === 0
        ? name === 'taia'
          ? `TAIA check passed: the merged output reverted exactly the FFN (${sources.ffn.base} tensors equal base) and took everything else from the fine-tune`
          : `recipe '${name}' check passed: every tensor comes from where the recipe says`
        : `recipe '${name}' check FAILED: ${violations.length} tensor(s) do not come from where the recipe says${name === 'taia' && !ffnReverted ? ' (the FFN was not reverted exactly)' : ''}`;
  return {
    merged,
    recipe: name,
    violations,
    sources,
    verdict,
    failed: recipe !== undefined && (noFfnReverted || violations.length > 0),
  };
}
