import * as vscode from 'vscode';
import { experimentsTable } from '../../core/experiments/table';
import type { ExperimentsState, FromWebview, ToWebview } from '../../webview/experiments/protocol';
import { loadPage, PanelHost, revealOrCreate } from '../shared/panelHost';
import { experimentsHtml } from './page';
import { experimentRuns, ExperimentSources, mergedOutputs, scoredModels } from './source';
import { COMMANDS } from '../commands';

export const EXPERIMENTS_VIEW = 'taiaLab.experiments';
/** Runs report progress every second; the table follows at most this often. */
const REFRESH_MS = 1000;

const open = new Map<string, ExperimentsPanel>();

/** The experiments table panel (one per window): every run, re-read when runs, results or checkpoints change. */
export class ExperimentsPanel extends PanelHost<ToWebview> {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly sources: ExperimentSources,
  ) {
    super(panel, open, 'experiments');
    loadPage(panel, extensionUri, 'experiments', experimentsHtml, 'experiments.css');
    const later = () => this.schedule();
    const subs = [
      sources.runs.onDidUpdate(later),
      sources.results.onDidChange(later),
      sources.index.onDidChange(later),
    ];
    panel.webview.onDidReceiveMessage((m: FromWebview) => void this.onMessage(m));
    panel.onDidDispose(() => {
      clearTimeout(this.timer);
      for (const s of subs) s.dispose();
    });
  }

  private schedule(): void {
    if (this.timer || !this.panel.visible) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.send();
    }, REFRESH_MS);
  }

  private async send(): Promise<void> {
    try {
      this.post({
        type: 'init',
        table: experimentsTable(
          await experimentRuns(this.sources),
          scoredModels(this.sources),
          mergedOutputs(this.sources),
        ),
      });
    } catch (e) {
      this.post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
    }
  }

  private async onMessage(m: FromWebview): Promise<void> {
    if (m.type === 'ready') {
      this.readySignal.resolve();
      await this.sources.runs.refresh();
      await this.send();
    } else if (m.type === 'rendered') this.renderedSignal.resolve(m.rows);
    else if (m.type === 'open')
      await vscode.commands.executeCommand(COMMANDS.openRunDashboard, { type: 'run', dir: m.dir });
    else if (m.type === 'compare') {
      const nodes = this.sources.runs.current.filter((r) => m.dirs.includes(r.dir));
      await vscode.commands.executeCommand(COMMANDS.compareRuns, nodes[0], nodes);
    }
  }
}

/** TAIA: Experiments table — opens (or brings forward) the table of every run. */
export function showExperiments(extensionUri: vscode.Uri, sources: ExperimentSources): ExperimentsPanel {
  return revealOrCreate(open, 'experiments', () => {
    const panel = vscode.window.createWebviewPanel(EXPERIMENTS_VIEW, 'Experiments', vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: false,
    });
    return new ExperimentsPanel(panel, extensionUri, sources);
  });
}

/** Registers the command and reopens the panel after a reload (the page keeps its own arrangement). */
export function registerExperiments(context: vscode.ExtensionContext, sources: ExperimentSources): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(COMMANDS.experiments, () => showExperiments(context.extensionUri, sources)),
    vscode.window.registerWebviewPanelSerializer(EXPERIMENTS_VIEW, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, _state: ExperimentsState | undefined) {
        new ExperimentsPanel(panel, context.extensionUri, sources);
      },
    }),
  );
}
