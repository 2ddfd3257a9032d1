// Reads a study file's text: the scalar keys through the experiment validator's readSection (same
// messages, same "did you mean"), the variant entries here. Never throws: every fault is a problem with
// a key path, which the CLI turns into file:line:column and the language server into a range.
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import type { Field, Section } from '../experiment/schema';
import { checkValue, ExperimentDefaults, ExperimentProblem, readSection } from '../experiment/validate';
import { parseLayerRange } from '../merge/recipes';
import { closest } from '../util/suggest';
import { ScanKind, STUDY_SCHEMA, StudyConfig, VARIANT_FIELDS, VariantEntry } from './schema';

export interface ParsedStudy {
  config: StudyConfig;
  problems: ExperimentProblem[];
}

const { variants: _variants, ...SCALAR_FIELDS } = STUDY_SCHEMA as unknown as Record<string, Field | Section>;

export function parseStudy(text: string, file: string, defaults: ExperimentDefaults = {}): ParsedStudy {
  const problems: ExperimentProblem[] = [];
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  for (const e of doc.errors)
    problems.push({ path: [], message: e.message, severity: 'error', range: [e.pos[0], e.pos[1]] });
  const js: unknown = doc.errors.length ? {} : (doc.toJS() ?? {});
  const root = isRecord(js) ? js : {};
  if (!isRecord(js) && doc.errors.length === 0)
    problems.push({ path: [], message: 'a study file is a YAML mapping of keys to values', severity: 'error' });
  const { variants, ...rest } = root;
  const config = readSection(rest, SCALAR_FIELDS, [], problems, { defaults }) as unknown as StudyConfig;
  config.name ||= path.basename(file).replace(/\.taia-study\.ya?ml$|\.ya?ml$/, '');
  config.variants = readVariants(variants, problems);
  if (doc.errors.length === 0 && config.variants.length === 0 && !problems.some((p) => p.path[0] === 'variants'))
    problems.push({
      path: ['variants'],
      message: "'variants': list at least one recipe (e.g. [base, full, taia, taif])",
      severity: 'error',
    });
  if (
    doc.errors.length === 0 &&
    !config.eval.command &&
    config.eval.tasks.length === 0 &&
    !problems.some((p) => p.path[0] === 'eval')
  )
    problems.push({
      path: ['eval'],
      message: "'eval': give task files (eval.tasks) or an evaluation command (eval.command)",
      severity: 'error',
    });
  if (config.launcher === 'slurm' && config.eval.command)
    problems.push({
      path: ['launcher'],
      message:
        "'launcher: slurm' evaluates with the built-in evaluator (eval.tasks); an evaluation command runs where taia study runs",
      severity: 'error',
    });
  return { config, problems };
}

function readVariants(value: unknown, problems: ExperimentProblem[]): VariantEntry[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    problems.push({ path: ['variants'], message: "'variants' must be a list", severity: 'error' });
    return [];
  }
  const out: VariantEntry[] = [];
  value.forEach((raw, i) => {
    const at = ['variants', i];
    const fail = (key: string | undefined, message: string, suggestion?: string) =>
      problems.push({ path: key ? [...at, key] : at, message, severity: 'error', suggestion });
    if (typeof raw === 'string') return void out.push({ index: i, recipe: raw });
    if (!isRecord(raw))
      return fail(undefined, `variant ${i + 1}: a recipe name or a mapping with recipe, layers, scale, name or scan`);
    const entry: VariantEntry = { index: i };
    let ok = true;
    for (const key of Object.keys(raw)) {
      if (key in VARIANT_FIELDS) continue;
      const suggestion = closest(key, Object.keys(VARIANT_FIELDS));
      fail(key, `unknown key '${key}'${suggestion ? `; did you mean '${suggestion}'?` : ''}`, suggestion);
      ok = false;
    }
    const check = (key: string, problem: string | undefined) => {
      if (problem) {
        fail(key, `'${key}': ${problem}`);
        ok = false;
      }
      return !problem;
    };
    if (raw.recipe !== undefined && check('recipe', checkValue(VARIANT_FIELDS.recipe, raw.recipe)))
      entry.recipe = raw.recipe as string;
    if (
      raw.name !== undefined &&
      check(
        'name',
        checkValue(VARIANT_FIELDS.name, raw.name) ??
          (/^[\w.+=@-]+$/.test(String(raw.name)) ? undefined : 'letters, digits and . + = @ - _ only (it names files)'),
      )
    )
      entry.name = raw.name as string;
    if (raw.scan !== undefined && check('scan', checkValue(VARIANT_FIELDS.scan, raw.scan)))
      entry.scan = raw.scan as ScanKind;
    if (raw.layers !== undefined) {
      const items = Array.isArray(raw.layers) ? raw.layers : [raw.layers];
      const ranges: [number, number][] = [];
      for (const item of items) {
        try {
          if (typeof item !== 'string' && typeof item !== 'number')
            throw new Error(`expected a layer range A-B, got ${JSON.stringify(item)}`);
          ranges.push(parseLayerRange(String(item)));
        } catch (e) {
          check('layers', (e as Error).message);
        }
      }
      if (ranges.length === items.length && check('layers', items.length ? undefined : 'an empty list'))
        entry.layers = ranges;
    }
    if (raw.scale !== undefined) {
      const items = Array.isArray(raw.scale) ? raw.scale : [raw.scale];
      const bad = items.find((s) => typeof s !== 'number' || !Number.isFinite(s));
      if (
        check(
          'scale',
          items.length === 0
            ? 'an empty list'
            : bad !== undefined
              ? `expected a number or a list of numbers, got ${JSON.stringify(bad)}`
              : undefined,
        )
      )
        entry.scale = items as number[];
    }
    if (entry.scan && (raw.recipe !== undefined || raw.layers !== undefined || raw.scale !== undefined))
      check('scan', `a scan is its own set of variants: give recipe, layers and scale in another entry`);
    if (!entry.scan && raw.recipe === undefined) check('recipe', 'give a recipe (or a scan)');
    const grid = (entry.layers?.length ?? 1) * (entry.scale?.length ?? 1) > 1 || entry.scan !== undefined;
    if (entry.name && grid) check('name', 'a grid or a scan names its variants itself');
    if (ok) out.push(entry);
  });
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
