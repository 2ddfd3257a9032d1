// The whole check of one experiment document: schema findings, then (when the YAML is sound) the
// file-system findings, as LSP diagnostics. The bench (bench/lsp.mjs) times exactly this.
import { Diagnostic } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { CheckOptions } from './checks';
import { schemaFindings, toDiagnostic } from './findings';
import type { ExperimentModel } from './model';

export async function diagnose(doc: TextDocument, model: ExperimentModel, opts: CheckOptions): Promise<Diagnostic[]> {
  const findings = schemaFindings(model);
  const sound = model.parsed && !findings.some((f) => f.span);
  if (sound) findings.push(...(await model.kind.fileFindings(model.file, model.parsed!.config, opts)));
  return findings.map((f) => toDiagnostic(f, model, doc));
}
