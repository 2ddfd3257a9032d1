import * as path from 'node:path';
import { parseDocument } from 'yaml';
import { closest } from '../util/suggest';
import { CommandField, EXPERIMENT_SCHEMA, ExperimentConfig, Field, PathField, Section } from './schema';

/** Where a problem is: the key path in the document (the language server maps it to a range). */
export type KeyPath = (string | number)[];

export interface ExperimentProblem {
  path: KeyPath;
  message: string;
  severity: 'error' | 'warning';
  /** A replacement key for "did you mean" fixes. */
  suggestion?: string;
  /** For YAML syntax errors: the character offsets. */
  range?: [number, number];
}

export interface ParsedExperiment {
  /** Every field filled in: the document's values where valid, the schema's defaults elsewhere. */
  config: ExperimentConfig;
  problems: ExperimentProblem[];
}

/** Values for keys a file leaves out (e.g. `slurm.partition` from the editor's settings), by dotted key path. */
export type ExperimentDefaults = Record<string, unknown>;

/** Parses and validates an experiment file's text. Never throws: every fault is a problem with a place. */
export function parseExperiment(text: string, file: string, defaults: ExperimentDefaults = {}): ParsedExperiment {
  const problems: ExperimentProblem[] = [];
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  for (const e of doc.errors)
    problems.push({ path: [], message: e.message, severity: 'error', range: [e.pos[0], e.pos[1]] });
  const root = doc.errors.length ? {} : toValue(doc, problems);
  const engine = isRecord(root) && typeof root.engine === 'string' ? root.engine : EXPERIMENT_SCHEMA.engine.default;
  const config = readSection(
    isRecord(root) ? root : {},
    EXPERIMENT_SCHEMA as unknown as Record<string, Field | Section>,
    [],
    problems,
    { defaults, engine },
  ) as ExperimentConfig;
  if (!isRecord(root) && doc.errors.length === 0)
    problems.push({ path: [], message: 'an experiment file is a YAML mapping of keys to values', severity: 'error' });
  if (!config.name) config.name = path.basename(file).replace(/\.taia\.ya?ml$|\.ya?ml$/, '');
  if (config.train.method === 'lora' && config.lora.target_modules.length === 0)
    problems.push({
      path: ['lora', 'target_modules'],
      message: 'LoRA needs at least one target module',
      severity: 'error',
    });
  return { config, problems };
}

/** The document as plain data; an alias bomb (the yaml library's ReferenceError) becomes a problem. */
function toValue(doc: ReturnType<typeof parseDocument>, problems: ExperimentProblem[]): unknown {
  try {
    return doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (e) {
    problems.push({ path: [], message: `the document cannot be read: ${(e as Error).message}`, severity: 'error' });
    return {};
  }
}

/** Paths of the experiment resolved against the folder of its file. */
export function resolveExperimentPath(file: string, value: string): string {
  return path.resolve(path.dirname(file), value);
}

/** What a section is read against: defaults from settings, and the engine (some keys are required only with one). */
export interface SectionContext {
  defaults?: ExperimentDefaults;
  engine?: string;
}

export function readSection(
  obj: Record<string, unknown>,
  fields: Record<string, Field | Section>,
  at: KeyPath,
  problems: ExperimentProblem[],
  context: SectionContext = {},
): Record<string, unknown> {
  const { defaults = {}, engine = EXPERIMENT_SCHEMA.engine.default } = context;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(obj)) {
    if (key in fields) continue;
    const suggestion = closest(key, Object.keys(fields));
    problems.push({
      path: [...at, key],
      message: `unknown key '${key}'${suggestion ? `; did you mean '${suggestion}'?` : ''}`,
      severity: 'error',
      suggestion,
    });
  }
  for (const [key, spec] of Object.entries(fields)) {
    const value = obj[key];
    const where = [...at, key];
    if (spec.type === 'section') {
      if (value !== undefined && value !== null && !isRecord(value))
        problems.push({ path: where, message: `'${key}' must be a mapping of settings`, severity: 'error' });
      out[key] = readSection(isRecord(value) ? value : {}, spec.fields, where, problems, context);
      continue;
    }
    const given = defaults[where.join('.')];
    if ((value === undefined || value === null) && given !== undefined) {
      // A default from settings is checked like a value in the file, and reported at the file's top.
      const wrong = checkValue(spec, given);
      if (wrong) problems.push({ path: [], message: `setting for '${where.join('.')}': ${wrong}`, severity: 'error' });
      out[key] = wrong ? defaultOf(spec) : given;
      continue;
    }
    const problem = value === undefined || value === null ? missing(spec, engine) : checkValue(spec, value);
    if (problem) problems.push({ path: where, message: `'${key}': ${problem}`, severity: 'error' });
    out[key] = value !== undefined && value !== null && !problem ? value : defaultOf(spec);
  }
  return out;
}

