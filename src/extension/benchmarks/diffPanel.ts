import * as path from 'node:path';
import { writeFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import type { BenchmarkDiff } from '../../core/results/diff';
import { compareExamples } from '../../core/results/examples';
import type { Correction } from '../../core/results/stats';
import { startJob } from '../../core/util/worker';
import type {
  BenchmarkDiffState,
  ExportFormat,
  FromWebview,
  ModelRef,
  ToWebview,
} from '../../webview/benchmarkDiff/protocol';
import { benchmarkDiffHtml } from './diffPage';
import type { BenchmarkDiffRequest } from './diffWorker';
import { BenchmarkNode, BenchmarksTree } from './tree';
import { loadPage, PanelHost, revealOrCreate } from '../shared/panelHost';

export const BENCHMARK_DIFF_VIEW = 'taiaLab.benchmarkDiff';

/** Arguments for calling TAIA: Benchmark diff… programmatically (tests, other commands). */
export interface BenchmarkDiffArgs {
  models: ModelRef[];
  baseline?: string;
  correction?: Correction;
}

const panels = new Map<string, BenchmarkDiffPanel>();
const keyOf = (refs: ModelRef[]) => JSON.stringify(refs.map((r) => [path.resolve(r.file), r.model]));

/** compareModels in a worker thread (dist/bench-diff-worker.js): the paired bootstrap is CPU work. */
function compareInWorker(
  extensionUri: vscode.Uri,
  models: ModelRef[],
  baseline: string | undefined,
  correction: Correction,
): Promise<{ report?: BenchmarkDiff; problems: string[] }> {
  const script = path.join(extensionUri.fsPath, 'dist', 'bench-diff-worker.js');
  return startJob<BenchmarkDiffRequest, never, { report?: BenchmarkDiff; problems: string[] }>(
    script,
    { models, baseline, correction },
    undefined,
    'benchmark diff worker',
  ).result;
}

const EXTENSIONS: Record<ExportFormat, [string, string]> = {
  markdown: ['md', 'Markdown'],
  csv: ['csv', 'CSV'],
  latex: ['tex', 'LaTeX'],
};

/** A benchmark diff panel. The files are read whenever the page loads, so a reopened panel shows them as they are now. */
export class BenchmarkDiffPanel extends PanelHost<ToWebview> {
  /** The report last sent to the page. */
  report: BenchmarkDiff | undefined;

  constructor(
    panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    readonly models: ModelRef[],
    private baseline?: string,
    private correction: Correction = 'none',
  ) {
    super(panel, panels, keyOf(models));
    loadPage(panel, extensionUri, 'benchmarkDiff', benchmarkDiffHtml, 'benchmarks.css');
    panel.webview.onDidReceiveMessage((m: FromWebview) => void this.onMessage(m));
  }

  /** Reads the files as they are now and sends their diff against the current baseline (a baseline no longer there falls back to the first model). */
  private async send(): Promise<void> {
    const { report, problems } = await compareInWorker(this.extensionUri, this.models, this.baseline, this.correction);
    if (!report) return this.post({ type: 'error', message: `Nothing to compare. ${problems.join(' ')}` });
    this.report = report;
    this.baseline = report.baseline;
    this.post({ type: 'init', report, models: this.models, problems });
  }

  private async onMessage(m: FromWebview): Promise<void> {
    try {
      if (m.type === 'ready') {
        this.readySignal.resolve();
        await this.send();
      } else if (m.type === 'rendered') this.renderedSignal.resolve(m.rows);
      else if (m.type === 'baseline' || m.type === 'correction') {
        if (m.type === 'baseline') this.baseline = m.model;
        else this.correction = m.correction;
        await this.send();
      } else if (m.type === 'export') await this.save(m.format, m.content);
      else if (m.type === 'examples') await this.sendExamples(m.task, m.metric, m.model);
    } catch (e) {
      this.post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
    }
  }

  /** The examples behind one cell, read from the files as they are now. */
  private async sendExamples(task: string, metric: string, model: string): Promise<void> {
    try {
      this.post({
        type: 'examples',
        view: await compareExamples(this.models, this.baseline ?? model, model, task, metric),
      });
    } catch (e) {
      this.post({ type: 'examples', error: e instanceof Error ? e.message : String(e) });
    }
  }

  private async save(format: ExportFormat, content: string): Promise<void> {
    const [ext, label] = EXTENSIONS[format];
    const first = vscode.Uri.file(this.models[0].file);
    const folder = vscode.workspace.getWorkspaceFolder(first)?.uri.fsPath ?? path.dirname(first.fsPath);
    const target = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.file(path.join(folder, `benchmark-diff.${ext}`)),
      filters: { [label]: [ext] },
    });
    if (target) await writeFile(target.fsPath, content);
  }
}

