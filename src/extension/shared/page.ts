import { escapeHtml } from './escape';

/**
 * The head every webview page shares: its CSP, stylesheet and nonce'd script. No vscode import, so the
 * headless-browser tests build the same pages from the compiled module.
 */
export function webviewPage(opts: {
  policy: string;
  nonce: string;
  script: string;
  style: string;
  title: string;
  body: string;
}): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(opts.policy)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="${escapeHtml(opts.style)}">
<title>${escapeHtml(opts.title)}</title></head><body>
${opts.body}
<script nonce="${opts.nonce}" src="${escapeHtml(opts.script)}"></script>
</body></html>`;
}
