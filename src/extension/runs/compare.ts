import * as path from 'node:path';
import { writeFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import type { CompareState, FromWebview, ToWebview } from '../../webview/compareRuns/protocol';
import { loadPage, PanelHost, readRun, revealOrCreate } from '../shared/panelHost';
import { compareRunsHtml } from './pages';

export const COMPARE_RUNS_VIEW = 'taiaLab.compareRuns';

const comparisons = new Map<string, CompareRuns>();
const keyOf = (runDirs: string[]) => runDirs.map((d) => path.resolve(d)).join('\n');

/** A comparison panel: the runs are read whenever the page loads, so a reopened panel shows them as they are now. */
export class CompareRuns extends PanelHost<ToWebview> {
  constructor(
    panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    readonly runDirs: string[],
  ) {
    super(panel, comparisons, keyOf(runDirs));
    loadPage(panel, extensionUri, 'compareRuns', compareRunsHtml);
    panel.webview.onDidReceiveMessage((m: FromWebview) => this.onMessage(m));
  }

  private async onMessage(m: FromWebview): Promise<void> {
    if (m.type === 'ready') {
      this.readySignal.resolve();
      try {
        this.post({ type: 'init', runs: await Promise.all(this.runDirs.map(readRun)) });
      } catch (e) {
        this.post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
      }
    } else if (m.type === 'rendered') this.renderedSignal.resolve(m.runs);
    else if (m.type === 'export') {
      const ext = m.format === 'markdown' ? 'md' : 'csv';
      const folder =
        vscode.workspace.getWorkspaceFolder(vscode.Uri.file(this.runDirs[0]))?.uri.fsPath ??
        path.dirname(this.runDirs[0]);
      const target = await vscode.window.showSaveDialog({
        defaultUri: vscode.Uri.file(path.join(folder, `runs-comparison.${ext}`)),
        filters: m.format === 'markdown' ? { Markdown: ['md'] } : { CSV: ['csv'] },
      });
      if (target) await writeFile(target.fsPath, m.content);
    }
  }
}

/** Opens (or brings forward) a comparison of two or more runs. */
export function showCompareRuns(context: vscode.ExtensionContext, runDirs: string[]): CompareRuns | undefined {
  const dirs = runDirs.map((d) => path.resolve(d));
  if (dirs.length < 2) {
    void vscode.window.showInformationMessage('Select two or more runs to compare.');
    return undefined;
  }
  return revealOrCreate(comparisons, keyOf(dirs), () => {
    const panel = vscode.window.createWebviewPanel(
      COMPARE_RUNS_VIEW,
      `Compare ${dirs.length} runs`,
      vscode.ViewColumn.Active,
      { enableScripts: true, retainContextWhenHidden: false },
    );
    return new CompareRuns(panel, context.extensionUri, dirs);
  });
}

/** Reopens comparisons after a reload from the run folders the page saved. */
export class CompareRunsSerializer implements vscode.WebviewPanelSerializer<CompareState> {
  constructor(private readonly context: vscode.ExtensionContext) {}

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: CompareState | undefined): Promise<void> {
    if (!state?.runDirs?.length) return panel.dispose();
    new CompareRuns(panel, this.context.extensionUri, state.runDirs);
  }
}
