import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { BUILTIN_RECIPE_NAMES, builtinRecipe } from '../../core/merge/recipes';
import { formatBytes, parseSize } from '../../core/util/size';
import { DEFAULT_MAX_SHARD_SIZE, DEFAULT_RECIPE } from '../../core/merge/defaults';
import { outputLine, summaryLines } from '../../core/merge/summary';
import { describeCheckpoint, CheckpointNode } from '../workspace/checkpointsTree';
import type { MergeRequest } from './protocol';
import { runMergeWorker } from './runner';
import { ExperimentArgs, experimentRun, isExperimentArgs, mergedFolder } from '../shared/experimentTargets';
import { CheckpointEntry, WorkspaceIndex } from '../workspace/workspaceIndex';

/** Arguments for running the merge without prompts (tests, code lenses, other extensions). */
export interface MergeArgs {
  base: string;
  finetuned: string;
  out: string;
  recipe?: string;
  force?: boolean;
  /** Skip the confirmation of the dry-run plan. */
  confirm?: false;
  /** Write even when unrecognised tensors look like layer weights (they follow the recipe's default). */
  allowUnknown?: boolean;
}

/** The workspace folders' own architecture files (.taia/architectures), or undefined for none. */
function workspaceArchitectureDirs(): string[] | undefined {
  const dirs = (vscode.workspace.workspaceFolders ?? []).map((f) => path.join(f.uri.fsPath, '.taia', 'architectures')).filter((d) => existsSync(d));
  return dirs.length ? dirs : undefined;
}

type CheckpointPick = vscode.QuickPickItem & { entry: CheckpointEntry };

function pickItems(entries: CheckpointEntry[]): CheckpointPick[] {
  return entries.map((e) => ({ label: path.basename(e.dir), description: e.summary ? describeCheckpoint(e.summary) : '', detail: e.dir, entry: e }));
}

/** Asks for whatever the invocation did not give: fine-tune (or adapter), base, recipe, output folder. */
async function ask(index: WorkspaceIndex, node: CheckpointNode | undefined): Promise<MergeArgs | undefined> {
  await index.ready();
  const readable = index.checkpointList.filter((e) => e.summary);
  const models = readable.filter((e) => e.summary!.kind !== 'adapter');
  let finetuned = node?.type === 'checkpoint' ? node.entry : undefined;
  if (!finetuned) {
    const pick = await vscode.window.showQuickPick(pickItems(readable), { title: 'TAIA merge (1/4): the fine-tuned model or LoRA adapter', matchOnDescription: true, matchOnDetail: true });
    if (!pick) return undefined;
    finetuned = pick.entry;
  }
  const candidates = pickItems(models.filter((e) => e.dir !== finetuned!.dir));
  if (candidates.length === 0) {
    void vscode.window.showErrorMessage('TAIA merge needs a base model folder (config.json and safetensors) in the workspace.');
    return undefined;
  }
  // An adapter names its base; put a matching folder first.
  const wanted = finetuned.summary?.adapter?.baseModel;
  candidates.sort((a, b) => Number(wanted !== undefined && b.entry.dir.endsWith(wanted)) - Number(wanted !== undefined && a.entry.dir.endsWith(wanted)));
  const base = await vscode.window.showQuickPick(candidates, { title: `TAIA merge (2/4): the base model of ${path.basename(finetuned.dir)}`, matchOnDetail: true });
  if (!base) return undefined;
  const defaultRecipe = vscode.workspace.getConfiguration('taiaLab.merge').get<string>('defaultRecipe', DEFAULT_RECIPE);
  const recipes = BUILTIN_RECIPE_NAMES.map((name) => ({ label: name, description: name === DEFAULT_RECIPE ? "the paper's rule" : '', detail: builtinRecipe(name)!.description, picked: name === defaultRecipe }));
  recipes.sort((a, b) => Number(b.label === defaultRecipe) - Number(a.label === defaultRecipe));
  const fromFile = { label: 'Recipe file…', description: 'a YAML or JSON recipe', detail: 'rules on block, module, tensor name and layer range' };
  const recipe = await vscode.window.showQuickPick([...recipes, fromFile], { title: 'TAIA merge (3/4): recipe' });
  if (!recipe) return undefined;
  let recipeName = recipe.label;
  if (recipe === fromFile) {
    const file = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Recipes: ['yaml', 'yml', 'json'] }, title: 'Recipe file' });
    if (!file?.[0]) return undefined;
    recipeName = file[0].fsPath;
  }
  const suggested = path.join(path.dirname(finetuned.dir), `${path.basename(finetuned.dir)}-${recipe === fromFile ? 'merged' : recipeName}`);
  const out = await vscode.window.showInputBox({
    title: 'TAIA merge (4/4): output folder',
    value: suggested,
    valueSelection: [suggested.length - path.basename(suggested).length, suggested.length],
    validateInput: (v) => (path.isAbsolute(v) ? undefined : 'Give an absolute folder path'),
  });
  if (!out) return undefined;
  return { base: base.entry.dir, finetuned: finetuned.dir, out, recipe: recipeName };
}

