// The summary of a merge plan (what the dry run, the CLI's headline and the merge command's
// confirmation show), built by one function and written as text lines by one.
import { Block, BLOCKS } from '../classify/types';
import { formatBytes } from '../util/size';
import type { BlockCount, MergePlan } from './plan';

/** A plan without its tensors and open files: plain data, sent from the merge worker to the editor. */
export interface PlanSummary {
  recipe: string;
  recipeDescription: string;
  recipeDefault: string;
  scale: number;
  layers?: [number, number];
  finetunedKind: 'model' | 'adapter';
  family?: string;
  architectureFiles: string[];
  tensors: number;
  outputBytes: number;
  counts: Record<Block, BlockCount>;
  notes: string[];
  unknown: string[];
}

export function summarizePlan(plan: MergePlan): PlanSummary {
  const o = plan.options;
  return {
    recipe: o.recipe.name,
    recipeDescription: o.recipe.description,
    recipeDefault: o.recipe.default,
    scale: o.scale,
    layers: o.layers,
    finetunedKind: plan.finetunedKind,
    family: plan.family,
    architectureFiles: plan.architectureFiles,
    tensors: plan.tensors.length,
    outputBytes: plan.outputBytes,
    counts: plan.counts,
    notes: plan.notes,
    unknown: plan.unknown,
  };
}

/** The plan in a few lines: recipe, tensors taken per block, architecture, notes, unrecognised names. */
export function summaryLines(s: PlanSummary): string[] {
  const taken = BLOCKS.filter((b) => s.counts[b].base + s.counts[b].finetuned > 0)
    .map((b) => `${b} ${s.counts[b].finetuned}/${s.counts[b].base + s.counts[b].finetuned}`)
    .join(', ');
  return [
    `recipe ${s.recipe}${s.scale !== 1 ? ` (scale ${s.scale})` : ''}${s.layers ? ` layers ${s.layers[0]}-${s.layers[1]}` : ''}: ${s.recipeDescription}`,
    `fine-tuned (${s.finetunedKind}) tensors taken per block: ${taken}`,
    `architecture: ${s.family ?? 'not known from config.json'}${s.architectureFiles.length ? ` (${s.architectureFiles.join(', ')})` : ''}`,
    ...s.notes.map((n) => `note: ${n}`),
    ...(s.unknown.length
      ? [
          `warning: ${s.unknown.length} tensor name(s) not recognised (they follow the recipe default '${s.recipeDefault}'): ${s.unknown.slice(0, 5).join(', ')}${s.unknown.length > 5 ? ', ...' : ''}`,
        ]
      : []),
  ];
}

/** The size of the output: the last line of a summary. */
export function outputLine(s: PlanSummary): string {
  return `output: ${s.tensors} tensors, ${formatBytes(s.outputBytes)}`;
}
