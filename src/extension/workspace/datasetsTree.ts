import * as path from 'node:path';
import * as vscode from 'vscode';
import { DatasetEntry, WorkspaceIndex } from './workspaceIndex';
import { COMMANDS } from '../commands';

const FORMAT_LABEL: Record<string, string> = {
  alpaca: 'Alpaca',
  sharegpt: 'ShareGPT',
  messages: 'chat messages',
  text: 'plain text',
  'prompt-completion': 'prompt/completion',
};

export class DatasetsTree implements vscode.TreeDataProvider<DatasetEntry> {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.emitter.event;

  constructor(private readonly index: WorkspaceIndex) {
    index.onDidChange(() => this.emitter.fire());
  }

  getChildren(entry?: DatasetEntry): DatasetEntry[] {
    return entry ? [] : this.index.datasetList;
  }

  getTreeItem(e: DatasetEntry): vscode.TreeItem {
    const item = new vscode.TreeItem(path.basename(e.file), vscode.TreeItemCollapsibleState.None);
    item.id = `dataset:${e.file}`;
    item.resourceUri = vscode.Uri.file(e.file);
    const s = e.summary;
    const problems = s?.problems.length ? ` · ${s.problems.length} problem${s.problems.length === 1 ? '' : 's'}` : '';
    item.description = s
      ? `${FORMAT_LABEL[s.format] ?? s.format} · ${s.rows.toLocaleString('en-US')} rows · ${s.container}${problems}`
      : e.error;
    const md = new vscode.MarkdownString();
    md.appendText(e.file);
    if (s?.columns?.length) md.appendMarkdown('\n\nColumns: ').appendText(s.columns.join(', '));
    for (const p of s?.problems.slice(0, 5) ?? [])
      md.appendMarkdown('\n\n⚠ ').appendText(`${p.line !== undefined ? `line ${p.line}: ` : ''}${p.message}`);
    if (e.error) md.appendMarkdown('\n\n⚠ ').appendText(e.error);
    item.tooltip = md;
    item.iconPath = new vscode.ThemeIcon(s?.problems.length || e.error ? 'warning' : 'table');
    item.contextValue = 'dataset';
    item.command = { command: COMMANDS.previewDataset, title: 'Preview', arguments: [e] };
    return item;
  }
}