/** Whether a field must be given for this engine. */
export function isRequired(spec: Field, engine: string): boolean {
  const required =
    spec.type === 'path' || spec.type === 'command' ? (spec as PathField | CommandField).required : undefined;
  return required === true || (required !== undefined && required.engines.includes(engine));
}

function missing(spec: Field, engine: string): string | undefined {
  if (!isRequired(spec, engine)) return undefined;
  return (spec as PathField).required === true ? 'is required' : `is required with engine ${engine}`;
}

function defaultOf(spec: Field): unknown {
  if (spec.type === 'path') return '';
  if (spec.type === 'command') return [];
  if (spec.type === 'env') return {};
  if (spec.type === 'string[]') return [...spec.default];
  return spec.type === 'string' ? (spec.default ?? '') : spec.default;
}

/** What is wrong with a value for a field, or undefined when it fits. */
export function checkValue(spec: Field, value: unknown): string | undefined {
  switch (spec.type) {
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value))
        return `expected ${spec.type === 'integer' ? 'an integer' : 'a number'}, got ${describe(value)}`;
      if (spec.type === 'integer' && !Number.isInteger(value)) return `expected an integer, got ${value}`;
      const exclusive = spec.type === 'number' && spec.exclusiveMin;
      if (spec.min !== undefined && (exclusive ? value <= spec.min : value < spec.min))
        return `must be ${exclusive ? 'greater than' : 'at least'} ${spec.min}, got ${value}`;
      if (spec.max !== undefined && value > spec.max) return `must be at most ${spec.max}, got ${value}`;
      return undefined;
    }
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `expected true or false, got ${describe(value)}`;
    case 'enum': {
      if (typeof value === 'string' && spec.values.includes(value)) return undefined;
      const suggestion = typeof value === 'string' ? closest(value, spec.values) : undefined;
      return `expected one of ${spec.values.join(', ')}, got ${describe(value)}${suggestion ? `; did you mean '${suggestion}'?` : ''}`;
    }
    case 'string':
      return typeof value === 'string' ? undefined : `expected a string, got ${describe(value)}`;
    case 'path':
      return typeof value === 'string' && value.trim() !== '' ? undefined : `expected a path, got ${describe(value)}`;
    case 'string[]':
      return Array.isArray(value) && value.every((v) => typeof v === 'string')
        ? undefined
        : `expected a list of strings, got ${describe(value)}`;
    case 'command':
      if (typeof value === 'string') return value.trim() ? undefined : 'expected a command, got an empty string';
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' || typeof v === 'number'))
        return `expected a list of arguments or one shell string, got ${describe(value)}`;
      return value.length && String(value[0]).trim() ? undefined : 'expected a program to run, got an empty list';
    case 'env': {
      if (!isRecord(value)) return `expected a mapping of variable names to values, got ${describe(value)}`;
      const bad = Object.entries(value).find(
        ([k, v]) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || !['string', 'number', 'boolean'].includes(typeof v),
      );
      return bad
        ? `'${bad[0]}' ${/^[A-Za-z_][A-Za-z0-9_]*$/.test(bad[0]) ? `must be a string, number or boolean, got ${describe(bad[1])}` : 'is not a variable name'}`
        : undefined;
    }
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (isRecord(value)) return 'a mapping';
  return JSON.stringify(value);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