/** Opens (or brings forward) the diff of two or more models. */
export function showBenchmarkDiff(
  extensionUri: vscode.Uri,
  models: ModelRef[],
  baseline?: string,
  correction?: Correction,
): BenchmarkDiffPanel | undefined {
  const refs = models.map((m) => ({ file: path.resolve(m.file), model: m.model }));
  if (refs.length < 2) {
    void vscode.window.showInformationMessage('Select two or more models to compare.');
    return undefined;
  }
  return revealOrCreate(panels, keyOf(refs), () => {
    const panel = vscode.window.createWebviewPanel(
      BENCHMARK_DIFF_VIEW,
      `Benchmark diff: ${refs.length} models`,
      vscode.ViewColumn.Active,
      { enableScripts: true, retainContextWhenHidden: false },
    );
    return new BenchmarkDiffPanel(panel, extensionUri, refs, baseline, correction);
  });
}

/** The models of the nodes selected in the Benchmarks view (a task or metric stands for its model), without repeats. */
function refsOf(nodes: BenchmarkNode[]): ModelRef[] {
  const out: ModelRef[] = [];
  for (const n of nodes) {
    const model = n.type === 'model' ? n.results.model : n.type === 'error' ? undefined : n.model;
    if (model !== undefined && !out.some((r) => r.file === n.file && r.model === model))
      out.push({ file: n.file, model });
  }
  return out;
}

/**
 * TAIA: Benchmark diff… — on the models selected in the Benchmarks view (Ctrl/Cmd-click), on
 * `{ models, baseline }`, or else on the models picked from every result file of the workspace.
 */
export async function benchmarkDiffCommand(
  extensionUri: vscode.Uri,
  tree: BenchmarksTree,
  arg?: BenchmarkNode | BenchmarkDiffArgs,
  selected?: BenchmarkNode[],
): Promise<BenchmarkDiffPanel | undefined> {
  if (arg && 'models' in arg) return showBenchmarkDiff(extensionUri, arg.models, arg.baseline, arg.correction);
  let refs = refsOf(selected?.length ? selected : arg ? [arg] : []);
  if (refs.length < 2) {
    await tree.index.ready();
    const items = tree.models.map((m) => ({
      label: m.results.model,
      description: vscode.workspace.asRelativePath(m.file),
      picked: refs.some((r) => r.file === m.file && r.model === m.results.model),
      ref: { file: m.file, model: m.results.model },
    }));
    if (items.length < 2) {
      void vscode.window.showInformationMessage(
        'The workspace holds fewer than two models with benchmark results (lm-evaluation-harness, OpenCompass, TAIA logs or *.taia-results.json).',
      );
      return undefined;
    }
    const picks = await vscode.window.showQuickPick(items, {
      canPickMany: true,
      title: 'Benchmark diff: models to compare (two or more)',
    });
    if (!picks) return undefined;
    refs = picks.map((p) => p.ref);
    if (refs.length < 2) return showBenchmarkDiff(extensionUri, refs);
    // A multi-select has no order: the baseline is asked for, not taken from the first pick.
    const baseline = await vscode.window.showQuickPick(
      refs.map((r) => ({ label: r.model, description: vscode.workspace.asRelativePath(r.file), ref: r })),
      { title: 'Benchmark diff: baseline (every Δ and test is against it; the page can switch it)' },
    );
    if (!baseline) return undefined;
    refs = [baseline.ref, ...refs.filter((r) => r !== baseline.ref)];
  }
  return showBenchmarkDiff(extensionUri, refs);
}

/** Reopens diffs after a reload from the models and baseline the page saved. */
export class BenchmarkDiffSerializer implements vscode.WebviewPanelSerializer<BenchmarkDiffState> {
  constructor(private readonly extensionUri: vscode.Uri) {}

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: BenchmarkDiffState | undefined): Promise<void> {
    if (!state?.models?.length) return panel.dispose();
    new BenchmarkDiffPanel(panel, this.extensionUri, state.models, state.baseline, state.correction);
  }
}
