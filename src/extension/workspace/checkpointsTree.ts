import * as path from 'node:path';
import * as vscode from 'vscode';
import { CheckpointSummary } from '../../core/checkpoint/discover';
import { formatBytes } from '../../core/util/size';
import { formatParameters } from '../../core/util/format';
import { CheckpointEntry, WorkspaceIndex } from './workspaceIndex';

type Group = 'models' | 'finetuned' | 'adapters' | 'merged' | 'unreadable';

const GROUPS: { id: Group; label: string; icon: string }[] = [
  { id: 'models', label: 'Models', icon: 'symbol-class' },
  { id: 'finetuned', label: 'Fine-tuned (runs)', icon: 'beaker' },
  { id: 'adapters', label: 'LoRA adapters', icon: 'extensions' },
  { id: 'merged', label: 'Merged outputs', icon: 'git-merge' },
  { id: 'unreadable', label: 'Unreadable', icon: 'warning' },
];

export type CheckpointNode =
  { type: 'group'; group: Group; entries: CheckpointEntry[] } | { type: 'checkpoint'; entry: CheckpointEntry };

function groupOf(e: CheckpointEntry): Group {
  if (!e.summary) return 'unreadable';
  if (e.summary.kind === 'adapter') return 'adapters';
  if (e.summary.kind === 'merged') return 'merged';
  // The project's runs, and the checkpoint-<step> folders other trainers (HF Trainer, LLaMA-Factory, axolotl) write.
  return e.dir.split(path.sep).includes('.taia') || /^checkpoint-\d+$/.test(path.basename(e.dir))
    ? 'finetuned'
    : 'models';
}

/** One line a researcher scans: architecture, size, dtype, bytes; adapters: rank, alpha, targets. */
export function describeCheckpoint(s: CheckpointSummary): string {
  if (s.adapter)
    return `LoRA r=${s.adapter.r} α=${s.adapter.alpha}${s.adapter.rsLoRA ? ' rs' : ''} · ${s.adapter.loraModules.join(', ')} · ${formatBytes(s.sizeBytes)}`;
  const dtype = Object.entries(s.dtypes).sort((a, b) => b[1]! - a[1]!)[0]?.[0] ?? '';
  const merge = s.merge ? `${s.merge.recipe}${s.merge.scale !== 1 ? `×${s.merge.scale}` : ''} · ` : '';
  return `${merge}${s.architecture ?? 'unknown architecture'} · ${formatParameters(s.parameters)} · ${dtype} · ${formatBytes(s.sizeBytes)}`;
}

function tooltip(e: CheckpointEntry): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.isTrusted = false;
  md.supportHtml = false;
  md.appendMarkdown(`**`)
    .appendText(path.basename(e.dir))
    .appendMarkdown(`**\n\n`)
    .appendText(e.dir)
    .appendMarkdown('\n\n');
  const s = e.summary;
  if (!s) return md.appendText(`Cannot be read: ${e.error}`);
  const rows: [string, string][] = [
    ['Kind', s.kind],
    ['Architecture', `${s.architecture ?? '?'}${s.modelType ? ` (${s.modelType})` : ''}`],
    ['Parameters', s.parameters.toLocaleString('en-US')],
    [
      'Dtypes',
      Object.entries(s.dtypes)
        .map(([d, n]) => `${d} ${formatParameters(n!)}`)
        .join(', '),
    ],
    ['Size', `${formatBytes(s.sizeBytes)} in ${s.files.length} file(s)${s.sharded ? ', sharded' : ''}`],
  ];
  if (s.layers !== undefined) rows.push(['Layers', String(s.layers)]);
  if (s.adapter) {
    rows.push(['r / alpha', `${s.adapter.r} / ${s.adapter.alpha}${s.adapter.rsLoRA ? ' (rsLoRA)' : ''}`]);
    rows.push([
      'Targets',
      Array.isArray(s.adapter.targetModules) ? s.adapter.targetModules.join(', ') : s.adapter.targetModules,
    ]);
    if (s.adapter.baseModel) rows.push(['Base model', s.adapter.baseModel]);
  }
  if (s.merge) {
    rows.push(['Recipe', `${s.merge.recipe}${s.merge.scale !== 1 ? ` (scale ${s.merge.scale})` : ''}`]);
    for (const i of s.merge.inputs) rows.push([i.role, i.path]);
  }
  if (s.unknownTensors.length) rows.push(['Unknown tensors', String(s.unknownTensors.length)]);
  for (const [k, v] of rows) md.appendMarkdown(`- ${k}: `).appendText(v).appendMarkdown('\n');
  return md;
}

export class CheckpointsTree implements vscode.TreeDataProvider<CheckpointNode> {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.emitter.event;

  constructor(private readonly index: WorkspaceIndex) {
    index.onDidChange(() => this.emitter.fire());
  }

  getChildren(node?: CheckpointNode): CheckpointNode[] {
    if (node?.type === 'group') return node.entries.map((entry) => ({ type: 'checkpoint', entry }));
    if (node) return [];
    const all = this.index.checkpointList;
    return GROUPS.map((g) => ({
      type: 'group' as const,
      group: g.id,
      entries: all.filter((e) => groupOf(e) === g.id),
    })).filter((g) => g.entries.length > 0);
  }

  getTreeItem(node: CheckpointNode): vscode.TreeItem {
    if (node.type === 'group') {
      const g = GROUPS.find((x) => x.id === node.group)!;
      const item = new vscode.TreeItem(g.label, vscode.TreeItemCollapsibleState.Expanded);
      item.id = `group:${g.id}`;
      item.description = String(node.entries.length);
      item.iconPath = new vscode.ThemeIcon(g.icon);
      item.contextValue = 'checkpointGroup';
      return item;
    }
    const e = node.entry;
    const item = new vscode.TreeItem(path.basename(e.dir), vscode.TreeItemCollapsibleState.None);
    item.id = `checkpoint:${e.dir}`;
    item.resourceUri = vscode.Uri.file(e.dir);
    item.description = e.summary ? describeCheckpoint(e.summary) : e.error;
    item.tooltip = tooltip(e);
    item.iconPath = new vscode.ThemeIcon(
      e.summary ? { adapter: 'extensions', merged: 'git-merge', model: 'database' }[e.summary.kind] : 'warning',
    );
    item.contextValue = `checkpoint.${e.summary?.kind ?? 'unreadable'}`;
    return item;
  }
}
