import * as vscode from 'vscode';
import { RunData, readRunData } from '../../core/runs/view';
import { csp, nonce } from './html';

// What the run dashboard and the run comparison panels share on the host side.

/** Loads a page into a panel: scripts on, resources only from the bundles and media, a fresh nonce. `css` names its stylesheet in media/. */
export function loadPage(
  panel: vscode.WebviewPanel,
  extensionUri: vscode.Uri,
  bundle: string,
  page: (policy: string, nonce: string, script: string, style: string) => string,
  css = 'runs.css',
): void {
  const webview = panel.webview;
  webview.options = {
    enableScripts: true,
    localResourceRoots: [
      vscode.Uri.joinPath(extensionUri, 'dist', 'webview'),
      vscode.Uri.joinPath(extensionUri, 'media'),
    ],
  };
  const n = nonce();
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', `${bundle}.js`));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', css));
  webview.html = page(csp(webview, n), n, String(script), String(style));
}

/** The panel already open for `key`, brought forward, or a new one from `create` (which registers itself in `open`). */
export function revealOrCreate<T extends { panel: vscode.WebviewPanel }>(
  open: ReadonlyMap<string, T>,
  key: string,
  create: () => T,
): T {
  const existing = open.get(key);
  if (!existing) return create();
  existing.panel.reveal();
  return existing;
}

/**
 * What every panel host keeps: its entry in the registry of open panels (`revealOrCreate` finds it
 * there), the page's ready and rendered signals that tests wait on, and a `post` that stops once the
 * panel is closed.
 */
export abstract class PanelHost<ToPage> {
  protected disposed = false;
  protected readonly readySignal = signal<void>();
  protected readonly renderedSignal = signal<number>();
  /** Resolves when the page has loaded its script. */
  readonly ready = this.readySignal.promise;
  /** Resolves with what the page drew (rows, runs, records), once it has drawn for the first time. */
  readonly rendered = this.renderedSignal.promise;

  constructor(
    readonly panel: vscode.WebviewPanel,
    registry: Map<string, PanelHost<ToPage>>,
    key: string,
  ) {
    registry.set(key, this);
    panel.onDidDispose(() => {
      this.disposed = true;
      if (registry.get(key) === this) registry.delete(key);
    });
  }

  protected post(m: ToPage): void {
    // A read that was under way when the panel closed has no page to go to.
    if (!this.disposed) void this.panel.webview.postMessage(m);
  }
}

/** A promise with its resolve function, for the ready / rendered signals tests wait on. */
function signal<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A run as the comparison shows it, own or external; the id of an external run is its path in the workspace folder. */
export function readRun(dir: string): Promise<RunData> {
  return readRunData(dir, vscode.workspace.getWorkspaceFolder(vscode.Uri.file(dir))?.uri.fsPath);
}
