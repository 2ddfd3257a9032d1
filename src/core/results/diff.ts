// Aligns the results of several models by task and metric and compares each with a baseline: the
// delta in the metric's good direction, and whether it is more than noise. Paired tests on the
// per-example records where both sides have them, else a z-test on the reported standard errors.
// The report is plain JSON: the CLI prints it and the webview receives it as is.
import { adjustPValues, Correction, mcnemar, pairedBootstrap, significanceMark, TestResult, zTest } from './stats';
import { MetricResult, ModelResults, ResultFormat, SampleValues } from './types';

export const BENCHMARK_DIFF_VERSION = 1;

export interface DiffModel {
  name: string;
  /** The file read (the first, when the model's results come from several runs: see `files`). */
  file: string;
  /** Every file of a model evaluated in several runs (lm-eval writes one results file per run). */
  files?: string[];
  format: ResultFormat;
  date?: string;
}

export interface DiffCell {
  value?: number;
  stderr?: number;
  n?: number;
  /** value − the baseline's value, in the row's unit (absent for the baseline and missing values). */
  delta?: number;
  /** The delta goes the metric's good way; undefined for no change, the baseline, or a missing value. */
  better?: boolean;
  test?: TestResult;
  /** The test's p-value corrected over all of this model's tests (when the report has a correction). */
  pAdjusted?: number;
  /** '*', '**', '***' by p-value (the corrected one when there is a correction), or ''. */
  mark: string;
}

/** 'percent' when the row is shown in percent (fractions were scaled), 'fraction', or 'raw' (no known scale). */
export type RowUnit = 'percent' | 'fraction' | 'raw';

export interface DiffRow {
  task: string;
  metric: string;
  higherIsBetter: boolean;
  unit: RowUnit;
  /** One per model, in the report's model order (baseline first). */
  cells: DiffCell[];
  /** Indices of the best value(s) when two or more models have one. */
  best: number[];
  /** Not every model has the same value (a missing value counts as different). */
  differs: boolean;
  /** Some model differs from the baseline at p < 0.05. */
  significant: boolean;
  /** A part of a group: left out of the average, as papers count the group. */
  subtask?: boolean;
  /** An average the tool took over other rows (OpenCompass naive_average): left out of the average, its rows count. */
  aggregate?: boolean;
}

export interface DiffAverage {
  /** The tasks averaged: each task's first metric, for tasks every model has (see `rule`). */
  tasks: string[];
  /** How the average was taken, in words, for every report and export that shows it. */
  rule: string;
  unit: RowUnit;
  cells: { value?: number; delta?: number; better?: boolean }[];
  best: number[];
}

export interface BenchmarkDiff {
  version: typeof BENCHMARK_DIFF_VERSION;
  baseline: string;
  /** Baseline first. Names are unique (a file name is added where two files name the same model). */
  models: DiffModel[];
  rows: DiffRow[];
  average?: DiffAverage;
  /** What a reader should know: scales converted, tasks left out of the average. */
  notes: string[];
  /** How each model's p-values were corrected for testing many rows (marks follow the corrected ones). */
  correction: Correction;
}

/** The baseline asked for is none of the models. */
export class BaselineError extends Error {
  override name = 'BaselineError';
}

const baseName = (file: string) =>
  file
    .replace(/[\\/]+$/, '')
    .split(/[\\/]/)
    .pop() ?? file;
const same = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined ? a === b : Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(a), Math.abs(b));

/** Column names: model names, with the file name where two entries share one. */
export function uniqueNames(results: ModelResults[]): string[] {
  const names = results.map((r) => r.model);
  const labels = results.map((r) =>
    names.indexOf(r.model) !== names.lastIndexOf(r.model) ? `${r.model} (${baseName(r.file)})` : r.model,
  );
  // Two columns of one OpenCompass file can still collide: number what is left.
  return labels.map((l, i) => (labels.indexOf(l) !== i ? `${l} #${i + 1}` : l));
}

function betterOf(delta: number | undefined, higherIsBetter: boolean): boolean | undefined {
  if (delta === undefined || delta === 0) return undefined;
  return delta > 0 === higherIsBetter;
}

