import * as path from 'node:path';
import type { ExperimentRunInput, MergeInput } from '../../core/experiments/table';
import type { ModelResults } from '../../core/results/types';
import { readRun } from '../shared/panelHost';
import type { ResultsIndex } from '../benchmarks/resultsIndex';
import type { RunsTree } from '../runs/runsTree';
import type { WorkspaceIndex } from '../workspace/workspaceIndex';

/** Where the experiments table reads from: the Runs view's runs, the Benchmarks view's results, the Checkpoints view's merges. */
export interface ExperimentSources {
  runs: RunsTree;
  results: ResultsIndex;
  index: WorkspaceIndex;
}

/**
 * Every run the experiments table lists, read through the runs store (status reconciled, config,
 * metrics). The one place run sources meet: readers of other trainers' runs add theirs here.
 */
export async function experimentRuns(sources: ExperimentSources): Promise<ExperimentRunInput[]> {
  const read = await Promise.all(sources.runs.current.map((r) => readRun(r.dir).catch(() => undefined)));
  return read.filter((r): r is ExperimentRunInput => r !== undefined);
}

/** The models of the workspace's result files that record which checkpoint they evaluated. */
export function scoredModels(sources: ExperimentSources): ModelResults[] {
  return sources.results.list.flatMap((e) => e.models ?? []).filter((m) => m.checkpoint);
}

/** The merged outputs of the workspace and the fine-tune each came from (taia_merge.json). */
export function mergedOutputs(sources: ExperimentSources): MergeInput[] {
  return sources.index.checkpointList.flatMap((e) => {
    const merge = e.summary?.merge;
    const ft = merge?.inputs.find((i) => i.role === 'finetuned')?.path;
    return merge && ft ? [{ dir: path.resolve(e.dir), recipe: merge.recipe, finetuned: path.resolve(ft) }] : [];
  });
}
