import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { PROVENANCE_FILE } from '../checkpoint/discover';
import { Block, BLOCKS } from '../classify/types';
import { CheckpointError } from '../errors';
import { TOOL_NAME, TOOL_VERSION } from '../version';
import { parseRecipe, Recipe, recipeToJson } from './recipes';
import type { MergePlan, PlannedTensor } from './plan';

/** One input of a merge, with what identifies its bytes. */
export interface ProvenanceInput {
  role: 'base' | 'finetuned';
  path: string;
  files: { name: string; size: number; headerSha256: string }[];
  kind?: 'model' | 'adapter';
}

/** Where one output tensor came from, with the class the merge gave it. */
export interface ProvenanceTensor {
  name: string;
  layer: number | null;
  block: Block;
  module: string;
  source: 'base' | 'finetuned';
  op: string;
  dtype: string;
}

/** `taia_merge.json`: everything needed to tell how an output was made, from exactly which inputs. */
export interface Provenance {
  tool: string;
  version: string;
  created: string;
  /** The rules the merge applied, as data: the three-way check verifies these, not a recipe looked up by name. */
  recipe: Recipe;
  scale: number;
  layers: [number, number] | null;
  dtype: string;
  inputs: ProvenanceInput[];
  configSource: string;
  /** Architecture files that classified the tensors (built-in or the workspace's). */
  architectureFiles: string[];
  counts: MergePlan['counts'];
  notes: string[];
  unknownTensors: string[];
  tensors: ProvenanceTensor[];
}

export function buildProvenance(plan: MergePlan): Provenance {
  const describe = (
    role: 'base' | 'finetuned',
    dir: string,
    files: { path: string; size: number; headerSha256: string }[],
  ): ProvenanceInput => ({
    role,
    path: path.resolve(dir),
    files: files.map((f) => ({ name: path.basename(f.path), size: f.size, headerSha256: f.headerSha256 })),
  });
  const ft = plan.inputs.finetuned ?? plan.inputs.adapter?.weights;
  return {
    tool: TOOL_NAME,
    version: TOOL_VERSION,
    created: new Date().toISOString(),
    recipe: plan.options.recipe,
    scale: plan.options.scale,
    layers: plan.options.layers ?? null,
    dtype: plan.options.dtype,
    inputs: [
      describe('base', plan.options.base, plan.inputs.base.files),
      { ...describe('finetuned', plan.options.finetuned, ft?.files ?? []), kind: plan.finetunedKind },
    ],
    configSource: path.resolve(plan.configSource),
    architectureFiles: plan.architectureFiles,
    counts: plan.counts,
    notes: plan.notes,
    unknownTensors: plan.unknown,
    tensors: plan.tensors.map(tensorRecord),
  };
}

/** A planned tensor as plain data: what the provenance records and the dry run's JSON prints. */
export function tensorRecord(t: PlannedTensor): ProvenanceTensor {
  return {
    name: t.name,
    layer: t.cls.layer,
    block: t.cls.block,
    module: t.cls.module,
    source: t.source,
    op: t.op,
    dtype: t.dtype,
  };
}

/** The file's text; the recipe is stored as plain data (regexes as strings). */
export function serialiseProvenance(p: Provenance): string {
  return JSON.stringify({ ...p, recipe: recipeToJson(p.recipe) }, null, 2) + '\n';
}

/** Reads and checks a merged output's provenance; a malformed file is an error naming it. */
export async function readProvenance(dir: string): Promise<Provenance> {
  const file = path.join(dir, PROVENANCE_FILE);
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, 'utf-8'));
  } catch (e) {
    throw new CheckpointError(
      file,
      (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `not valid JSON (${(e as Error).message})`,
    );
  }
  const fail = (problem: string): never => {
    throw new CheckpointError(file, problem);
  };
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail('a provenance file is a JSON object');
  const d = doc as Record<string, unknown>;
  if (typeof d.recipe !== 'object' || d.recipe === null) fail('"recipe" is missing');
  const recipe = parseRecipe(JSON.stringify(d.recipe), `${file} (recipe)`);
  const layers = d.layers;
  if (!(
    layers === null ||
    layers === undefined ||
    (Array.isArray(layers) && layers.length === 2 && layers.every((n) => Number.isInteger(n) && n >= 0))
  ))
    fail('"layers" must be null or [first, last]');
  const tensors = Array.isArray(d.tensors) ? d.tensors : [];
  for (const [i, t] of (tensors as Record<string, unknown>[]).entries()) {
    if (
      typeof t !== 'object' ||
      t === null ||
      typeof t.name !== 'string' ||
      !BLOCKS.includes(t.block as Block) ||
      !(t.source === 'base' || t.source === 'finetuned')
    )
      fail(`tensors[${i}] must have a name, a block and a source`);
  }
  return {
    tool: String(d.tool ?? ''),
    version: String(d.version ?? ''),
    created: String(d.created ?? ''),
    recipe,
    scale: typeof d.scale === 'number' ? d.scale : 1,
    layers: (layers as [number, number] | null | undefined) ?? null,
    dtype: String(d.dtype ?? 'keep'),
    inputs: Array.isArray(d.inputs) ? (d.inputs as ProvenanceInput[]) : [],
    configSource: String(d.configSource ?? ''),
    architectureFiles: Array.isArray(d.architectureFiles) ? (d.architectureFiles as string[]) : [],
    counts: d.counts as Provenance['counts'],
    notes: Array.isArray(d.notes) ? (d.notes as string[]) : [],
    unknownTensors: Array.isArray(d.unknownTensors) ? (d.unknownTensors as string[]) : [],
    tensors: (tensors as ProvenanceTensor[]).map((t) => ({
      ...t,
      layer: typeof t.layer === 'number' ? t.layer : null,
    })),
  };
}
