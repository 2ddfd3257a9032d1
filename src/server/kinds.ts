// The two kinds of file the language server checks, by file name: experiment files (*.taia.yaml) and
// study files (*.taia-study.yaml). Each brings its schema (for diagnostics, completion and hover through
// the same lookup), its parser, its file-system checks and its code lenses.
import type { CodeLens } from 'vscode-languageserver';
import type { ExperimentConfig } from '../core/experiment/schema';
import { ExperimentProblem, parseExperiment } from '../core/experiment/validate';
import { parseStudy } from '../core/study/parse';
import { STUDY_SCHEMA, STUDY_SUFFIX, StudyConfig, VARIANT_FIELDS } from '../core/study/schema';
import { CheckOptions, fileFindings } from './checks';
import { codeLenses } from './codeLens';
import type { Finding } from './findings';
import { ROOT_FIELDS, Spec } from './schemaLookup';
import { studyFindings } from './studyChecks';
import { fsPathOf } from './uri';
import { COMMANDS } from '../extension/commands';

export interface DocumentKind {
  name: string;
  /** The top-level fields; list entries of mappings are looked up as sections (indices are skipped). */
  fields: Record<string, Spec>;
  parse(text: string, file: string): { config: unknown; problems: ExperimentProblem[] };
  fileFindings(file: string, config: unknown, opts: CheckOptions): Promise<Finding[]>;
  lenses(uri: string): CodeLens[];
}

export const EXPERIMENT_KIND: DocumentKind = {
  name: 'experiment',
  fields: ROOT_FIELDS,
  parse: parseExperiment,
  fileFindings: (file, config, opts) => fileFindings(file, config as ExperimentConfig, opts),
  lenses: codeLenses,
};

export const STUDY_KIND: DocumentKind = {
  name: 'study',
  fields: {
    ...(STUDY_SCHEMA as unknown as Record<string, Spec>),
    variants: { type: 'section', doc: STUDY_SCHEMA.variants.doc, fields: VARIANT_FIELDS },
  },
  parse: parseStudy,
  fileFindings: (file, config) => studyFindings(file, config as StudyConfig),
  lenses: (uri) => [
    {
      range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
      command: { title: 'Run study', command: COMMANDS.runStudy, arguments: [{ file: fsPathOf(uri) }] },
    },
  ],
};

export const kindOf = (file: string): DocumentKind => (file.endsWith(STUDY_SUFFIX) ? STUDY_KIND : EXPERIMENT_KIND);
