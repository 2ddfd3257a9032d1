import * as path from 'node:path';
import { open } from 'node:fs/promises';
import * as vscode from 'vscode';
import { readAppended } from '../../core/runs/metrics';
import { readRunConfig, reconcileStatus } from '../../core/runs/store';
import { isExternalRun } from '../../core/runs/external';
import { latestTrainerState } from '../../core/runs/external/hfTrainer';
import { isOwnRun, RunData } from '../../core/runs/view';
import { CONFIG_FILE, FINISHED_STATES, LOG_FILE, METRICS_FILE, RunStatus } from '../../core/runs/types';
import type { DashboardState, FromWebview, ToWebview } from '../../webview/runDashboard/protocol';
import { loadPage, PanelHost, readRun, revealOrCreate } from '../shared/panelHost';
import { runDashboardHtml } from './pages';
import { COMMANDS } from '../commands';

export const RUN_DASHBOARD_VIEW = 'taiaLab.runDashboard';
/** File watchers can lag or miss events (network drives, some containers): poll too while a run is live. */
const POLL_MS = 1000;

const dashboards = new Map<string, RunDashboard>();

/**
 * One run's dashboard panel. Each page load (first open, a reload, the panel shown again) gets the
 * whole run once; after that only a changed status and the metric records appended since.
 */
export class RunDashboard extends PanelHost<ToWebview> {
  private offset = 0;
  private lastStatus = '';
  /** Whether the page has had its init since it last loaded: updates before that would be lost. */
  private loaded = false;
  private poll: NodeJS.Timeout | undefined;
  /** Reads run one after another, so a watcher event and a poll tick never send the same records twice. */
  private queue = Promise.resolve();
  /** Bytes of the Slurm job's output file already sent. */
  private logOffset = 0;
  /** A run of another tool, read in place: re-read whole on a change, and only records past the last step sent go to the page. */
  private external?: boolean;
  private lastStep = -Infinity;

  constructor(
    panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    readonly runDir: string,
  ) {
    super(panel, dashboards, runDir);
    loadPage(panel, extensionUri, 'runDashboard', runDashboardHtml);
    const watcher = vscode.workspace.createFileSystemWatcher(
      new vscode.RelativePattern(
        vscode.Uri.file(runDir),
        '{status.json,metrics.jsonl,**/trainer_state.json,**/events.out.tfevents.*}',
      ),
    );
    const changed = () => this.enqueue(() => this.update());
    panel.webview.onDidReceiveMessage((m: FromWebview) => this.onMessage(m));
    panel.onDidDispose(() => {
      watcher.dispose();
      clearInterval(this.poll);
    });
    watcher.onDidChange(changed);
    watcher.onDidCreate(changed);
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue
      .then(task)
      .catch((e: unknown) =>
        this.post({ type: 'error', message: `${this.runDir}: ${e instanceof Error ? e.message : String(e)}` }),
      );
  }

  private async init(): Promise<void> {
    this.external ??= !(await isOwnRun(this.runDir)) && (await isExternalRun(this.runDir));
    if (this.external) return this.initExternal(await readRun(this.runDir));
    const status = await reconcileStatus(this.runDir);
    const config = await readRunConfig(this.runDir).catch(() => undefined);
    const read = await readAppended(path.join(this.runDir, METRICS_FILE), 0);
    this.offset = read!.offset;
    this.lastStatus = JSON.stringify(status);
    this.panel.title = `Run: ${status.name}`;
    // `engine: command`: the tool's output folder has the evaluations and the tool's settings.
    const tool = status.outputDir ? await readRun(this.runDir) : undefined;
    this.post({
      type: 'init',
      runDir: this.runDir,
      status,
      config,
      metrics: read!.records,
      evals: tool?.evals,
      hyperparameters: tool?.hyperparameters,
      notes: tool?.notes,
    });
    this.logOffset = 0;
    await this.sendJobLog(status, true);
    this.loaded = true;
    this.keepPolling(status);
  }

  /** What the Slurm job's output file gained since the last read (on a (re)load: its last 64 KiB). */
  private async sendJobLog(status: RunStatus, reset: boolean): Promise<void> {
    if (!status.slurm) return;
    const handle = await open(status.slurm.output, 'r').catch(() => undefined);
    if (!handle) return;
    try {
      const { size } = await handle.stat();
      const rewritten = size < this.logOffset;
      const from = rewritten ? 0 : Math.max(this.logOffset, reset ? size - 65536 : 0);
      if (size === from && !reset) return;
      const buf = Buffer.alloc(size - from);
      await handle.read(buf, 0, buf.length, from);
      this.logOffset = size;
      this.post({ type: 'jobLog', text: buf.toString('utf-8'), reset: reset || rewritten });
    } finally {
      await handle.close();
    }
  }

