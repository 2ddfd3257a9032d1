import * as path from 'node:path';
import * as vscode from 'vscode';
import { listExternalRuns } from '../../core/runs/external';
import { lastMetric } from '../../core/runs/lastMetric';
import { listRuns, RunSummary } from '../../core/runs/store';
import { RUNS_DIR, RunState, RunStatus } from '../../core/runs/types';
import { followSlurmRuns, followsJob } from '../../core/slurm/follow';
import { slurmPollMs } from './slurm';
import { COMMANDS } from '../commands';

export interface RunNode {
  type: 'run';
  dir: string;
  status: RunStatus;
  /** A run another tool wrote (a Trainer output folder, TensorBoard logs), read in place. */
  external?: boolean;
  /** A live run's latest loss (metrics.jsonl): status.json holds only the loss a run ended with. */
  liveLoss?: number;
}

/** Runs of other tools are found by walking the workspace: while one is live it is re-read this often. */
const EXTERNAL_POLL_MS = 5000;

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
  private pollMs = 0;
  private externalPoll?: NodeJS.Timeout;
  private slurmPoll?: NodeJS.Timeout;
  /** Why Slurm could not be asked at the last poll (shown in the tooltips of its runs). */
  private slurmProblem?: string;
  private loading?: Promise<void>;
  /** A refresh asked for while a read was under way: the read runs once more. */
  private pending = false;
  /** Runs of other tools, found by walking the workspace: walked again only when their files change or their poll is due. */
  private external: RunNode[] = [];
  private externalDue = true;
  private readonly updated = new vscode.EventEmitter<RunNode[]>();
  /** Fires after every reload with the current runs (the status bar and tests listen). */
  readonly onDidUpdate = this.updated.event;

  constructor() {
    for (const [glob, external] of [
      [`**/${RUNS_DIR}/*/status.json`, false],
      ['**/trainer_state.json', true],
      ['**/events.out.tfevents.*', true],
    ] as const) {
      const watcher = vscode.workspace.createFileSystemWatcher(glob);
      const refresh = () => void this.refresh(external);
      this.disposables.push(
        watcher,
        watcher.onDidCreate(refresh),
        watcher.onDidChange(refresh),
        watcher.onDidDelete(refresh),
      );
    }
    const refresh = () => void this.refresh();
    this.disposables.push(this.changed, this.updated, vscode.workspace.onDidChangeWorkspaceFolders(refresh));
  }

  get current(): readonly RunNode[] {
    return this.runs;
  }

  /**
   * Re-reads the run folders (`external`: the workspace's runs of other tools too); a call during a
   * read gets that read followed by one more.
   */
  refresh(external = true): Promise<void> {
    if (external) this.externalDue = true;
    if (this.loading) {
      this.pending = true;
      return this.loading;
    }
    this.loading = (async () => {
      do {
        this.pending = false;
        await this.load();
      } while (this.pending);
    })().finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async load(): Promise<void> {
    const roots = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    const found: RunSummary[] = (await Promise.all(roots.map(listRuns))).flat();
    const own: RunNode[] = await Promise.all(
      found.map(async (r): Promise<RunNode> => {
        const live = r.status.state === 'running' || r.status.state === 'queued';
        const last = live ? await lastMetric(r.dir) : undefined;
        return { type: 'run', dir: r.dir, status: r.status, ...(last ? { liveLoss: last.loss } : {}) };
      }),
    );
    if (this.externalDue) {
      this.externalDue = false;
      this.external = (await Promise.all(roots.map(listExternalRuns)))
        .flat()
        .map((r) => ({ type: 'run', dir: r.dir, status: r.status, external: true }));
    }
    // An `engine: command` run's output folder is that run, not a second one.
    const followed = new Set(own.flatMap((r) => (r.status.outputDir ? [path.resolve(r.status.outputDir)] : [])));
    const external = this.external.filter((r) => !followed.has(path.resolve(r.dir)));
    this.runs = [...own, ...external];
    this.followSlurm();
    const live = (r: RunNode) => r.status.state === 'running' || r.status.state === 'queued';
    // A Slurm job's run is followed through the scheduler's poll, not the 1 s one.
    this.setPoll(own.some((r) => !r.status.slurm && live(r)) ? 1000 : 0);
    if (external.some(live) && !this.externalPoll)
      this.externalPoll = setInterval(() => void this.refresh(true), EXTERNAL_POLL_MS);
    if (!external.some(live) && this.externalPoll) {
      clearInterval(this.externalPoll);
      this.externalPoll = undefined;
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
      void followSlurmRuns(this.runs.filter((r) => !r.external).map((r) => ({ dir: r.dir, status: r.status })))
        .then(() => (this.slurmProblem = undefined))
        .catch((e: Error) => (this.slurmProblem = e.message))
        .finally(() => {
          this.slurmPoll = undefined;
          void this.refresh(false);
        });
    }, slurmPollMs());
  }

  private setPoll(ms: number): void {
    if (ms === this.pollMs) return;
    clearInterval(this.poll);
    this.poll = ms ? setInterval(() => void this.refresh(false), ms) : undefined;
    this.pollMs = ms;
  }

  getChildren(node?: RunNode): RunNode[] {
    return node ? [] : this.runs;
  }

  getTreeItem(node: RunNode): vscode.TreeItem {
    const s = node.status;
    const item = new vscode.TreeItem(s.name, vscode.TreeItemCollapsibleState.None);
    item.id = node.dir;
    // Two runs of one experiment share a name: the start time tells them apart (a run of another tool ends with its time).
    item.description = node.external ? describeRun(s) : `${startedLabel(s)} · ${describeRun(s, node.liveLoss)}`;
    const [icon, color] = ICONS[s.state] ?? ['question'];
    item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    // Runs of other tools open and compare like the project's own, but are not cancelled or resumed from here.
    item.contextValue = `${node.external ? 'external' : 'run'}.${s.state}`;
    item.tooltip = tooltip(node, this.slurmProblem);
    item.command = { command: COMMANDS.openRunDashboard, title: 'Open run dashboard', arguments: [node] };
    return item;
  }

  dispose(): void {
    clearInterval(this.poll);
    clearInterval(this.externalPoll);
    clearTimeout(this.slurmPoll);
    for (const d of this.disposables) d.dispose();
  }
}

