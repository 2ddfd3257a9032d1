import * as path from 'node:path';
import * as vscode from 'vscode';
import { formatValue } from '../../core/results/format';
import { MetricResult, ModelResults, ResultFormat, TaskResult } from '../../core/results/types';
import { ResultEntry, ResultsIndex } from './resultsIndex';

/**
 * Nodes of the Benchmarks view. Model and error nodes carry `file` at the top, so the shared Reveal in
 * Explorer and Copy path commands work on them as on datasets.
 */
export type BenchmarkNode =
  | { type: 'model'; file: string; results: ModelResults }
  | { type: 'task'; file: string; model: string; task: string; result: TaskResult }
  | { type: 'metric'; file: string; model: string; task: string; name: string; metric: MetricResult }
  | { type: 'error'; file: string; entry: ResultEntry };

export const FORMAT_LABEL: Record<ResultFormat, string> = {
  'lm-eval': 'lm-evaluation-harness',
  opencompass: 'OpenCompass',
  'taia-log': 'TAIA log',
  'taia-results': 'TAIA Lab',
};

/** The unit a metric's value is shown in, from what its format says. */
const unitOf = (m: MetricResult) => (m.scale === 'percent' ? 'percent' : m.scale === 'fraction' ? 'fraction' : 'raw');

/** "0.7512 ± 0.0089 ↑" */
export function describeMetric(m: MetricResult): string {
  const u = unitOf(m);
  return `${formatValue(m.value, u)}${m.stderr !== undefined ? ` ± ${formatValue(m.stderr, u)}` : ''} ${m.higherIsBetter ? '↑' : '↓'}`;
}

/** The reason without the path the tooltip shows anyway. */
const reason = (e: ResultEntry) => (e.error ?? '').replace(`${e.file}:`, '').trim();

/**
 * The Benchmarks view: every model found in the workspace's result files → its tasks → their
 * metrics. A file that cannot be read is an error item with the reason; the rest of the view is unaffected.
 */
export class BenchmarksTree implements vscode.TreeDataProvider<BenchmarkNode> {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.emitter.event;

  constructor(readonly index: ResultsIndex) {
    index.onDidChange(() => this.emitter.fire());
  }

  /** Every model of every readable file, in file order. */
  get models(): Extract<BenchmarkNode, { type: 'model' }>[] {
    return this.index.list.flatMap((e) =>
      (e.models ?? []).map((results) => ({ type: 'model' as const, file: e.file, results })),
    );
  }

  getChildren(node?: BenchmarkNode): BenchmarkNode[] {
    if (!node) {
      const errors = this.index.list
        .filter((e) => e.error)
        .map((entry): BenchmarkNode => ({ type: 'error', file: entry.file, entry }));
      return [...this.models, ...errors];
    }
    if (node.type === 'model')
      return [...node.results.tasks].map(([task, result]) => ({
        type: 'task',
        file: node.file,
        model: node.results.model,
        task,
        result,
      }));
    if (node.type === 'task')
      return [...node.result.metrics].map(([name, metric]) => ({
        type: 'metric',
        file: node.file,
        model: node.model,
        task: node.task,
        name,
        metric,
      }));
    return [];
  }

  getTreeItem(node: BenchmarkNode): vscode.TreeItem {
    const rel = (f: string) => vscode.workspace.asRelativePath(f);
    switch (node.type) {
      case 'model': {
        const r = node.results;
        const item = new vscode.TreeItem(r.model, vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `benchmark:${node.file}#${r.model}`;
        item.description = `${r.tasks.size} task${r.tasks.size === 1 ? '' : 's'} · ${FORMAT_LABEL[r.format]} · ${path.basename(node.file)}`;
        const md = new vscode.MarkdownString();
        md.appendMarkdown('**')
          .appendText(r.model)
          .appendMarkdown('**\n\n')
          .appendText(`${FORMAT_LABEL[r.format]}: ${rel(node.file)}`);
        if (r.date) md.appendMarkdown('\n\n').appendText(`evaluated ${r.date}`);
        item.tooltip = md;
        item.iconPath = new vscode.ThemeIcon('beaker');
        item.contextValue = 'benchmark.model';
        return item;
      }
      case 'task': {
        const t = node.result;
        const item = new vscode.TreeItem(node.task, vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `benchmark:${node.file}#${node.model}#${node.task}`;
        const first = [...t.metrics][0];
        item.description = [
          first ? `${first[0]} ${describeMetric(first[1])}` : '',
          t.n !== undefined ? `n=${t.n}` : '',
          t.group ? 'group' : '',
        ]
          .filter(Boolean)
          .join(' · ');
        item.iconPath = new vscode.ThemeIcon(t.group ? 'list-tree' : 'checklist');
        item.contextValue = 'benchmark.task';
        return item;
      }
      case 'metric': {
        const item = new vscode.TreeItem(node.name, vscode.TreeItemCollapsibleState.None);
        item.id = `benchmark:${node.file}#${node.model}#${node.task}#${node.name}`;
        item.description = describeMetric(node.metric);
        item.tooltip = `${node.metric.higherIsBetter ? 'higher' : 'lower'} is better${node.metric.scale ? ` · ${node.metric.scale}` : ''}`;
        item.contextValue = 'benchmark.metric';
        return item;
      }
      case 'error': {
        const item = new vscode.TreeItem(path.basename(node.file), vscode.TreeItemCollapsibleState.None);
        item.id = `benchmark-error:${node.file}`;
        item.description = reason(node.entry);
        item.tooltip = new vscode.MarkdownString().appendText(node.entry.error ?? '');
        item.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'));
        item.contextValue = 'benchmark.error';
        item.resourceUri = vscode.Uri.file(node.file);
        item.command = { command: 'vscode.open', title: 'Open', arguments: [vscode.Uri.file(node.file)] };
        return item;
      }
    }
  }
}