  private initExternal(run: RunData): void {
    this.lastStep = run.metrics.at(-1)?.step ?? -Infinity;
    this.lastStatus = JSON.stringify(run.status);
    this.panel.title = `Run: ${run.status.name}`;
    this.post({
      type: 'init',
      runDir: this.runDir,
      status: run.status,
      metrics: run.metrics,
      evals: run.evals,
      hyperparameters: run.hyperparameters,
      notes: run.notes,
    });
    this.loaded = true;
    this.keepPolling(run.status);
  }

  private async updateExternal(): Promise<void> {
    const run = await readRun(this.runDir);
    const records = run.metrics.filter((r) => r.step > this.lastStep);
    // A log rewritten from an earlier step (a resumed run) is sent whole.
    if (run.metrics.length && (run.metrics.at(-1)?.step ?? 0) < this.lastStep) return this.initExternal(run);
    if (records.length) this.post({ type: 'metrics', records, evals: run.evals });
    this.lastStep = run.metrics.at(-1)?.step ?? this.lastStep;
    const text = JSON.stringify(run.status);
    if (text !== this.lastStatus) this.post({ type: 'status', status: run.status });
    this.lastStatus = text;
    this.keepPolling(run.status);
  }

  private async update(): Promise<void> {
    // A hidden panel's page is unloaded; it asks for everything again when shown.
    if (!this.loaded || !this.panel.visible) return;
    if (this.external) return this.updateExternal();
    const status = await reconcileStatus(this.runDir);
    const read = await readAppended(path.join(this.runDir, METRICS_FILE), this.offset);
    if (!read) return this.init();
    if (read.records.length) this.post({ type: 'metrics', records: read.records });
    this.offset = read.offset;
    const text = JSON.stringify(status);
    if (text !== this.lastStatus) this.post({ type: 'status', status });
    this.lastStatus = text;
    await this.sendJobLog(status, false);
    this.keepPolling(status);
  }

  private keepPolling(status: RunStatus): void {
    const live = !FINISHED_STATES.includes(status.state);
    if (live && !this.poll) this.poll = setInterval(() => this.enqueue(() => this.update()), POLL_MS);
    if (!live && this.poll) {
      clearInterval(this.poll);
      this.poll = undefined;
    }
  }

  private onMessage(m: FromWebview): void {
    if (m.type === 'ready') {
      this.loaded = false;
      this.readySignal.resolve();
      this.enqueue(() => this.init());
    } else if (m.type === 'rendered') this.renderedSignal.resolve(m.records);
    else if (m.type === 'cancel')
      void vscode.commands.executeCommand(COMMANDS.cancelRun, { type: 'run', dir: this.runDir });
    else if (m.type === 'open') void this.open(m.file);
  }

  /** The run's log or config; a run of another tool has neither, and shows its Trainer state (or its folder) instead. */
  private async open(file: 'log' | 'config'): Promise<void> {
    if (!this.external)
      return void vscode.window.showTextDocument(
        vscode.Uri.file(path.join(this.runDir, file === 'log' ? LOG_FILE : CONFIG_FILE)),
        { preview: true },
      );
    const state = (await latestTrainerState(this.runDir)).state?.file;
    if (state) return void vscode.window.showTextDocument(vscode.Uri.file(state), { preview: true });
    void vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(this.runDir));
  }
}

/** Opens (or brings forward) the dashboard of the run in `runDir`; returns it (tests wait on its `rendered`). */
export function showRunDashboard(context: vscode.ExtensionContext, runDir: string): RunDashboard {
  const dir = path.resolve(runDir);
  return revealOrCreate(dashboards, dir, () => {
    const panel = vscode.window.createWebviewPanel(
      RUN_DASHBOARD_VIEW,
      `Run: ${path.basename(dir)}`,
      vscode.ViewColumn.Active,
      { enableScripts: true, retainContextWhenHidden: false },
    );
    return new RunDashboard(panel, context.extensionUri, dir);
  });
}

/** Reopens dashboards after a reload from the run folder the page saved. */
export class RunDashboardSerializer implements vscode.WebviewPanelSerializer<DashboardState> {
  constructor(private readonly context: vscode.ExtensionContext) {}

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: DashboardState | undefined): Promise<void> {
    if (!state?.runDir) return panel.dispose();
    new RunDashboard(panel, this.context.extensionUri, path.resolve(state.runDir));
  }
}
