// A finding is a problem with a key path; this module turns schema problems into findings and findings
// into LSP diagnostics with exact ranges (the key node for unknown keys, the value node for bad values).
import { Diagnostic, DiagnosticSeverity } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { KeyPath } from '../core/experiment/validate';
import { closest } from '../core/util/suggest';
import type { ExperimentModel } from './model';
import { specAt } from './schemaLookup';
import { findPath, Span } from './yamlNodes';

export const SOURCE = 'taia';

export interface Finding {
  path: KeyPath;
  message: string;
  severity: 'error' | 'warning' | 'information';
  /** Which node of the path the finding is about (default: its value). */
  on?: 'key' | 'value';
  /** A "did you mean" replacement for the node's text: the quick fix offers it. */
  replacement?: string;
  /** Explicit character span (YAML syntax errors). */
  span?: Span;
}

/** What a diagnostic carries for its quick fix. */
export interface FixData {
  replacement: string;
}

/** The schema's problems as findings; when the YAML itself is broken only its syntax errors are, since the rest would be guesses. */
export function schemaFindings(model: ExperimentModel): Finding[] {
  if (model.fatal || !model.parsed) return [{ path: [], message: model.fatal ?? 'cannot be read', severity: 'error' }];
  const problems = model.parsed.problems;
  const syntax = problems.filter((p) => p.range);
  if (syntax.length) return syntax.map((p) => ({ path: [], message: p.message, severity: p.severity, span: p.range }));
  return problems.map((p): Finding => {
    const spec = specAt(p.path, model.kind.fields);
    if (!spec && p.path.length) return { ...p, on: 'key', replacement: p.suggestion };
    const value = model.yaml?.getIn(p.path);
    const replacement = spec?.type === 'enum' && typeof value === 'string' ? closest(value, spec.values) : undefined;
    return { ...p, on: 'value', replacement };
  });
}

const SEVERITY = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
};

/** A finding placed on its node; a missing key is reported on its closest existing ancestor's key, or the first line. */
export function toDiagnostic(finding: Finding, model: ExperimentModel, doc: TextDocument): Diagnostic {
  const span = finding.span ?? placement(finding, model);
  const diagnostic = Diagnostic.create(
    { start: doc.positionAt(span[0]), end: doc.positionAt(span[1]) },
    finding.message,
    SEVERITY[finding.severity],
    undefined,
    SOURCE,
  );
  if (finding.replacement !== undefined) diagnostic.data = { replacement: finding.replacement } satisfies FixData;
  return diagnostic;
}

function placement(finding: Finding, model: ExperimentModel): Span {
  const firstLine: Span = [0, Math.max(0, model.text.search(/\r?\n|$/))];
  if (!model.yaml || finding.path.length === 0) return firstLine;
  const found = findPath(model.yaml.contents, finding.path);
  if (found.depth < finding.path.length) return found.depth > 0 && found.key ? found.key : firstLine;
  // An empty value (`base:`) has a zero-length span: the key is the better place then.
  const value = found.value && found.value[1] > found.value[0] ? found.value : undefined;
  return (finding.on === 'key' ? (found.key ?? value) : (value ?? found.key)) ?? firstLine;
}
