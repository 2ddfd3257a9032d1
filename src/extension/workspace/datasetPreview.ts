import * as path from 'node:path';
import * as vscode from 'vscode';
import { readDatasetRows } from '../../core/datasets/rows';
import { csp, escapeHtml, nonce } from '../shared/html';
import { DatasetEntry } from './workspaceIndex';

const PREVIEW_ROWS = 50;
const MAX_CELL = 2000;

/**
 * Shows the first rows of a dataset as a table of conversations (role and text per turn). The page is
 * static HTML with no script: every value from the file is escaped, and the CSP allows only the nonce'd style.
 */
export async function previewDataset(
  entry: DatasetEntry | vscode.Uri | undefined,
  extensionUri: vscode.Uri,
): Promise<vscode.WebviewPanel | undefined> {
  const file = entry instanceof vscode.Uri ? entry.fsPath : entry?.file;
  if (!file) {
    void vscode.window.showInformationMessage('Choose a dataset in the TAIA Lab Datasets view to preview it.');
    return undefined;
  }
  const panel = vscode.window.createWebviewPanel(
    'taiaLab.datasetPreview',
    `Preview: ${path.basename(file)}`,
    vscode.ViewColumn.Active,
    {
      enableScripts: false,
      localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'media')],
    },
  );
  let body: string;
  try {
    const rows = await readDatasetRows(file, { limit: PREVIEW_ROWS });
    body = rows.length === 0 ? '<p>The file has no rows.</p>' : table(rows.map((r) => r.messages));
  } catch (e) {
    body = `<p class="error">${escapeHtml((e as Error).message)}</p>`;
  }
  const n = nonce();
  panel.webview.html = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp(panel.webview, n)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="${n}">
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); background: var(--vscode-editor-background); padding: 0 1em; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid var(--vscode-panel-border, var(--vscode-contrastBorder, #8884)); padding: 4px 8px; vertical-align: top; text-align: left; }
th { background: var(--vscode-editorWidget-background); position: sticky; top: 0; }
td.role { white-space: nowrap; color: var(--vscode-descriptionForeground); }
td.text { white-space: pre-wrap; word-break: break-word; font-family: var(--vscode-editor-font-family); }
.error { color: var(--vscode-errorForeground); }
</style></head><body>
<h2>${escapeHtml(path.basename(file))}</h2><p>${escapeHtml(file)}</p>
${body}
</body></html>`;
  return panel;
}

function table(rows: { role: string; content: string }[][]): string {
  const cells = rows.flatMap((turns, i) =>
    (turns.length > 0 ? turns : [{ role: '', content: '(no turns)' }]).map((t, j, all) => {
      const text =
        t.content.length > MAX_CELL ? `${t.content.slice(0, MAX_CELL)}… (${t.content.length} characters)` : t.content;
      return `<tr>${j === 0 ? `<td rowspan="${all.length}">${i + 1}</td>` : ''}<td class="role">${escapeHtml(t.role)}</td><td class="text">${escapeHtml(text)}</td></tr>`;
    }),
  );
  return `<p>First ${rows.length} rows.</p><table><thead><tr><th>#</th><th>role</th><th>text</th></tr></thead><tbody>${cells.join('')}</tbody></table>`;
}