/**
 * "running · 12/100 · loss 1.234"; a live run's loss is its latest, not the one a previous segment ended with;
 * a run of another tool: "HF Trainer · done · 2800/2808 · loss 1.104 · 2025-06-01 14:03".
 */
export function describeRun(s: RunStatus, liveLoss?: number): string {
  const state = s.state === 'pending' && s.slurm?.reason ? `pending (${s.slurm.reason})` : s.state;
  const parts: string[] = s.source ? [s.source, state] : [state];
  if (s.totalSteps) parts.push(`${s.step}/${s.totalSteps}`);
  else if (s.source) parts.push(`step ${s.step}`);
  const live = s.state === 'running' || s.state === 'queued';
  const loss = live && liveLoss !== undefined ? liveLoss : s.finalLoss;
  if (loss !== undefined && Number.isFinite(loss)) parts.push(`loss ${loss.toFixed(3)}`);
  const time = s.endedAt ?? s.startedAt;
  if (s.source && time) parts.push(time.slice(0, 16).replace('T', ' '));
  if (s.slurm?.jobId)
    parts.push(
      `job ${s.slurm.jobId}${s.slurm.partition ? ` on ${s.slurm.partition}` : ''}${s.slurm.nodeList && s.state === 'running' ? ` (${s.slurm.nodeList})` : ''}`,
    );
  return parts.join(' · ');
}

/** "Jan 02 14:05" (local time) of the run's start, or of its creation while queued. */
export function startedLabel(s: RunStatus): string {
  const d = new Date(s.startedAt ?? s.createdAt);
  if (Number.isNaN(d.getTime())) return s.id;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.toLocaleString('en-US', { month: 'short' })} ${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function tooltip(node: RunNode, slurmProblem?: string): vscode.MarkdownString {
  const s = node.status;
  const md = new vscode.MarkdownString(undefined, false);
  md.appendMarkdown(`**${escapeMd(s.name)}** — ${s.state}\n\n`);
  md.appendMarkdown(`- folder: \`${escapeCode(node.external ? s.id : path.basename(node.dir))}\`\n`);
  if (s.source) md.appendMarkdown(`- written by: ${escapeMd(s.source)} (read in place)\n`);
  if (s.backend) md.appendMarkdown(`- backend: ${escapeMd(s.backend)}\n`);
  if (s.startedAt) md.appendMarkdown(`- started: ${escapeMd(s.startedAt)}\n`);
  if (s.lastCheckpoint) md.appendMarkdown(`- last checkpoint: \`${escapeCode(s.lastCheckpoint)}\`\n`);
  if (s.slurm) {
    const j = s.slurm;
    md.appendMarkdown(
      `- Slurm job: ${escapeMd(j.jobId ?? 'not submitted')}${j.jobState ? ` (${escapeMd(j.jobState)})` : ''}\n`,
    );
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
