import * as vscode from 'vscode';
import { BENCHMARK_DIFF_VIEW, BenchmarkDiffArgs, benchmarkDiffCommand, BenchmarkDiffSerializer } from './diffPanel';
import { BenchmarkNode, BenchmarksTree } from './tree';
import { ResultsIndex } from './resultsIndex';
import { COMMANDS } from '../commands';

/**
 * Wires the Benchmarks view into the extension: the results index and its watcher, the tree (multi-
 * select), TAIA: Benchmark diff… and the diff panel's serializer. The first walk starts after
 * activation returns, like the other views'.
 */
export function registerBenchmarks(context: vscode.ExtensionContext): { index: ResultsIndex; tree: BenchmarksTree } {
  const index = new ResultsIndex();
  const tree = new BenchmarksTree(index);
  context.subscriptions.push(
    index,
    vscode.window.createTreeView('taiaLab.benchmarks', {
      treeDataProvider: tree,
      canSelectMany: true,
      showCollapseAll: true,
    }),
    vscode.commands.registerCommand(
      COMMANDS.benchmarkDiff,
      (arg?: BenchmarkNode | BenchmarkDiffArgs, selected?: BenchmarkNode[]) =>
        benchmarkDiffCommand(context.extensionUri, tree, arg, selected),
    ),
    vscode.window.registerWebviewPanelSerializer(
      BENCHMARK_DIFF_VIEW,
      new BenchmarkDiffSerializer(context.extensionUri),
    ),
  );
  void index.refresh();
  return { index, tree };
}
