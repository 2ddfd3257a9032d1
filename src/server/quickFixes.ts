// Quick fixes: a diagnostic that carries a "did you mean" replacement becomes a code action that
// replaces the diagnostic's range (the key or value node) with it.
import { CodeAction, CodeActionKind, CodeActionParams, Diagnostic } from 'vscode-languageserver';
import { FixData, SOURCE } from './findings';

function fixOf(d: Diagnostic): FixData | undefined {
  const data = d.data as Partial<FixData> | undefined;
  return d.source === SOURCE && typeof data?.replacement === 'string' ? { replacement: data.replacement } : undefined;
}

export function quickFixes(params: CodeActionParams): CodeAction[] {
  return params.context.diagnostics.flatMap((d) => {
    const fix = fixOf(d);
    if (!fix) return [];
    return [
      {
        title: `Change to '${fix.replacement}'`,
        kind: CodeActionKind.QuickFix,
        diagnostics: [d],
        isPreferred: true,
        edit: { changes: { [params.textDocument.uri]: [{ range: d.range, newText: fix.replacement }] } },
      },
    ];
  });
}
