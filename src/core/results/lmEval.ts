// lm-evaluation-harness (EleutherAI) output. The results file is `results_<timestamp>.json` since
// 0.4.3 and whatever `--output_path` said before (0.3: `llama-7B_mmlu_5-shot.json`; 0.4.0-0.4.2:
// often `results.json`), so it is known by its content. Per-example records (--log_samples) sit
// beside it: `samples_<task>_<timestamp>.jsonl` (0.4.3+), `samples_<task>_<timestamp>.json` (JSONL
// content, mid-2024) or `<model_args with / and = as __>_<task>.jsonl` holding one JSON array (0.4.0-0.4.2).
import { existsSync } from 'node:fs';
import { openRegular, readRegularText } from '../util/files';
import * as path from 'node:path';
import { isPlainFileName } from '../util/paths';
import { isObject, parseResultsJson, readJsonl } from './jsonl';
import {
  canonicalMetric,
  defaultHigherIsBetter,
  finite,
  LoadOptions,
  MetricResult,
  ModelResults,
  ResultsError,
  SampleValues,
  TaskResult,
} from './types';

/** Metrics lm-eval reports as fractions of 1 (accuracy-like); others (perplexity, BLEU) keep their scale. */
const FRACTION_METRICS = /^(acc|acc_norm|acc_mutual_info|exact_match|em|f1|mc1|mc2|pass@\d+)$/;

/** "acc,none" → "acc"; "exact_match,strict-match" stays as lm-eval prints it; old files have no filter. */
function metricKey(metric: string, filter: string | undefined): string {
  return filter === undefined || filter === 'none' ? canonicalMetric(metric) : `${metric},${filter}`;
}

