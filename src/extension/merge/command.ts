import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { BUILTIN_RECIPE_NAMES, builtinRecipe, parseLayerRange } from '../../core/merge/recipes';
import { formatBytes, parseSize } from '../../core/util/size';
import { DEFAULT_MAX_SHARD_SIZE, DEFAULT_RECIPE } from '../../core/merge/defaults';
import { outputLine, summaryLines } from '../../core/merge/summary';
import { describeCheckpoint, CheckpointNode } from '../workspace/checkpointsTree';
import type { MergeRequest } from './protocol';
import { runMergeWorker } from './runner';
import { ExperimentArgs, experimentRun, isExperimentArgs, mergedFolder } from '../shared/experimentTargets';
import { CheckpointEntry, WorkspaceIndex } from '../workspace/workspaceIndex';
import { warnUntrusted } from '../shared/trust';
import type { OutputDtype } from '../../core/merge/plan';
import { mergedOutputFor } from '../../core/runs/mergedOutput';
import { PathItem, pickPath } from '../shared/pathPicker';
import { inspectCheckpoint } from '../../core/checkpoint/discover';
import { COMMANDS } from '../commands';

/** Arguments for running the merge without prompts (tests, code lenses, other extensions). */
export interface MergeArgs {
  base: string;
  finetuned: string;
  out: string;
  recipe?: string;
  /** base + scale·(fine-tune − base) on the tensors taken from the fine-tune (1 = as trained). */
  scale?: number;
  /** Take the fine-tune only in decoder layers A..B. */
  layers?: [number, number];
  dtype?: OutputDtype;
  force?: boolean;
  /** Skip the confirmation of the dry-run plan. */
  confirm?: false;
  /** Write even when unrecognised tensors look like layer weights (they follow the recipe's default). */
  allowUnknown?: boolean;
}

/** The workspace folders' own architecture files (.taia/architectures), or undefined for none. */
function workspaceArchitectureDirs(): string[] | undefined {
  const dirs = (vscode.workspace.workspaceFolders ?? [])
    .map((f) => path.join(f.uri.fsPath, '.taia', 'architectures'))
    .filter((d) => existsSync(d));
  return dirs.length ? dirs : undefined;
}

function pickItems(entries: CheckpointEntry[]): PathItem[] {
  return entries.map((e) => ({
    label: path.basename(e.dir),
    description: e.summary ? describeCheckpoint(e.summary) : '',
    detail: e.dir,
    path: e.dir,
  }));
}

/** The index's entry of a folder, or one read now (a folder browsed to outside the index); undefined after saying why it cannot be used. */
async function entryFor(index: WorkspaceIndex, dir: string): Promise<CheckpointEntry | undefined> {
  const known = index.checkpointList.find((e) => path.resolve(e.dir) === path.resolve(dir));
  if (known?.summary) return known;
  try {
    return { dir, summary: await inspectCheckpoint(dir) };
  } catch (e) {
    void vscode.window.showErrorMessage(`TAIA merge cannot use ${dir}: ${(e as Error).message}`);
    return undefined;
  }
}