/** Best value(s) of a row: highest or lowest, ties included; none unless two models have a value. */
function bestOf(values: (number | undefined)[], higherIsBetter: boolean): number[] {
  const defined = values.filter((v): v is number => v !== undefined);
  if (defined.length < 2) return [];
  const best = higherIsBetter ? Math.max(...defined) : Math.min(...defined);
  // All equal: nothing stands out, and bold everywhere would say otherwise.
  if (defined.every((v) => same(v, best))) return [];
  return values.flatMap((v, i) => (v !== undefined && same(v, best) ? [i] : []));
}

/** A paired test where both sides have per-example values for the same examples; McNemar for 0/1 values. */
export function pairedTest(base: SampleValues, other: SampleValues): TestResult | undefined {
  const x: number[] = [];
  const y: number[] = [];
  for (const [id, v] of base) {
    const w = other.get(id);
    if (w === undefined) continue;
    x.push(v);
    y.push(w);
  }
  if (x.length === 0) return undefined;
  const binary = (a: number[]) => a.every((v) => v === 0 || v === 1);
  if (binary(x) && binary(y)) {
    let b = 0;
    let c = 0;
    for (let i = 0; i < x.length; i++) {
      if (x[i] === 1 && y[i] === 0) b++;
      else if (x[i] === 0 && y[i] === 1) c++;
    }
    return { ...mcnemar(b, c), n: x.length };
  }
  return pairedBootstrap(x, y);
}

interface Entry {
  metric: MetricResult;
  n?: number;
  samples?: SampleValues;
  subtask?: boolean;
  aggregate?: boolean;
}

/** The row's unit: if some models report a fraction and others a percentage, fractions are scaled ×100. */
function unitOf(entries: (Entry | undefined)[]): { unit: RowUnit; factor: (e: Entry) => number } {
  const scales = new Set(entries.map((e) => e?.metric.scale).filter((s) => s !== undefined));
  if (scales.has('percent')) return { unit: 'percent', factor: (e) => (e.metric.scale === 'fraction' ? 100 : 1) };
  return {
    unit:
      scales.has('fraction') && scales.size === 1 && entries.every((e) => !e || e.metric.scale) ? 'fraction' : 'raw',
    factor: () => 1,
  };
}

function compareRow(task: string, metric: string, entries: (Entry | undefined)[]): DiffRow {
  const { unit, factor } = unitOf(entries);
  const base = entries[0];
  const higherIsBetter = (base ?? entries.find((e) => e))!.metric.higherIsBetter;
  const scaled = entries.map((e) =>
    e
      ? {
          value: e.metric.value * factor(e),
          stderr: e.metric.stderr === undefined ? undefined : e.metric.stderr * factor(e),
        }
      : undefined,
  );
  const cells: DiffCell[] = entries.map((e, i) => {
    const s = scaled[i];
    if (!e || !s) return { mark: '' };
    const cell: DiffCell = {
      value: s.value,
      mark: '',
      ...(s.stderr !== undefined ? { stderr: s.stderr } : {}),
      ...(e.n !== undefined ? { n: e.n } : {}),
    };
    if (i === 0 || !base) return cell;
    cell.delta = s.value - scaled[0]!.value;
    const better = betterOf(cell.delta, higherIsBetter);
    if (better !== undefined) cell.better = better;
    const se0 = scaled[0]!.stderr;
    const test =
      (base.samples && e.samples ? pairedTest(base.samples, e.samples) : undefined) ??
      (se0 !== undefined && s.stderr !== undefined ? zTest(scaled[0]!.value, se0, s.value, s.stderr) : undefined);
    if (test) {
      cell.test = test;
      cell.mark = significanceMark(test.p);
    }
    return cell;
  });
  const values = cells.map((c) => c.value);
  return {
    task,
    metric,
    higherIsBetter,
    unit,
    cells,
    best: bestOf(values, higherIsBetter),
    differs: values.some((v) => !same(v, values[0])),
    significant: cells.some((c) => c.test !== undefined && c.test.p < 0.05),
    ...(entries.some((e) => e?.subtask) ? { subtask: true } : {}),
    ...(entries.some((e) => e?.aggregate) ? { aggregate: true } : {}),
  };
}

