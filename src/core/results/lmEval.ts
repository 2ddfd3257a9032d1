// lm-evaluation-harness (EleutherAI) output: `results_<timestamp>.json` and, with --log_samples,
// `samples_<task>_<timestamp>.jsonl` beside it.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { isPlainFileName } from '../util/paths';
import { isObject, parseResultsJson, readJsonl } from './jsonl';
import { canonicalMetric, defaultHigherIsBetter, finite, LoadOptions, MetricResult, ModelResults, ResultsError, SampleValues, TaskResult } from './types';

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
  const short = (p: unknown) => (typeof p === 'string' && p ? (/^(\.{0,2}\/|[A-Za-z]:\\)/.test(p) ? path.basename(p.replace(/[\\/]+$/, '')) : p) : undefined);
  const pretrained = short(args.pretrained ?? args.model ?? args.model_name ?? args.path);
  const peft = short(args.peft);
  if (pretrained) return peft ? `${pretrained}+${peft}` : pretrained;
  if (typeof json.model_name === 'string' && json.model_name) return json.model_name;
  return path.basename(path.dirname(file));
}

/** Tasks that are parts of a group: listed under `group_subtasks`, or indented (" - name") in their alias. */
function subtasksOf(json: Record<string, unknown>, results: Record<string, unknown>): Set<string> {
  const out = new Set<string>();
  if (isObject(json.group_subtasks)) for (const list of Object.values(json.group_subtasks)) if (Array.isArray(list)) for (const t of list) out.add(String(t));
  for (const [task, r] of Object.entries(results)) if (isObject(r) && typeof r.alias === 'string' && /^\s+-\s/.test(r.alias)) out.add(task);
  return out;
}

function parseTask(raw: Record<string, unknown>, higher: Record<string, unknown>): TaskResult {
  const metrics = new Map<string, MetricResult>();
  const stderrs = new Map<string, number | undefined>();
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'alias' || key === 'name' || key === 'samples') continue;
    const [name, filter] = key.split(',') as [string, string | undefined];
    if (name.endsWith('_stderr')) {
      stderrs.set(metricKey(name.slice(0, -'_stderr'.length), filter), finite(value));
      continue;
    }
    const v = finite(value);
    if (v === undefined) continue;
    const hib = typeof higher[name] === 'boolean' ? (higher[name] as boolean) : defaultHigherIsBetter(name);
    metrics.set(metricKey(name, filter), { value: v, higherIsBetter: hib, ...(FRACTION_METRICS.test(name) && v >= 0 && v <= 1 ? { scale: 'fraction' as const } : {}) });
  }
  for (const [key, se] of stderrs) {
    const m = metrics.get(key);
    if (m && se !== undefined) m.stderr = se;
  }
  return { metrics };
}

/** Parses the results JSON; `samples` are read separately (they live in other files). */
export function parseLmEval(file: string, text: string): ModelResults {
  const json = parseResultsJson(file, text);
  if (!isObject(json.results)) throw new ResultsError(file, 'not an lm-evaluation-harness results file: no "results" object');
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
  if (date !== undefined && !(Math.abs(date * 1000) <= 8.64e15)) throw new ResultsError(file, `"date" ${date} is out of range (seconds since 1970)`);
  return { model: modelName(file, json), file, format: 'lm-eval', tasks, ...(date !== undefined ? { date: new Date(date * 1000).toISOString() } : {}) };
}

/** `samples_<task>_<timestamp>.jsonl` beside `results_<timestamp>.json`. */
export function samplesFileOf(resultsFile: string, task: string): string | undefined {
  const m = /^results_(.+)\.json$/.exec(path.basename(resultsFile));
  const name = m && `samples_${task}_${m[1]}.jsonl`;
  // A task name is data from the file: one with `/` or `..` must not lead the reader out of the folder.
  return name && isPlainFileName(name) ? path.join(path.dirname(resultsFile), name) : undefined;
}

/** Adds each task's per-example metric values from its samples file, where one exists. */
async function addSamples(results: ModelResults): Promise<void> {
  for (const [task, t] of results.tasks) {
    const file = samplesFileOf(results.file, task);
    if (!file || !existsSync(file)) continue;
    const names = new Set([...t.metrics.keys()].map((k) => k.split(',')[0]));
    const samples = new Map<string, SampleValues>();
    await readJsonl(file, (rec, line) => {
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
  const results = parseLmEval(file, text);
  if (opts.samples) await addSamples(results);
  return [results];
}
