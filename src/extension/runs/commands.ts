import * as path from 'node:path';
import { writeFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import { warnUntrusted } from '../shared/trust';
import { stringify } from 'yaml';
import { EXPERIMENT_SUFFIX } from '../../core/experiment/schema';
import { LOG_FILE } from '../../core/runs/types';
import type { WorkspaceIndex } from '../workspace/workspaceIndex';
import { describeRun, RunNode, RunsTree, startedLabel } from './runsTree';
import { pickPath } from '../shared/pathPicker';
import { TrainingManager } from './training';
import { COMMANDS } from '../commands';

/** Arguments for calling TAIA: Start fine-tuning programmatically (tests, code lenses). */
export interface StartArgs {
  experiment: string;
}

function refuseUntrusted(): boolean {
  if (vscode.workspace.isTrusted) return false;
  warnUntrusted(
    'Training runs only in trusted workspaces: it reads workspace files and runs a trainer process on them.',
  );
  return true;
}

/**
 * TAIA: Start fine-tuning — from an experiment file (the argument, the active editor, or a pick among
 * the workspace's *.taia.yaml), or from a short wizard that writes one, so every run has a file that
 * reproduces it.
 */
export async function startTrainingCommand(
  training: TrainingManager,
  index: WorkspaceIndex,
  arg?: vscode.Uri | StartArgs,
): Promise<string | undefined> {
  if (refuseUntrusted()) return undefined;
  const file = arg instanceof vscode.Uri ? arg.fsPath : (arg?.experiment ?? (await pickExperiment(index)));
  return file ? training.start(file) : undefined;
}

async function pickExperiment(index: WorkspaceIndex): Promise<string | undefined> {
  const active = vscode.window.activeTextEditor?.document;
  if (active?.fileName.endsWith(EXPERIMENT_SUFFIX)) {
    if (active.isDirty) await active.save();
    return active.fileName;
  }
  const files = await vscode.workspace.findFiles(`**/*${EXPERIMENT_SUFFIX}`, '**/node_modules/**', 200);
  const wizard = {
    label: '$(add) New experiment…',
    description: 'pick a base model and a dataset',
    file: undefined as string | undefined,
  };
  const items = [
    ...files.map((f) => ({
      label: path.basename(f.fsPath),
      description: vscode.workspace.asRelativePath(f),
      file: f.fsPath as string | undefined,
    })),
    wizard,
  ];
  const pick = files.length
    ? await vscode.window.showQuickPick(items, { title: 'Start fine-tuning: experiment' })
    : wizard;
  if (!pick) return undefined;
  return pick.file ?? newExperimentWizard(index);
}

/** Base model, dataset, method, engine and name; writes `<name>.taia.yaml` in the workspace root and opens it. */
async function newExperimentWizard(index: WorkspaceIndex): Promise<string | undefined> {
  await index.ready();
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) return undefined;
  const rel = (p: string) => path.relative(folder.uri.fsPath, p).split(path.sep).join('/');
  const models = index.checkpointList.filter((e) => e.summary && e.summary.kind !== 'adapter');
  const baseDir = await pickPath(
    models.map((e) => ({ label: path.basename(e.dir), description: rel(e.dir), path: e.dir })),
    {
      title: 'New experiment (1/5): base model',
      missing: 'No model folder (config.json, safetensors, tokenizer.json) found in the workspace',
      folders: true,
    },
  );
  if (!baseDir) return undefined;
  const datasets = index.datasetList.filter((d) => d.summary);
  const dataFile = await pickPath(
    datasets.map((d) => ({ label: path.basename(d.file), description: rel(d.file), path: d.file })),
    {
      title: 'New experiment (2/5): dataset',
      missing: 'No dataset found in the workspace (JSONL/JSON in Alpaca, ShareGPT or chat form, text, Parquet)',
      folders: false,
      filters: { Datasets: ['jsonl', 'json', 'parquet', 'txt'] },
    },
  );
  if (!dataFile) return undefined;
  const base = { label: path.basename(baseDir), dir: baseDir };
  const data = { file: dataFile };
  const method = await vscode.window.showQuickPick(
    [
      { label: 'lora', description: 'LoRA adapters on all linear layers (r 16, alpha 32), as the TAIA paper' },
      { label: 'full', description: 'all parameters' },
    ],
    { title: 'New experiment (3/5): method' },
  );
  if (!method) return undefined;
  const engine = await vscode.window.showQuickPick(
    [
      { label: 'tfjs', description: 'built in: TensorFlow.js, Llama-family models, no Python needed' },
      {
        label: 'torch',
        description: 'PyTorch: transformers and PEFT in the Python of taiaLab.python.interpreter, on GPUs',
      },
    ],
    { title: 'New experiment (4/5): engine' },
  );
  if (!engine) return undefined;
  const name = await vscode.window.showInputBox({
    title: 'New experiment (5/5): name',
    value: `${base.label}-${path.basename(data.file).replace(/\..*$/, '')}`,
    validateInput: (v) => (/^[\w.-]+$/.test(v) ? undefined : 'letters, digits, dot, dash and underscore'),
  });
  if (!name) return undefined;
  const file = path.join(folder.uri.fsPath, `${name}${EXPERIMENT_SUFFIX}`);
  await writeFile(
    file,
    stringify({
      name,
      base: rel(base.dir),
      dataset: rel(data.file),
      engine: engine.label,
      train: { method: method.label, num_train_epochs: 1 },
    }),
    { flag: 'wx' },
  ).catch((e: NodeJS.ErrnoException) => {
    throw new Error(e.code === 'EEXIST' ? `${file} exists already` : e.message);
  });
  await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: false });
  return file;
}

