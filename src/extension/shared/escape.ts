import { randomBytes } from 'node:crypto';

/** Escapes text for HTML element content and quoted attribute values: every workspace string goes through it. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function nonce(): string {
  return randomBytes(16).toString('base64');
}
