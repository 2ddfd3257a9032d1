import * as path from 'node:path';
import * as vscode from 'vscode';
import { lastMetric } from '../../core/runs/lastMetric';
import { listRuns, RunSummary } from '../../core/runs/store';
import { RUNS_DIR, RunState, RunStatus } from '../../core/runs/types';

export interface RunNode {
  type: 'run';
  dir: string;
  status: RunStatus;
  /** A live run's latest loss (metrics.jsonl): status.json holds only the loss a run ended with. */
  liveLoss?: number;
}

const ICONS: Record<RunState, [string, string?]> = {
  queued: ['clock'],
  running: ['sync~spin', 'charts.blue'],
  done: ['pass', 'charts.green'],
  failed: ['error', 'charts.red'],
  cancelled: ['circle-slash', 'charts.yellow'],
  interrupted: ['debug-pause', 'charts.orange'],
};

/**
 * The Runs view: every `.taia/runs/<id>/` of the workspace folders, newest first, with state icons and
 * progress. It follows status.json through a watcher and, while a run is running, by polling too:
 * watchers can lag or miss changes on network file systems, and a running run should never look stale.
 */
export class RunsTree implements vscode.TreeDataProvider<RunNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private runs: RunNode[] = [];
  private readonly disposables: vscode.Disposable[] = [];
  private poll?: NodeJS.Timeout;
  private loading?: Promise<void>;
  private readonly updated = new vscode.EventEmitter<RunNode[]>();
  /** Fires after every reload with the current runs (the status bar and tests listen). */
  readonly onDidUpdate = this.updated.event;

  constructor() {
    const watcher = vscode.workspace.createFileSystemWatcher(`**/${RUNS_DIR}/*/status.json`);
    const refresh = () => void this.refresh();
    this.disposables.push(watcher, watcher.onDidCreate(refresh), watcher.onDidChange(refresh), watcher.onDidDelete(refresh), this.changed, this.updated, vscode.workspace.onDidChangeWorkspaceFolders(refresh));
  }

  get current(): readonly RunNode[] {
    return this.runs;
  }

  /** Re-reads all run folders; concurrent calls share one read. */
  refresh(): Promise<void> {
    this.loading ??= this.load().finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async load(): Promise<void> {
    const roots = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    const found: RunSummary[] = (await Promise.all(roots.map(listRuns))).flat();
    this.runs = await Promise.all(
      found.map(async (r): Promise<RunNode> => {
        const live = r.status.state === 'running' || r.status.state === 'queued';
        const last = live ? await lastMetric(r.dir) : undefined;
        return { type: 'run', dir: r.dir, status: r.status, ...(last ? { liveLoss: last.loss } : {}) };
      }),
    );
    const active = this.runs.some((r) => r.status.state === 'running' || r.status.state === 'queued');
    if (active && !this.poll) this.poll = setInterval(() => void this.refresh(), 1000);
    if (!active && this.poll) {
      clearInterval(this.poll);
      this.poll = undefined;
    }
    this.changed.fire();
    this.updated.fire(this.runs);
  }

  getChildren(node?: RunNode): RunNode[] {
    return node ? [] : this.runs;
  }

  getTreeItem(node: RunNode): vscode.TreeItem {
    const s = node.status;
    const item = new vscode.TreeItem(s.name, vscode.TreeItemCollapsibleState.None);
    item.id = node.dir;
    // Two runs of one experiment share a name: the start time tells them apart.
    item.description = `${startedLabel(s)} · ${describeRun(s, node.liveLoss)}`;
    const [icon, color] = ICONS[s.state] ?? ['question'];
    item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    item.contextValue = `run.${s.state}`;
    item.tooltip = tooltip(node);
    item.command = { command: 'taiaLab.openRunDashboard', title: 'Open run dashboard', arguments: [node] };
    return item;
  }

  dispose(): void {
    if (this.poll) clearInterval(this.poll);
    for (const d of this.disposables) d.dispose();
  }
}

/** "running · 12/100 · loss 1.234"; a live run's loss is its latest, not the one a previous segment ended with. */
export function describeRun(s: RunStatus, liveLoss?: number): string {
  const parts: string[] = [s.state];
  if (s.totalSteps) parts.push(`${s.step}/${s.totalSteps}`);
  const live = s.state === 'running' || s.state === 'queued';
  const loss = live ? liveLoss : s.finalLoss;
  if (loss !== undefined && Number.isFinite(loss)) parts.push(`loss ${loss.toFixed(3)}`);
  return parts.join(' · ');
}

/** "Jan 02 14:05" (local time) of the run's start, or of its creation while queued. */
export function startedLabel(s: RunStatus): string {
  const d = new Date(s.startedAt ?? s.createdAt);
  if (Number.isNaN(d.getTime())) return s.id;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.toLocaleString('en-US', { month: 'short' })} ${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function tooltip(node: RunNode): vscode.MarkdownString {
  const s = node.status;
  const md = new vscode.MarkdownString(undefined, false);
  md.appendMarkdown(`**${escapeMd(s.name)}** — ${s.state}\n\n`);
  md.appendMarkdown(`- folder: \`${escapeCode(path.basename(node.dir))}\`\n`);
  if (s.backend) md.appendMarkdown(`- backend: ${escapeMd(s.backend)}\n`);
  if (s.startedAt) md.appendMarkdown(`- started: ${escapeMd(s.startedAt)}\n`);
  if (s.lastCheckpoint) md.appendMarkdown(`- last checkpoint: \`${escapeCode(s.lastCheckpoint)}\`\n`);
  if (s.error) md.appendMarkdown(`\n${escapeMd(s.error)}\n`);
  return md;
}

const escapeMd = (text: string) => text.replace(/[\\`*_{}[\]()#+\-.!<>|]/g, '\\$&');
const escapeCode = (text: string) => text.replace(/`/g, "'");