/** Asks for whatever the invocation did not give: fine-tune (or adapter), base, recipe, output folder. */
async function ask(index: WorkspaceIndex, node: CheckpointNode | undefined): Promise<MergeArgs | undefined> {
  await index.ready();
  const readable = index.checkpointList.filter((e) => e.summary);
  const models = readable.filter((e) => e.summary!.kind !== 'adapter');
  let finetuned = node?.type === 'checkpoint' ? node.entry : undefined;
  if (!finetuned) {
    const dir = await pickPath(pickItems(readable), {
      title: 'TAIA merge (1/5): the fine-tuned model or LoRA adapter',
      missing: 'No checkpoints found in the workspace (Hugging Face model folders or PEFT LoRA adapters)',
      folders: true,
    });
    finetuned = dir === undefined ? undefined : await entryFor(index, dir);
    if (!finetuned) return undefined;
  }
  const candidates = pickItems(models.filter((e) => e.dir !== finetuned!.dir));
  // An adapter names its base; put a matching folder first.
  const wanted = finetuned.summary?.adapter?.baseModel;
  candidates.sort(
    (a, b) =>
      Number(wanted !== undefined && b.path.endsWith(wanted)) - Number(wanted !== undefined && a.path.endsWith(wanted)),
  );
  const baseDir = await pickPath(candidates, {
    title: `TAIA merge (2/5): the base model of ${path.basename(finetuned.dir)}`,
    missing: 'No base model folder (config.json and safetensors) found in the workspace besides the fine-tune',
    folders: true,
  });
  const base = baseDir === undefined ? undefined : await entryFor(index, baseDir);
  if (!base) return undefined;
  const defaultRecipe = vscode.workspace.getConfiguration('taiaLab.merge').get<string>('defaultRecipe', DEFAULT_RECIPE);
  const recipes = BUILTIN_RECIPE_NAMES.map((name) => ({
    label: name,
    description: name === DEFAULT_RECIPE ? "the paper's rule" : '',
    detail: builtinRecipe(name)!.description,
    picked: name === defaultRecipe,
  }));
  recipes.sort((a, b) => Number(b.label === defaultRecipe) - Number(a.label === defaultRecipe));
  const fromFile = {
    label: 'Recipe file…',
    description: 'a YAML or JSON recipe',
    detail: 'rules on block, module, tensor name and layer range',
  };
  const recipe = await vscode.window.showQuickPick([...recipes, fromFile], { title: 'TAIA merge (3/5): recipe' });
  if (!recipe) return undefined;
  let recipeName = recipe.label;
  if (recipe === fromFile) {
    const file = await vscode.window.showOpenDialog({
      canSelectMany: false,
      filters: { Recipes: ['yaml', 'yml', 'json'] },
      title: 'Recipe file',
    });
    if (!file?.[0]) return undefined;
    recipeName = file[0].fsPath;
  }
  const options = await askOptions();
  if (!options) return undefined;
  const suggested = mergedOutputFor(finetuned.dir, recipe === fromFile ? 'merged' : recipeName);
  const out = await vscode.window.showInputBox({
    title: 'TAIA merge (5/5): output folder',
    value: suggested,
    valueSelection: [suggested.length - path.basename(suggested).length, suggested.length],
    validateInput: (v) => (path.isAbsolute(v) ? undefined : 'Give an absolute folder path'),
  });
  if (!out) return undefined;
  return { base: base.dir, finetuned: finetuned.dir, out, recipe: recipeName, ...options };
}

/** The CLI's --scale, --layers and --dtype: kept as the recipe says unless the user asks to set them. */
async function askOptions(): Promise<{ scale?: number; layers?: [number, number]; dtype?: OutputDtype } | undefined> {
  const keep = { label: 'As trained', description: 'scale 1, every layer, dtype kept' };
  const set = { label: 'Set scale, layers or dtype…', description: 'as taia merge --scale, --layers, --dtype' };
  const pick = await vscode.window.showQuickPick([keep, set], { title: 'TAIA merge (4/5): options' });
  if (!pick) return undefined;
  if (pick === keep) return {};
  const scale = await vscode.window.showInputBox({
    title: "TAIA merge: scale of the fine-tune's change",
    value: '1',
    validateInput: (v) => (Number.isFinite(Number(v)) && v.trim() !== '' ? undefined : 'a number, e.g. 0.5'),
  });
  if (scale === undefined) return undefined;
  const layers = await vscode.window.showInputBox({
    title: 'TAIA merge: decoder layers to take from the fine-tune (A-B; empty for all)',
    value: '',
    validateInput: (v) => {
      if (!v.trim()) return undefined;
      try {
        parseLayerRange(v);
        return undefined;
      } catch (e) {
        return (e as Error).message;
      }
    },
  });
  if (layers === undefined) return undefined;
  const dtypes: { label: OutputDtype; description: string }[] = [
    { label: 'keep', description: 'as the inputs' },
    { label: 'bf16', description: 'bfloat16, round to nearest even' },
    { label: 'f16', description: 'float16' },
    { label: 'f32', description: 'float32' },
  ];
  const dtype = await vscode.window.showQuickPick(dtypes, { title: 'TAIA merge: output dtype of float tensors' });
  if (!dtype) return undefined;
  return { scale: Number(scale), ...(layers.trim() ? { layers: parseLayerRange(layers) } : {}), dtype: dtype.label };
}