/** An experiment's merge: the newest run's checkpoint onto the base, with the experiment's `merge.recipe`. */
async function fromExperiment(arg: ExperimentArgs & { confirm?: false }): Promise<MergeArgs | undefined> {
  const target = await experimentRun(arg.experiment);
  if (!target) return undefined;
  const recipe = target.config.merge.recipe;
  return { base: target.config.base, finetuned: target.checkpoint, out: mergedFolder(target.mergedPrefix, recipe), recipe, confirm: arg.confirm };
}

/**
 * TAIA: Apply TAIA merge… — plans in the worker (headers only), shows the plan's counts, then merges in
 * the worker under a cancellable progress notification. A cancelled or failed merge leaves nothing.
 * From an experiment's Merge lens (`{ experiment }`) it merges that experiment's newest run.
 */
export async function mergeCommand(extensionPath: string, index: WorkspaceIndex, arg?: CheckpointNode | MergeArgs | (ExperimentArgs & { confirm?: false })): Promise<string | undefined> {
  // `enablement` only guards menus and the palette; calls through the API must be refused here too.
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage('TAIA merge is available in trusted workspaces only (it writes into the workspace from workspace-provided recipes).');
    return undefined;
  }
  // Programmatic calls with every argument get the error thrown as well as shown.
  const direct = arg !== undefined && 'base' in arg;
  const args = isExperimentArgs(arg) ? await fromExperiment(arg) : direct ? arg : await ask(index, arg);
  if (!args) return undefined;
  const config = vscode.workspace.getConfiguration('taiaLab.merge');
  const req: MergeRequest = {
    type: 'plan',
    base: args.base,
    finetuned: args.finetuned,
    out: args.out,
    recipe: args.recipe ?? config.get<string>('defaultRecipe', DEFAULT_RECIPE),
    maxShardBytes: parseSize(config.get<string>('maxShardSize', DEFAULT_MAX_SHARD_SIZE)),
    force: args.force,
    architectureDirs: workspaceArchitectureDirs(),
    allowUnknown: args.allowUnknown,
  };
  try {
    const planned = await runMergeWorker(extensionPath, req).outcome;
    if (planned.type !== 'plan') return undefined;
    if (args.confirm !== false) {
      const go = await vscode.window.showInformationMessage(`Merge into ${path.basename(args.out)}?`, { modal: true, detail: [...summaryLines(planned.plan), outputLine(planned.plan)].join('\n') }, 'Merge');
      if (go !== 'Merge') return undefined;
    }
    const outcome = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `TAIA merge (${req.recipe})`, cancellable: true },
      async (progress, token) => {
        let reported = 0;
        const job = runMergeWorker(extensionPath, { ...req, type: 'merge' }, {
          onProgress: (done, total, tensor) => {
            const pct = total > 0 ? (done / total) * 100 : 0;
            progress.report({ increment: pct - reported, message: `${formatBytes(done)} of ${formatBytes(total)} · ${tensor}` });
            reported = pct;
          },
        });
        token.onCancellationRequested(job.cancel);
        return job.outcome;
      },
    );
    if (outcome.type === 'cancelled') {
      void vscode.window.showInformationMessage('TAIA merge cancelled; nothing was written.');
      return undefined;
    }
    if (outcome.type === 'done') {
      await index.refresh();
      void vscode.window.showInformationMessage(`TAIA merge wrote ${outcome.out} (${formatBytes(outcome.bytes)} in ${outcome.seconds.toFixed(1)} s).`, 'Reveal').then((a) => {
        if (a === 'Reveal') void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(outcome.out));
      });
      return outcome.out;
    }
  } catch (e) {
    if (direct) {
      void vscode.window.showErrorMessage(`TAIA merge failed: ${(e as Error).message}`);
      throw e;
    }
    // The worker's error keeps its class name: unrecognised layer weights can be merged anyway.
    if ((e as Error).name !== 'UnknownTensorsError') {
      void vscode.window.showErrorMessage(`TAIA merge failed: ${(e as Error).message}`);
      return undefined;
    }
    const anyway = 'Merge anyway (unknown tensors follow the recipe default)';
    if ((await vscode.window.showErrorMessage(`TAIA merge stopped: ${(e as Error).message}`, anyway)) === anyway) return mergeCommand(extensionPath, index, { ...args, allowUnknown: true });
  }
  return undefined;
}
