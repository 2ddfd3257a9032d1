import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

/** Escapes text for HTML element content and quoted attribute values: every workspace string goes through it. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function nonce(): string {
  return randomBytes(16).toString('base64');
}

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
