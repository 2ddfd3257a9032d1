import * as vscode from 'vscode';
import { readMetrics, readRunConfig, reconcileStatus } from '../core/runs/store';
import type { RunData } from '../webview/compareRuns/protocol';
import { csp, nonce } from './html';

// What the run dashboard and the run comparison panels share on the host side.

/** Loads a page into a panel: scripts on, resources only from the bundles and media, a fresh nonce. `css` names its stylesheet in media/. */
export function loadPage(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, bundle: string, page: (policy: string, nonce: string, script: string, style: string) => string, css = 'runs.css'): void {
  const webview = panel.webview;
  webview.options = { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media')] };
  const n = nonce();
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', `${bundle}.js`));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', css));
  webview.html = page(csp(webview, n), n, String(script), String(style));
}

/** The panel already open for `key`, brought forward, or a new one from `create` (which registers itself in `open`). */
export function revealOrCreate<T extends { panel: vscode.WebviewPanel }>(open: ReadonlyMap<string, T>, key: string, create: () => T): T {
  const existing = open.get(key);
  if (!existing) return create();
  existing.panel.reveal();
  return existing;
}

/** A promise with its resolve function, for the ready / rendered signals tests wait on. */
export function signal<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A run as the comparison shows it. The status is reconciled, so a run whose trainer died reads interrupted. */
export async function readRun(dir: string): Promise<RunData> {
  const [status, config, metrics] = await Promise.all([reconcileStatus(dir), readRunConfig(dir).catch(() => undefined), readMetrics(dir)]);
  return { dir, status, config, metrics };
}
