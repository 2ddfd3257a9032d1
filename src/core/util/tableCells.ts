// Cells of tables exported as Markdown or CSV. Values come from workspace files, so they are escaped.
// No Node imports: webview bundles use these too.

/** A pipe or a line break must not break a Markdown table. */
export const mdCell = (s: string): string => s.replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ');

/**
 * Quoted where needed; text a spreadsheet would run as a formula (=, +, -, @) gets a leading
 * apostrophe, since a value from a shared workspace should not run when the file is opened.
 */
export function csvCell(s: string): string {
  const safe = /^[=+\-@\t\r]/.test(s) && !Number.isFinite(Number(s)) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
