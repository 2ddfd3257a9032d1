import * as vscode from 'vscode';
import { CheckpointNode, CheckpointsTree } from './workspace/checkpointsTree';
import { DatasetsTree } from './workspace/datasetsTree';
import { registerBenchmarks } from './benchmarks/register';
import type { BenchmarksTree } from './benchmarks/tree';
import { previewDataset } from './workspace/datasetPreview';
import { DELTA_REVIEW_VIEW, DeltaReviewSerializer, inspectDeltasCommand, ReviewArgs } from './deltaReview/panel';
import { mergeCommand } from './merge/command';
import { evaluateCommand, EvaluateArgs } from './evaluate/command';
import { DatasetEntry, WorkspaceIndex } from './workspace/workspaceIndex';
import { COMPARE_RUNS_VIEW, CompareRunsSerializer, showCompareRuns } from './runs/compare';
import { RUN_DASHBOARD_VIEW, RunDashboardSerializer, showRunDashboard } from './runs/dashboard';
import { registerRunCommands } from './runs/commands';
import { RunsTree } from './runs/runsTree';
import { TrainingManager } from './runs/training';
import { startLanguageClient } from './language/client';
import { runStudyCommand, STUDY_VIEW, StudyPanelSerializer } from './study/panel';
import { COMMANDS } from './commands';
import { registerExperiments } from './experiments/panel';
import { trackWorkspaceContext } from './workspace/walkthroughContext';
import { createDemoWorkspaceCommand, DemoArgs } from './workspace/demoWorkspace';

/** What activate() returns: used by the integration tests and open to other extensions. */
export interface TaiaLabApi {
  index: WorkspaceIndex;
  trees: { checkpoints: CheckpointsTree; datasets: DatasetsTree; runs: RunsTree; benchmarks: BenchmarksTree };
  training: TrainingManager;
  /** Bundle evaluation plus activate(); `loadMs` is the first part. */
  activationMs: number;
  loadMs: number;
}

function pathOf(node: CheckpointNode | DatasetEntry | vscode.Uri | undefined): string | undefined {
  if (!node) return undefined;
  if (node instanceof vscode.Uri) return node.fsPath;
  if ('file' in node) return node.file;
  return node.type === 'checkpoint' ? node.entry.dir : undefined;
}

/** Set by the bundle's first and last lines (esbuild banner and footer). */
declare const __taiaBundleStart: number | undefined;
declare const __taiaBundleEnd: number | undefined;

export function activate(context: vscode.ExtensionContext): TaiaLabApi {
  const started = performance.now();
  const loadMs =
    typeof __taiaBundleStart === 'number' && typeof __taiaBundleEnd === 'number'
      ? __taiaBundleEnd - __taiaBundleStart
      : 0;
  const log = vscode.window.createOutputChannel('TAIA Lab');
  const index = new WorkspaceIndex(log);
  const checkpoints = new CheckpointsTree(index);
  const datasets = new DatasetsTree(index);
  const runs = new RunsTree();
  const training = new TrainingManager(context.extensionPath, runs);
  const benchmarks = registerBenchmarks(context);
  context.subscriptions.push(
    log,
    index,
    vscode.window.createTreeView('taiaLab.checkpoints', { treeDataProvider: checkpoints, showCollapseAll: true }),
    vscode.window.createTreeView('taiaLab.datasets', { treeDataProvider: datasets }),
    runs,
    training,
    vscode.window.createTreeView('taiaLab.runs', { treeDataProvider: runs, canSelectMany: true }),
    vscode.commands.registerCommand(COMMANDS.merge, (arg?: Parameters<typeof mergeCommand>[2]) =>
      mergeCommand(context.extensionPath, index, arg),
    ),
    vscode.commands.registerCommand(COMMANDS.createDemoWorkspace, (arg?: DemoArgs) =>
      createDemoWorkspaceCommand(context.extensionPath, arg),
    ),
    vscode.commands.registerCommand(COMMANDS.evaluate, (arg?: CheckpointNode | EvaluateArgs) =>
      evaluateCommand(context.extensionPath, index, log, arg),
    ),
    vscode.commands.registerCommand(COMMANDS.refresh, () => Promise.all([index.refresh(), benchmarks.index.refresh()])),
    vscode.commands.registerCommand(COMMANDS.previewDataset, (arg?: DatasetEntry | vscode.Uri) =>
      previewDataset(arg, context.extensionUri),
    ),
    vscode.commands.registerCommand(COMMANDS.inspectDeltas, (arg?: CheckpointNode | ReviewArgs) =>
      inspectDeltasCommand(context, index, arg),
    ),
    vscode.window.registerWebviewPanelSerializer(DELTA_REVIEW_VIEW, new DeltaReviewSerializer(context.extensionUri)),
    vscode.window.registerWebviewPanelSerializer(RUN_DASHBOARD_VIEW, new RunDashboardSerializer(context)),
    vscode.window.registerWebviewPanelSerializer(COMPARE_RUNS_VIEW, new CompareRunsSerializer(context)),
    vscode.commands.registerCommand(COMMANDS.runStudy, (arg?: vscode.Uri | { file: string }) =>
      runStudyCommand(context, log, arg),
    ),
    vscode.window.registerWebviewPanelSerializer(STUDY_VIEW, new StudyPanelSerializer(context.extensionUri)),
    vscode.commands.registerCommand(COMMANDS.revealInExplorer, (node?: CheckpointNode | DatasetEntry) => {
      const p = pathOf(node);
      if (p) return vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(p));
    }),
    vscode.commands.registerCommand(COMMANDS.copyPath, async (node?: CheckpointNode | DatasetEntry) => {
      const p = pathOf(node);
      if (p) await vscode.env.clipboard.writeText(p);
    }),
  );
  context.subscriptions.push(startLanguageClient(context));
  registerRunCommands(
    context,
    training,
    runs,
    index,
    (dir) => showRunDashboard(context, dir),
    (dirs) => showCompareRuns(context, dirs),
  );
  registerExperiments(context, { runs, results: benchmarks.index, index });
  context.subscriptions.push(trackWorkspaceContext(index, runs, benchmarks.index));
  // The first walks run after activation returns, so activation stays cheap whatever the workspace holds.
  void index.refresh();
  void runs.refresh();
  const activateMs = performance.now() - started;
  log.appendLine(
    `activated in ${(loadMs + activateMs).toFixed(1)} ms (bundle evaluation ${loadMs.toFixed(1)} ms, activate() ${activateMs.toFixed(1)} ms)`,
  );
  return {
    index,
    trees: { checkpoints, datasets, runs, benchmarks: benchmarks.tree },
    training,
    activationMs: loadMs + activateMs,
    loadMs,
  };
}

export function deactivate(): void {}