/** An experiment's merge: the newest run's checkpoint onto the base, with the experiment's `merge.recipe`. */
async function fromExperiment(arg: ExperimentArgs & { confirm?: false }): Promise<MergeArgs | undefined> {
  const target = await experimentRun(arg.experiment);
  if (!target) return undefined;
  const recipe = target.config.merge.recipe;
  return {
    base: target.config.base,
    finetuned: target.checkpoint,
    out: mergedFolder(target.mergedPrefix, recipe),
    recipe,
    confirm: arg.confirm,
  };
}

/**
 * TAIA: Apply TAIA merge… — plans in the worker (headers only), shows the plan's counts, then merges in
 * the worker under a cancellable progress notification. A cancelled or failed merge leaves nothing.
 * From an experiment's Merge lens (`{ experiment }`) it merges that experiment's newest run.
 */
export async function mergeCommand(
  extensionPath: string,
  index: WorkspaceIndex,
  arg?: CheckpointNode | MergeArgs | (ExperimentArgs & { confirm?: false }),
): Promise<string | undefined> {
  // `enablement` only guards menus and the palette; calls through the API must be refused here too.
  if (!vscode.workspace.isTrusted) {
    warnUntrusted(
      'TAIA merge is available in trusted workspaces only (it writes into the workspace from workspace-provided recipes).',
    );
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
    // Only what was asked for: an undefined option would override the merge's defaults.
    ...(args.scale !== undefined ? { scale: args.scale } : {}),
    ...(args.layers ? { layers: args.layers } : {}),
    ...(args.dtype ? { dtype: args.dtype } : {}),
    force: args.force,
    architectureDirs: workspaceArchitectureDirs(),
    allowUnknown: args.allowUnknown,
  };
  try {
    const planned = await runMergeWorker(extensionPath, req).outcome;
    if (planned.type !== 'plan') return undefined;
    if (args.confirm !== false) {
      const go = await vscode.window.showInformationMessage(
        `Merge into ${path.basename(args.out)}?`,
        { modal: true, detail: [...summaryLines(planned.plan), outputLine(planned.plan)].join('\n') },
        'Merge',
      );
      if (go !== 'Merge') return undefined;
    }
    const outcome = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `TAIA merge (${req.recipe})`, cancellable: true },
      async (progress, token) => {
        let reported = 0;
        const job = runMergeWorker(
          extensionPath,
          { ...req, type: 'merge' },
          {
            onProgress: (done, total, tensor) => {
              const pct = total > 0 ? (done / total) * 100 : 0;
              progress.report({
                increment: pct - reported,
                message: `${formatBytes(done)} of ${formatBytes(total)} · ${tensor}`,
              });
              reported = pct;
            },
          },
        );
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
      // What comes next: check that the output took what the recipe says, evaluate it, or find it.
      void vscode.window
        .showInformationMessage(
          `TAIA merge wrote ${outcome.out} (${formatBytes(outcome.bytes)} in ${outcome.seconds.toFixed(1)} s).`,
          'Check the merge',
          'Evaluate…',
          'Reveal',
        )
        .then((a) => {
          if (a === 'Check the merge')
            void vscode.commands.executeCommand(COMMANDS.inspectDeltas, {
              base: args.base,
              finetuned: args.finetuned,
              merged: outcome.out,
            });
          else if (a === 'Evaluate…')
            void vscode.commands.executeCommand(COMMANDS.evaluate, { checkpoint: outcome.out });
          else if (a === 'Reveal') void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(outcome.out));
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
    if ((await vscode.window.showErrorMessage(`TAIA merge stopped: ${(e as Error).message}`, anyway)) === anyway)
      return mergeCommand(extensionPath, index, { ...args, allowUnknown: true });
  }
  return undefined;
}
