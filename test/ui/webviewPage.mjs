// What the webview page tests share: the pages served on loopback under the webviews' CSP with a dark
// theme's VS Code variables, headless Chromium, and a stand-in for VS Code's webview API that records
// what the page posts and keeps its state.
import { createServer } from 'node:http';
import { existsSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from '../../scripts/vscode-host/host.mjs';

export const NONCE = 'fixturenonce';
export const POLICY = `default-src 'none'; style-src 'self' 'nonce-${NONCE}'; script-src 'nonce-${NONCE}'; img-src 'self' data:`;
/** The variables VS Code injects into webviews, from Dark+ and Light+ (their colour-theme values). */
export const THEMES = {
  dark: '--vscode-editor-foreground:#d4d4d4;--vscode-dropdown-background:#3c3c3c;--vscode-dropdown-foreground:#f0f0f0;--vscode-dropdown-border:#3c3c3c;--vscode-editor-background:#1e1e1e;--vscode-foreground:#cccccc;--vscode-errorForeground:#f48771;--vscode-focusBorder:#007fd4;--vscode-button-background:#0e639c;--vscode-button-foreground:#fff;--vscode-descriptionForeground:#9d9d9d;--vscode-charts-blue:#3794ff;--vscode-charts-red:#f14c4c;--vscode-charts-green:#89d185;--vscode-charts-yellow:#cca700;--vscode-charts-orange:#d18616;--vscode-charts-purple:#b180d7;--vscode-editorWidget-border:#454545;--vscode-font-family:sans-serif;--vscode-font-size:13px',
  light:
    '--vscode-editor-foreground:#000000;--vscode-dropdown-background:#ffffff;--vscode-dropdown-foreground:#616161;--vscode-dropdown-border:#cecece;--vscode-editor-background:#ffffff;--vscode-foreground:#616161;--vscode-errorForeground:#a1260d;--vscode-focusBorder:#0090f1;--vscode-button-background:#007acc;--vscode-button-foreground:#fff;--vscode-descriptionForeground:#717171;--vscode-charts-blue:#1a85ff;--vscode-charts-red:#e51400;--vscode-charts-green:#388a34;--vscode-charts-yellow:#bf8803;--vscode-charts-orange:#d18616;--vscode-charts-purple:#652d90;--vscode-editorWidget-border:#c8c8c8;--vscode-font-family:sans-serif;--vscode-font-size:13px',
};

const MEDIA = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../media');

/**
 * Serves `pages` (url → HTML), `files` (url → [path, content type]) and the stylesheets of media/ at
 * `/<name>.css` (with what they @import, as the extension ships them), and opens Chromium on them
 * with the variables of `theme` ('dark' or 'light').
 * Returns the page, its base URL, helpers to post messages and read what the page posted, the page
 * errors seen, and `close`.
 */
export async function openWebviewPages({ pages, files, viewport = { width: 1200, height: 900 }, theme = 'dark' }) {
  const server = createServer((req, res) => {
    const css = /^\/([\w.-]+\.css)$/.exec(req.url ?? '');
    const f =
      files[req.url] ??
      (css && existsSync(path.join(MEDIA, css[1])) ? [path.join(MEDIA, css[1]), 'text/css'] : undefined);
    if (f) return res.writeHead(200, { 'content-type': f[1] }).end(readFileSync(f[0]));
    const page = pages[req.url];
    if (!page) return res.writeHead(404).end();
    // VS Code sets these on the webview's root element; a nonce'd style block does the same under the CSP.
    res
      .writeHead(200, { 'content-type': 'text/html' })
      .end(page.replace('</head>', `<style nonce="${NONCE}">:root{${THEMES[theme]}}</style></head>`));
  }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const profile = mkdtempSync(path.join(tmpdir(), 'taia-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
  const p = context.pages()[0] ?? (await context.newPage());
  await p.addInitScript(() => {
    window.__posted = [];
    let saved;
    window.acquireVsCodeApi = () => ({
      postMessage: (m) => window.__posted.push(m),
      getState: () => saved,
      setState: (s) => (saved = s),
    });
  });
  const errors = [];
  p.on('pageerror', (e) => errors.push(e.message));
  const post = (m) => p.evaluate((msg) => window.postMessage(msg, '*'), m);
  const renderedCount = () => p.evaluate(() => window.__posted.filter((m) => m.type === 'rendered').length);
  return {
    p,
    base: `http://127.0.0.1:${server.address().port}`,
    errors,
    post,
    posted: () => p.evaluate(() => window.__posted),
    /** Posts a message and waits until the page says it drew it. */
    async postInit(m) {
      const before = await renderedCount();
      await post(m);
      await p.waitForFunction((n) => window.__posted.filter((x) => x.type === 'rendered').length > n, before);
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
      server.close();
    },
  };
}
