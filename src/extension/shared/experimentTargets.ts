import * as path from 'node:path';
import * as vscode from 'vscode';
import { ExperimentError, loadExperiment } from '../../core/experiment/load';
import { builtinRecipe } from '../../core/merge/recipes';
import { latestRunOf } from '../../core/runs/store';
import type { RunConfig } from '../../core/runs/types';
import { COMMANDS } from '../commands';
import { MERGED_DIR } from '../../core/runs/mergedOutput';

/** What the Merge and Evaluate code lenses of an experiment file pass to their commands. */
export interface ExperimentArgs {
  experiment: string;
}

export const isExperimentArgs = (arg: unknown): arg is ExperimentArgs =>
  typeof arg === 'object' && arg !== null && typeof (arg as ExperimentArgs).experiment === 'string';

/**
 * An experiment file's config and its newest run that has a checkpoint, or undefined after telling the
 * user why not (the file does not load, or nothing was trained yet).
 */
export async function experimentRun(
  file: string,
): Promise<{ config: RunConfig; root: string; runDir: string; checkpoint: string; mergedPrefix: string } | undefined> {
  let config: RunConfig;
  try {
    config = await loadExperiment(file);
  } catch (e) {
    const problem = e instanceof ExperimentError ? e.problems[0].message : (e as Error).message;
    void vscode.window.showErrorMessage(`${path.basename(file)} cannot be used: ${problem}`);
    return undefined;
  }
  if (!config.base) {
    void vscode.window.showErrorMessage(
      `${path.basename(file)} names no base model: add 'base:' (the model the command fine-tunes) to merge or evaluate its runs.`,
    );
    return undefined;
  }
  const root = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file))?.uri.fsPath ?? path.dirname(file);
  const run = await latestRunOf(root, file);
  if (!run) {
    void vscode.window
      .showWarningMessage(`${path.basename(file)} has no run with a checkpoint yet: train it first.`, 'Train')
      .then((pick) => pick && vscode.commands.executeCommand(COMMANDS.startTraining, vscode.Uri.file(file)));
    return undefined;
  }
  return {
    config,
    root,
    runDir: run.dir,
    checkpoint: run.checkpoint,
    mergedPrefix: path.join(root, MERGED_DIR, `${path.basename(run.dir)}-`),
  };
}

/** The output folder of merging a run with `recipe` (a built-in name, or a recipe file named by its stem). */
export function mergedFolder(prefix: string, recipe: string): string {
  return `${prefix}${builtinRecipe(recipe) ? recipe : path.basename(recipe).replace(/\.[^.]*$/, '')}`;
}
