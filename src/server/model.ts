// One parse per document version, shared by diagnostics, completion, hover and symbols.
import { Document, parseDocument } from 'yaml';
import type { ExperimentProblem } from '../core/experiment/validate';
import { DocumentKind, kindOf } from './kinds';

/** Beyond this many characters a document is not parsed: an experiment file is a page, not a data dump. */
export const MAX_DOCUMENT_CHARS = 1_000_000;

export interface ExperimentModel {
  file: string;
  /** Experiment or study file, by its name: the schema, parser, checks and lenses that apply. */
  kind: DocumentKind;
  text: string;
  /** The YAML document, for node spans; partial when the text has syntax errors. Absent when too large. */
  yaml?: Document.Parsed;
  /** Schema validation; absent when the text is too large or could not be turned into values. */
  parsed?: { config: unknown; problems: ExperimentProblem[] };
  /** Why the document was not validated (too large, alias bomb, nesting too deep). */
  fatal?: string;
}

/** Parses an experiment file's text. Never throws: the yaml package refuses alias bombs by throwing, and deep nesting can overflow the stack. */
export function buildModel(text: string, file: string): ExperimentModel {
  const kind = kindOf(file);
  if (text.length > MAX_DOCUMENT_CHARS)
    return {
      file,
      kind,
      text,
      fatal: `too large to check (${text.length} characters; an experiment file is at most ${MAX_DOCUMENT_CHARS})`,
    };
  try {
    const yaml = parseDocument(text, { uniqueKeys: false, prettyErrors: false });
    return { file, kind, text, yaml, parsed: kind.parse(text, file) };
  } catch (e) {
    return { file, kind, text, fatal: `cannot be read as an ${kind.name} file: ${(e as Error).message}` };
  }
}

/** Models of open documents by URI, rebuilt only when the version changes. */
export class ModelCache {
  private readonly models = new Map<string, { version: number; model: ExperimentModel }>();

  get(uri: string, version: number, text: () => string, file: string): ExperimentModel {
    const hit = this.models.get(uri);
    if (hit?.version === version) return hit.model;
    const model = buildModel(text(), file);
    this.models.set(uri, { version, model });
    return model;
  }

  delete(uri: string): void {
    this.models.delete(uri);
  }
}
