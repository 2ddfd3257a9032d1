// TAIA Lab's own result file, written by the evaluator and read back by the Benchmarks view and
// `taia bench diff`. One JSON file per evaluated model, `<name>.taia-results.json`, and per-example
// records in a JSONL beside it. The format is documented in the README ("Benchmarks").
import { mkdir } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomicWrite';
import * as path from 'node:path';
import { isPlainFileName } from '../util/paths';
import { isObject, parseResultsJson, readJsonl } from './jsonl';
import { finite, LoadOptions, MetricResult, ModelResults, ResultsError, SampleValues, TaskResult } from './types';

export const TAIA_RESULTS_FORMAT = 'taia-results';
/** Changes only with an incompatible change of the format; readers refuse versions they do not know. */
export const TAIA_RESULTS_VERSION = 1;
export const TAIA_RESULTS_SUFFIX = '.taia-results.json';

export interface TaiaMetric {
  value: number;
  stderr?: number;
  higher_is_better: boolean;
  /** 'fraction' for 0–1 scores (the default for accuracy-like metrics), 'percent' for 0–100. */
  scale?: 'fraction' | 'percent';
}

export interface TaiaTaskResults {
  metrics: Record<string, TaiaMetric>;
  /** Examples evaluated. */
  n?: number;
  /** Per-example records of this task: a JSONL file, relative to the results file. */
  samples?: string;
}

export interface TaiaResultsFile {
  format: typeof TAIA_RESULTS_FORMAT;
  version: typeof TAIA_RESULTS_VERSION;
  model: {
    name: string;
    /** The checkpoint evaluated (folder or hub id). */
    path?: string;
    /** How it was made, e.g. 'base', 'finetuned', 'taia', 'taia-strict' (free text). */
    recipe?: string;
  };
  /** ISO 8601. */
  created: string;
  /** The tool and version that wrote it, e.g. "taia-lab 0.1.0". */
  tool?: string;
  tasks: Record<string, TaiaTaskResults>;
}

/** One line of the samples JSONL. `metrics` holds the per-example values the paired tests compare (0/1 for exact match). */
export interface TaiaSampleRecord {
  task: string;
  id: string | number;
  metrics: Record<string, number>;
  /** The question as the task file gives it. */
  prompt?: string;
  prediction?: string;
  target?: string;
  /** Multiple choice: Σ log p of each choice as a continuation of the prompt, in the choices' order. */
  loglikelihoods?: number[];
}

/**
 * Writes a result file and, when `samples` are given, `<stem>.samples.jsonl` beside it (one file for
 * all tasks; each task with records points at it). Samples are written first, so the results file
 * never names a samples file that is not there. Returns the paths written.
 */
export async function writeTaiaResults(
  file: string,
  results: TaiaResultsFile,
  samples?: Iterable<TaiaSampleRecord>,
): Promise<{ results: string; samples?: string }> {
  if (!file.endsWith(TAIA_RESULTS_SUFFIX))
    throw new Error(`${file}: a TAIA result file's name ends with ${TAIA_RESULTS_SUFFIX}`);
  const out: TaiaResultsFile = {
    ...results,
    tasks: Object.fromEntries(Object.entries(results.tasks).map(([k, v]) => [k, { ...v }])),
  };
  validateTaiaResults(file, out as unknown as Record<string, unknown>);
  await mkdir(path.dirname(file), { recursive: true });
  let samplesFile: string | undefined;
  if (samples) {
    samplesFile = file.slice(0, -TAIA_RESULTS_SUFFIX.length) + '.samples.jsonl';
    const lines: string[] = [];
    const tasks = new Set<string>();
    for (const r of samples) {
      lines.push(JSON.stringify(r));
      tasks.add(r.task);
    }
    await writeFileAtomic(samplesFile, lines.length ? lines.join('\n') + '\n' : '');
    for (const t of tasks) if (out.tasks[t]) out.tasks[t].samples = path.basename(samplesFile);
  }
  await writeFileAtomic(file, JSON.stringify(out, null, 2) + '\n');
  return { results: file, ...(samplesFile ? { samples: samplesFile } : {}) };
}