/** Corrects each model's tests against the baseline as one family: every task × metric row it was tested on. */
function correct(rows: DiffRow[], models: number, method: Correction): void {
  for (let i = 1; i < models; i++) {
    const tested = rows.map((r) => r.cells[i]).filter((c) => c.test);
    adjustPValues(
      tested.map((c) => c.test!.p),
      method,
    ).forEach((p, k) => {
      tested[k].pAdjusted = p;
      tested[k].mark = significanceMark(p);
    });
  }
  for (const r of rows) r.significant = r.cells.some((c) => c.test !== undefined && (c.pAdjusted ?? c.test.p) < 0.05);
}

export const AVERAGE_RULE =
  "mean over tasks of each task's first higher-is-better metric, for tasks every model has; a group counts instead of its subtasks, and an aggregate row that does not name its rows (naive_average) is left out for them; lower-is-better metrics and metrics of another unit are left out";

/**
 * Mean over tasks of each task's first higher-is-better metric, as papers report "Avg.": one metric per task, of one
 * unit (percent and fraction convert; a metric of no known scale only averages with its like),
 * over leaf tasks or groups, never both, higher-is-better only. What is left out is said in `notes`.
 */
function average(rows: DiffRow[], models: number, notes: string[]): DiffAverage | undefined {
  // Per task its first higher-is-better metric (lm-eval 0.3 lists perplexity before accuracy).
  const byTask = new Map<string, DiffRow[]>();
  for (const r of rows) if (!r.subtask && !r.aggregate) byTask.set(r.task, [...(byTask.get(r.task) ?? []), r]);
  const lower = [...byTask.values()]
    .filter((rs) => !rs.some((r) => r.higherIsBetter))
    .map((rs) => `${rs[0].task} (${rs.map((r) => `${r.metric} ↓`).join(', ')})`);
  if (lower.length)
    notes.push(
      `Average leaves out ${lower.join(', ')}: lower is better there, so it would pull the mean the wrong way.`,
    );
  const higher = [...byTask.values()].flatMap((rs) => rs.filter((r) => r.higherIsBetter).slice(0, 1));
  // One unit: rows of a known scale (percent, fraction) if there are any, else the rest.
  const scaled = higher.filter((r) => r.unit !== 'raw');
  const sameUnit = scaled.length ? scaled : higher;
  const otherUnit = higher.filter((r) => !sameUnit.includes(r));
  if (otherUnit.length)
    notes.push(
      `Average leaves out ${otherUnit.map((r) => `${r.task} (${r.metric})`).join(', ')}: no known scale, so not of the unit of the other tasks.`,
    );
  const used = sameUnit.filter((r) => r.cells.every((c) => c.value !== undefined));
  const left = sameUnit.filter((r) => !used.includes(r)).map((r) => r.task);
  if (left.length)
    notes.push(`Average leaves out ${left.join(', ')}: not every model has ${left.length === 1 ? 'it' : 'them'}.`);
  if (used.length === 0) return undefined;
  const unit: RowUnit = used.some((r) => r.unit === 'percent')
    ? 'percent'
    : used.every((r) => r.unit === 'fraction')
      ? 'fraction'
      : 'raw';
  const scale = (r: DiffRow) => (unit === 'percent' && r.unit === 'fraction' ? 100 : 1);
  const values = Array.from(
    { length: models },
    (_, i) => used.reduce((s, r) => s + r.cells[i].value! * scale(r), 0) / used.length,
  );
  const cells = values.map((value, i) => {
    if (i === 0) return { value };
    const delta = value - values[0];
    const better = betterOf(delta, true);
    return { value, delta, ...(better !== undefined ? { better } : {}) };
  });
  notes.push(`Average: ${AVERAGE_RULE}.`);
  return { tasks: used.map((r) => r.task), rule: AVERAGE_RULE, unit, cells, best: bestOf(values, true) };
}

/**
 * One entry per model evaluated in several runs: lm-eval writes a results file per run, and a model
 * run once per task group must be one column, not several. Runs are merged only when no task repeats,
 * so no score silently replaces another; runs that overlap stay columns of their own.
 */
