import * as vscode from 'vscode';

export { escapeHtml, nonce } from './escape';

/**
 * A strict Content-Security-Policy: nothing by default; styles and scripts only with this load's nonce
 * (or from the extension's own files); images from the webview's resource roots and data: URIs.
 */
export function csp(webview: vscode.Webview, n: string): string {
  return [
    "default-src 'none'",
    `style-src ${webview.cspSource} 'nonce-${n}'`,
    `script-src 'nonce-${n}'`,
    `img-src ${webview.cspSource} data:`,
    `font-src ${webview.cspSource}`,
  ].join('; ');
}