/** The model as the researcher named it: the checkpoint in model_args, else the output folder lm-eval made. */
function modelName(file: string, json: Record<string, unknown>): string {
  const config = isObject(json.config) ? json.config : {};
  let args: Record<string, unknown> = {};
  if (isObject(config.model_args)) args = config.model_args;
  else if (typeof config.model_args === 'string') {
    for (const part of config.model_args.split(',')) {
      const eq = part.indexOf('=');
      if (eq > 0) args[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
    }
  }
  const short = (p: unknown) =>
    typeof p === 'string' && p
      ? /^(\.{0,2}\/|[A-Za-z]:\\)/.test(p)
        ? path.basename(p.replace(/[\\/]+$/, ''))
        : p
      : undefined;
  const pretrained = short(args.pretrained ?? args.model ?? args.model_name ?? args.path);
  const peft = short(args.peft);
  if (pretrained) return peft ? `${pretrained}+${peft}` : pretrained;
  if (typeof json.model_name === 'string' && json.model_name) return json.model_name;
  return path.basename(path.dirname(file));
}

/** Tasks that are parts of a group: listed under `group_subtasks`, or indented (" - name") in their alias. */
function subtasksOf(json: Record<string, unknown>, results: Record<string, unknown>): Set<string> {
  const out = new Set<string>();
  if (isObject(json.group_subtasks))
    for (const list of Object.values(json.group_subtasks))
      if (Array.isArray(list)) for (const t of list) out.add(String(t));
  for (const [task, r] of Object.entries(results))
    if (isObject(r) && typeof r.alias === 'string' && /^\s+-\s/.test(r.alias)) out.add(task);
  return out;
}

/**
 * Keys of a task's results that are bookkeeping, not metrics: 0.4.12+ writes `sample_len` (and
 * `sample_count` for groups) into every task, earlier versions `samples`, and all write `alias`/`name`.
 */
const NOT_METRICS = new Set([
  'alias',
  'name',
  'samples',
  'sample_len',
  'sample_count',
  'sample_size',
  'n_samples',
  'original',
  'effective',
]);

/**
 * A task's metrics. Where the file lists the task's metrics in `higher_is_better` (0.4.0+), exactly
 * those are metrics; older files have no such list, so only known bookkeeping keys are skipped.
 */
function parseTask(raw: Record<string, unknown>, higher: Record<string, unknown>): TaskResult {
  const metrics = new Map<string, MetricResult>();
  const stderrs = new Map<string, number | undefined>();
  const declared = Object.keys(higher);
  const isMetric = (name: string) => !NOT_METRICS.has(name) && (declared.length === 0 || declared.includes(name));
  for (const [key, value] of Object.entries(raw)) {
    const [name, filter] = key.split(',') as [string, string | undefined];
    if (!isMetric(name.endsWith('_stderr') ? name.slice(0, -'_stderr'.length) : name)) continue;
    if (name.endsWith('_stderr')) {
      stderrs.set(metricKey(name.slice(0, -'_stderr'.length), filter), finite(value));
      continue;
    }
    const v = finite(value);
    if (v === undefined) continue;
    const hib = typeof higher[name] === 'boolean' ? (higher[name] as boolean) : defaultHigherIsBetter(name);
    metrics.set(metricKey(name, filter), {
      value: v,
      higherIsBetter: hib,
      ...(FRACTION_METRICS.test(name) && v >= 0 && v <= 1 ? { scale: 'fraction' as const } : {}),
    });
  }
  for (const [key, se] of stderrs) {
    const m = metrics.get(key);
    if (m && se !== undefined) m.stderr = se;
  }
  return { metrics };
}

/** The scores of a parsed results file; `samples` are read separately (they live in other files). */
function parseLmEval(file: string, json: Record<string, unknown>): ModelResults {
  if (!isObject(json.results))
    throw new ResultsError(file, 'not an lm-evaluation-harness results file: no "results" object');
  const higher = isObject(json.higher_is_better) ? json.higher_is_better : {};
  const groups = isObject(json.groups) ? json.groups : {};
  const nSamples = isObject(json['n-samples']) ? json['n-samples'] : {};
  const subtasks = subtasksOf(json, json.results);
  const tasks = new Map<string, TaskResult>();
  // Groups are reported under "groups" and, in recent versions, under "results" too: one entry each.
  for (const [task, raw] of [...Object.entries(json.results), ...Object.entries(groups)]) {
    if (!isObject(raw)) throw new ResultsError(file, `results of task '${task}' is not an object`);
    if (tasks.has(task)) continue;
    const t = parseTask(raw, isObject(higher[task]) ? higher[task] : {});
    const count = isObject(nSamples[task]) ? finite(nSamples[task].effective) : undefined;
    if (count !== undefined) t.n = count;
    if (task in groups) t.group = true;
    if (subtasks.has(task)) t.subtask = true;
    tasks.set(task, t);
  }
  const date = finite(json.date);
  // Date's range is ±8.64e15 ms; a date outside it is refused naming the field, not thrown as a RangeError.
  if (date !== undefined && !(Math.abs(date * 1000) <= 8.64e15))
    throw new ResultsError(file, `"date" ${date} is out of range (seconds since 1970)`);
  return {
    model: modelName(file, json),
    file,
    format: 'lm-eval',
    tasks,
    ...(date !== undefined ? { date: new Date(date * 1000).toISOString() } : {}),
  };
}

/** lm-eval 0.4.0-0.4.2 named sample files after `model_args` with `/` and `=` replaced by `__`. */
const sanitizedModelArgs = (json: Record<string, unknown>) => {
  const config = isObject(json.config) ? json.config : {};
  return typeof config.model_args === 'string' ? config.model_args.replace(/\/|=/g, '__') : undefined;
};

/**
 * Where a task's per-example records may be, newest layout first: names beside the results file
 * only, since task names come from the file and must not lead out of its folder.
 */
function samplesFilesOf(resultsFile: string, task: string, json: Record<string, unknown>): string[] {
  const dir = path.dirname(resultsFile);
  const names: string[] = [];
  const m = /^results_(.+)\.json$/.exec(path.basename(resultsFile));
  if (m) names.push(`samples_${task}_${m[1]}.jsonl`, `samples_${task}_${m[1]}.json`);
  const args = sanitizedModelArgs(json);
  if (args !== undefined) names.push(`${args}_${task}.jsonl`);
  return names.filter(isPlainFileName).map((n) => path.join(dir, n));
}

/** The first bytes of a file, to tell a JSON array from JSON lines without reading it all. */
async function firstBytes(file: string, n: number): Promise<string> {
  try {
    const h = await openRegular(file);
    try {
      const buf = Buffer.alloc(n);
      const { bytesRead } = await h.read(buf, 0, n, 0);
      return buf.subarray(0, bytesRead).toString('utf-8');
    } finally {
      await h.close();
    }
  } catch (e) {
    throw new ResultsError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Each record of a samples file: JSON lines, or (0.4.0-0.4.2) one indented JSON array of records. */
export async function readSampleRecords(
  file: string,
  onRecord: (rec: Record<string, unknown>, line?: number) => void,
): Promise<void> {
  if (!(await firstBytes(file, 256)).trimStart().startsWith('[')) return readJsonl(file, onRecord);
  let records: unknown;
  try {
    records = JSON.parse(await readRegularText(file));
  } catch (e) {
    throw new ResultsError(file, `invalid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(records)) throw new ResultsError(file, 'expected a JSON array of records');
  records.forEach((rec, i) => {
    if (!isObject(rec)) throw new ResultsError(file, `record ${i + 1} of the array is not a JSON object`);
    onRecord(rec);
  });
}

/** The samples file of a task beside its results file (`json`: that file's content), in any layout lm-eval wrote; undefined when none exists. */
export function samplesFileOf(resultsFile: string, task: string, json: Record<string, unknown>): string | undefined {
  return samplesFilesOf(resultsFile, task, json).find((f) => existsSync(f));
}

/** Adds each task's per-example metric values from its samples file, where one exists. */
async function addSamples(results: ModelResults, json: Record<string, unknown>): Promise<void> {
  for (const [task, t] of results.tasks) {
    const file = samplesFileOf(results.file, task, json);
    if (!file) continue;
    const names = new Set([...t.metrics.keys()].map((k) => k.split(',')[0]));
    const samples = new Map<string, SampleValues>();
    await readSampleRecords(file, (rec, line) => {
      if (rec.doc_id === undefined) throw new ResultsError(file, 'record has no doc_id', line);
      const filter = typeof rec.filter === 'string' ? rec.filter : undefined;
      for (const name of names) {
        const v = finite(rec[name]);
        if (v === undefined) continue;
        const key = metricKey(name, filter);
        if (!t.metrics.has(key)) continue;
        let values = samples.get(key);
        if (!values) samples.set(key, (values = new Map()));
        values.set(String(rec.doc_id), v);
      }
    });
    if (samples.size) t.samples = samples;
  }
}

export async function readLmEval(file: string, text: string, opts: LoadOptions): Promise<ModelResults[]> {
  const json = parseResultsJson(file, text);
  const results = parseLmEval(file, json);
  if (opts.samples) await addSamples(results, json);
  return [results];
}