function mergeRuns(
  results: ModelResults[],
  notes: string[],
): { merged: ModelResults[]; files: Map<ModelResults, string[]> } {
  const merged: ModelResults[] = [];
  const files = new Map<ModelResults, string[]>();
  for (const r of results) {
    // Tasks match without regard to case, here as in the rows.
    const tasks = new Set([...r.tasks.keys()].map((t) => t.toLowerCase()));
    const into = merged.find(
      (m) =>
        m.model === r.model &&
        m.format === r.format &&
        m.file !== r.file &&
        ![...m.tasks.keys()].some((t) => tasks.has(t.toLowerCase())),
    );
    if (!into) {
      merged.push(r);
      continue;
    }
    const union: ModelResults = { ...into, tasks: new Map([...into.tasks, ...r.tasks]) };
    const date = [into.date, r.date]
      .filter((d): d is string => d !== undefined)
      .sort()
      .pop();
    if (date) union.date = date;
    files.set(union, [...(files.get(into) ?? [into.file]), r.file]);
    files.delete(into);
    merged[merged.indexOf(into)] = union;
  }
  for (const [m, fs] of files)
    notes.push(`${m.model}: ${fs.length} runs in one column (${fs.map(baseName).join(', ')}).`);
  return { merged, files };
}

/**
 * Compares `results` (one entry per model) against the one named `baseline` (default: the first).
 * Tasks match without regard to case; the baseline's spelling is shown.
 */
export function diffResults(
  results: ModelResults[],
  baseline?: string,
  correction: Correction = 'none',
): BenchmarkDiff {
  if (results.length === 0) throw new Error('no results to compare');
  const notes: string[] = [];
  const { merged, files } = mergeRuns(results, notes);
  results = merged;
  const names = uniqueNames(results);
  let b = 0;
  if (baseline !== undefined) {
    b = names.indexOf(baseline);
    if (b < 0) b = results.findIndex((r) => r.model === baseline);
    if (b < 0) throw new BaselineError(`no model named '${baseline}' (models: ${names.join(', ')})`);
  }
  const order = [b, ...results.keys()].filter((i, k, a) => a.indexOf(i) === k);
  const ordered = order.map((i) => results[i]);
  // Rows in order of first appearance, baseline first, so the table reads like the baseline's file.
  const keys = new Map<string, { task: string; metrics: string[] }>();
  for (const r of ordered) {
    for (const [task, t] of r.tasks) {
      const key = task.toLowerCase();
      if (!keys.has(key)) keys.set(key, { task, metrics: [] });
      const k = keys.get(key)!;
      for (const m of t.metrics.keys()) if (!k.metrics.includes(m)) k.metrics.push(m);
    }
  }
  const lookup = ordered.map((r) => new Map([...r.tasks].map(([task, t]) => [task.toLowerCase(), t])));
  const rows: DiffRow[] = [];
  for (const [key, { task, metrics }] of keys) {
    for (const metric of metrics) {
      const entries = lookup.map((l): Entry | undefined => {
        const t = l.get(key);
        const m = t?.metrics.get(metric);
        return t && m
          ? { metric: m, n: t.n, samples: t.samples?.get(metric), subtask: t.subtask, aggregate: t.aggregate }
          : undefined;
      });
      const row = compareRow(task, metric, entries);
      if (row.unit === 'percent' && entries.some((e) => e?.metric.scale === 'fraction'))
        notes.push(`${task} / ${metric}: fractions shown as percentages, to match the models that report percentages.`);
      rows.push(row);
    }
  }
  const models = ordered.map((r, i): DiffModel => ({
    name: names[order[i]],
    file: r.file,
    ...(files.has(r) ? { files: files.get(r) } : {}),
    format: r.format,
    ...(r.date ? { date: r.date } : {}),
  }));
  if (correction !== 'none') correct(rows, models.length, correction);
  const avg = average(rows, models.length, notes);
  return {
    version: BENCHMARK_DIFF_VERSION,
    baseline: models[0].name,
    models,
    rows,
    ...(avg ? { average: avg } : {}),
    notes,
    correction,
  };
}