/** Checks the shape of a parsed file; every problem names the file and the field. */
export function validateTaiaResults(
  file: string,
  json: Record<string, unknown>,
): asserts json is Record<string, unknown> & TaiaResultsFile {
  const fail = (problem: string): never => {
    throw new ResultsError(file, problem);
  };
  if (json.format !== TAIA_RESULTS_FORMAT) fail(`"format" must be "${TAIA_RESULTS_FORMAT}"`);
  if (json.version !== TAIA_RESULTS_VERSION)
    fail(`version ${JSON.stringify(json.version)} is not supported (this tool reads version ${TAIA_RESULTS_VERSION})`);
  if (!isObject(json.model) || typeof json.model.name !== 'string' || !json.model.name)
    fail('"model.name" must be a non-empty string');
  if (typeof json.created !== 'string') fail('"created" must be an ISO date string');
  if (!isObject(json.tasks)) fail('"tasks" must be an object');
  for (const [task, t] of Object.entries(json.tasks as Record<string, unknown>)) {
    if (!isObject(t) || !isObject(t.metrics)) fail(`tasks.${task}.metrics must be an object`);
    const r = t as Record<string, unknown> & { metrics: Record<string, unknown> };
    for (const [name, m] of Object.entries(r.metrics)) {
      const where = `tasks.${task}.metrics.${name}`;
      if (!isObject(m) || finite(m.value) === undefined || typeof m.value !== 'number')
        fail(`${where}.value must be a finite number`);
      const mm = m as Record<string, unknown>;
      // null: JSON's spelling of a NaN standard error (one example); read as no standard error.
      if (mm.stderr !== undefined && mm.stderr !== null && typeof mm.stderr !== 'number')
        fail(`${where}.stderr must be a number`);
      if (typeof mm.higher_is_better !== 'boolean') fail(`${where}.higher_is_better must be true or false`);
      if (mm.scale !== undefined && mm.scale !== 'fraction' && mm.scale !== 'percent')
        fail(`${where}.scale must be "fraction" or "percent"`);
    }
    if (r.n !== undefined && (typeof r.n !== 'number' || !Number.isInteger(r.n) || r.n < 0))
      fail(`tasks.${task}.n must be a non-negative integer`);
    // A file name beside the result file, never a path: a result file must not make the reader open /etc/passwd.
    if (r.samples !== undefined && (typeof r.samples !== 'string' || !isPlainFileName(r.samples)))
      fail(`tasks.${task}.samples must be the name of a file beside the result file, got ${JSON.stringify(r.samples)}`);
  }
}

/** Reads the per-example values of `tasks` from one samples JSONL. */
async function readSamples(file: string, tasks: Map<string, TaskResult>): Promise<void> {
  await readJsonl(file, (rec, line) => {
    if (typeof rec.task !== 'string') throw new ResultsError(file, 'record has no "task"', line);
    if (typeof rec.id !== 'string' && typeof rec.id !== 'number')
      throw new ResultsError(file, 'record has no "id"', line);
    if (!isObject(rec.metrics)) throw new ResultsError(file, 'record has no "metrics" object', line);
    const t = tasks.get(rec.task);
    if (!t) return;
    for (const [name, raw] of Object.entries(rec.metrics)) {
      const v = finite(raw);
      if (v === undefined || !t.metrics.has(name)) continue;
      t.samples ??= new Map();
      let values: SampleValues | undefined = t.samples.get(name);
      if (!values) t.samples.set(name, (values = new Map()));
      values.set(String(rec.id), v);
    }
  });
}

export async function readTaiaResults(file: string, text: string, opts: LoadOptions): Promise<ModelResults[]> {
  const json = parseResultsJson(file, text);
  validateTaiaResults(file, json);
  const tasks = new Map<string, TaskResult>();
  const bySamplesFile = new Map<string, Map<string, TaskResult>>();
  for (const [task, t] of Object.entries(json.tasks)) {
    const metrics = new Map<string, MetricResult>(
      Object.entries(t.metrics).map(([name, m]) => {
        const stderr = finite(m.stderr);
        return [
          name,
          {
            value: m.value,
            higherIsBetter: m.higher_is_better,
            ...(stderr !== undefined ? { stderr } : {}),
            ...(m.scale ? { scale: m.scale } : {}),
          },
        ];
      }),
    );
    const result: TaskResult = { metrics, ...(t.n !== undefined ? { n: t.n } : {}) };
    tasks.set(task, result);
    if (t.samples) {
      const sf = path.resolve(path.dirname(file), t.samples);
      if (!bySamplesFile.has(sf)) bySamplesFile.set(sf, new Map());
      bySamplesFile.get(sf)!.set(task, result);
    }
  }
  // One pass over each samples file, however many tasks share it.
  if (opts.samples) for (const [sf, ts] of bySamplesFile) await readSamples(sf, ts);
  return [
    {
      model: json.model.name,
      file,
      format: 'taia-results',
      tasks,
      date: json.created,
      ...(json.model.path ? { checkpoint: json.model.path } : {}),
    },
  ];
}
