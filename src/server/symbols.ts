// Document symbols: sections with their keys, and top-level keys, as the outline and breadcrumbs show them.
import { isMap, isScalar } from 'yaml';
import { DocumentSymbol, SymbolKind } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { ExperimentModel } from './model';
import { spanOf } from './yamlNodes';

export function documentSymbols(doc: TextDocument, model: ExperimentModel): DocumentSymbol[] {
  const range = (s: [number, number]) => ({ start: doc.positionAt(s[0]), end: doc.positionAt(s[1]) });
  // A block mapping's span runs through its last line break: a symbol ends at its last character.
  const trimmedEnd = (end: number): number => {
    while (end > 0 && /\s/.test(model.text[end - 1])) end--;
    return end;
  };
  const symbolsOf = (node: unknown): DocumentSymbol[] => {
    if (!isMap(node)) return [];
    return node.items.flatMap((pair) => {
      const keySpan = spanOf(pair.key);
      if (!isScalar(pair.key) || !keySpan) return [];
      const valueSpan = spanOf(pair.value);
      const children = symbolsOf(pair.value);
      const detail = isScalar(pair.value) ? String(pair.value.value ?? '') : undefined;
      return [
        {
          name: String(pair.key.value),
          detail,
          kind: isMap(pair.value) ? SymbolKind.Namespace : SymbolKind.Property,
          range: range([keySpan[0], Math.max(keySpan[1], trimmedEnd(valueSpan?.[1] ?? keySpan[1]))]),
          selectionRange: range(keySpan),
          children,
        },
      ];
    });
  };
  return symbolsOf(model.yaml?.contents);
}
