import * as path from 'node:path';
import * as vscode from 'vscode';
import { listRuns, RunSummary } from '../../core/runs/store';
import { followSlurmRuns, followsJob } from '../../core/slurm/follow';
import { slurmPollMs } from './slurm';
import { RUNS_DIR, RunState, RunStatus } from '../../core/runs/types';
import { COMMANDS } from '../commands';

export interface RunNode {
  type: 'run';
  dir: string;
  status: RunStatus;
}

const ICONS: Record<RunState, [string, string?]> = {
  queued: ['clock'],
  pending: ['clock', 'charts.blue'],
  running: ['sync~spin', 'charts.blue'],
  done: ['pass', 'charts.green'],
  failed: ['error', 'charts.red'],
  cancelled: ['circle-slash', 'charts.yellow'],
  interrupted: ['debug-pause', 'charts.orange'],
  timeout: ['watch', 'charts.orange'],
  preempted: ['debug-pause', 'charts.orange'],
  node_fail: ['error', 'charts.red'],
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
  private slurmPoll?: NodeJS.Timeout;
  /** Why Slurm could not be asked at the last poll (shown in the tooltips of its runs). */
  private slurmProblem?: string;
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
    this.runs = found.map((r) => ({ type: 'run', dir: r.dir, status: r.status }));
    this.followSlurm();
    const active = this.runs.some((r) => !r.status.slurm && (r.status.state === 'running' || r.status.state === 'queued'));
    if (active && !this.poll) this.poll = setInterval(() => void this.refresh(), 1000);
    if (!active && this.poll) {
      clearInterval(this.poll);
      this.poll = undefined;
    }
    this.changed.fire();
    this.updated.fire(this.runs);
  }

  /**
   * Follows the Slurm jobs among the runs: one query for all of them (see followSlurmRuns) every
   * `taiaLab.slurm.pollSeconds` while any is pending or running. After a reload this finds them again.
   */
  followSlurm(): void {
    if (this.slurmPoll || !this.runs.some((r) => followsJob(r.status))) return;
    this.slurmPoll = setTimeout(() => {
      void followSlurmRuns(this.runs.map((r) => ({ dir: r.dir, status: r.status })))
        .then(() => (this.slurmProblem = undefined))
        .catch((e: Error) => (this.slurmProblem = e.message))
        .finally(() => {
          this.slurmPoll = undefined;
          void this.refresh();
        });
    }, slurmPollMs());
  }

  getChildren(node?: RunNode): RunNode[] {
    return node ? [] : this.runs;
  }

  getTreeItem(node: RunNode): vscode.TreeItem {
    const s = node.status;
    const item = new vscode.TreeItem(s.name, vscode.TreeItemCollapsibleState.None);
    item.id = node.dir;
    item.description = describeRun(s);
    const [icon, color] = ICONS[s.state] ?? ['question'];
    item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    item.contextValue = `run.${s.state}`;
    item.tooltip = tooltip(node, this.slurmProblem);
    item.command = { command: COMMANDS.openRunDashboard, title: 'Open run dashboard', arguments: [node] };
    return item;
  }

  dispose(): void {
    if (this.poll) clearInterval(this.poll);
    if (this.slurmPoll) clearTimeout(this.slurmPoll);
    for (const d of this.disposables) d.dispose();
  }
}

/** "running · 12/100 · loss 1.234" */
export function describeRun(s: RunStatus): string {
  const parts: string[] = [s.state === 'pending' && s.slurm?.reason ? `pending (${s.slurm.reason})` : s.state];
  if (s.totalSteps) parts.push(`${s.step}/${s.totalSteps}`);
  if (s.finalLoss !== undefined) parts.push(`loss ${s.finalLoss.toFixed(3)}`);
  if (s.slurm?.jobId) parts.push(`job ${s.slurm.jobId}${s.slurm.partition ? ` on ${s.slurm.partition}` : ''}${s.slurm.nodeList && s.state === 'running' ? ` (${s.slurm.nodeList})` : ''}`);
  return parts.join(' · ');
}

function tooltip(node: RunNode, slurmProblem?: string): vscode.MarkdownString {
  const s = node.status;
  const md = new vscode.MarkdownString(undefined, false);
  md.appendMarkdown(`**${escapeMd(s.name)}** — ${s.state}\n\n`);
  md.appendMarkdown(`- folder: \`${escapeCode(path.basename(node.dir))}\`\n`);
  if (s.backend) md.appendMarkdown(`- backend: ${escapeMd(s.backend)}\n`);
  if (s.startedAt) md.appendMarkdown(`- started: ${escapeMd(s.startedAt)}\n`);
  if (s.lastCheckpoint) md.appendMarkdown(`- last checkpoint: \`${escapeCode(s.lastCheckpoint)}\`\n`);
  if (s.slurm) {
    const j = s.slurm;
    md.appendMarkdown(`- Slurm job: ${escapeMd(j.jobId ?? 'not submitted')}${j.jobState ? ` (${escapeMd(j.jobState)})` : ''}\n`);
    if (j.partition) md.appendMarkdown(`- partition: ${escapeMd(j.partition)}\n`);
    if (j.nodeList) md.appendMarkdown(`- nodes: ${escapeMd(j.nodeList)}\n`);
    if (j.reason) md.appendMarkdown(`- queue reason: ${escapeMd(j.reason)}\n`);
    if (slurmProblem) md.appendMarkdown(`- Slurm could not be asked: ${escapeMd(slurmProblem)}\n`);
  }
  if (s.error) md.appendMarkdown(`\n${escapeMd(s.error)}\n`);
  return md;
}

const escapeMd = (text: string) => text.replace(/[\\`*_{}[\]()#+\-.!<>|]/g, '\\$&');
const escapeCode = (text: string) => text.replace(/`/g, "'");