/** Runs to compare, from a pick of every run (name, start, state); undefined when cancelled or fewer than two exist. */
async function pickRuns(runs: RunsTree, ticked: string[]): Promise<string[] | undefined> {
  await runs.refresh();
  if (runs.current.length < 2) {
    void vscode.window.showInformationMessage(
      `Comparing needs two or more runs; the workspace has ${runs.current.length}. Start fine-tuning to make one.`,
    );
    return undefined;
  }
  const items = runs.current.map((r) => ({
    label: r.status.name,
    description: `${startedLabel(r.status)} · ${describeRun(r.status)}`,
    picked: ticked.includes(r.dir),
    dir: r.dir,
  }));
  const picks = await vscode.window.showQuickPick(items, { canPickMany: true, title: 'Compare runs: two or more' });
  return picks?.map((p) => p.dir);
}

export function registerRunCommands(
  context: vscode.ExtensionContext,
  training: TrainingManager,
  runs: RunsTree,
  index: WorkspaceIndex,
  openDashboard: (runDir: string) => unknown,
  compare: (runDirs: string[]) => unknown,
): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(COMMANDS.startTraining, (arg?: vscode.Uri | StartArgs) =>
      startTrainingCommand(training, index, arg),
    ),
    vscode.commands.registerCommand(COMMANDS.cancelRun, (node?: RunNode) => node && training.cancel(node.dir)),
    vscode.commands.registerCommand(COMMANDS.resumeRun, (node?: RunNode) => {
      if (node && !refuseUntrusted()) return training.resume(node.dir);
    }),
    vscode.commands.registerCommand(COMMANDS.openRunDashboard, (node?: RunNode) =>
      node ? openDashboard(node.dir) : undefined,
    ),
    vscode.commands.registerCommand(
      COMMANDS.showRunLog,
      (node?: RunNode) => node && vscode.window.showTextDocument(vscode.Uri.file(path.join(node.dir, LOG_FILE))),
    ),
    vscode.commands.registerCommand(COMMANDS.compareRuns, async (node?: RunNode, selected?: RunNode[]) => {
      let dirs = (selected?.length ? selected : node ? [node] : []).map((n) => n.dir);
      // One run (or the palette): pick the others, the given one ticked.
      if (dirs.length < 2) dirs = (await pickRuns(runs, dirs)) ?? [];
      if (dirs.length < 2) return undefined;
      return compare(dirs);
    }),
    vscode.commands.registerCommand(COMMANDS.refreshRuns, () => runs.refresh()),
  );
}
