// The examples behind one benchmark cell: each example's prompt, reference and every model's answer
// and score, and which ones flipped between the baseline and another model. The values come from the
// same per-example records as the diff's paired test, so the flip counts are McNemar's b and c.
import { readRegularText } from '../util/files';
import { isPlainFileName } from '../util/paths';
import * as path from 'node:path';
import { loadModels, ModelRef } from './compare';
import { uniqueNames } from './diff';
import { isObject, parseResultsJson, readJsonl } from './jsonl';
import { readSampleRecords, samplesFileOf } from './lmEval';
import { ModelResults, ResultsError } from './types';

/** What a record says besides its score. */
export interface ExampleText {
  prompt?: string;
  prediction?: string;
  target?: string;
}

export interface ExampleAnswer {
  value: number;
  prediction?: string;
}

export type Flip = 'fixed' | 'broken' | 'same';

export interface ExampleRow {
  id: string;
  prompt?: string;
  target?: string;
  /** One per model, in the view's model order (baseline first); undefined where a model has no record. */
  answers: (ExampleAnswer | undefined)[];
  /** Baseline against `other`: fixed (wrong → right), broken (right → wrong), same; for 0/1 values. */
  flip: Flip;
}

export interface ExamplesView {
  task: string;
  metric: string;
  /** Baseline first, then `other`, then the rest. */
  models: string[];
  /** Index of the model compared with the baseline (always 1). */
  other: 1;
  /** Every paired value is 0 or 1 (exact match, accuracy): flips and McNemar apply. */
  binary: boolean;
  /** Examples both the baseline and `other` have. fixed = McNemar's c, broken = its b. */
  counts: { paired: number; fixed: number; broken: number; bothRight: number; bothWrong: number };
  rows: ExampleRow[];
}

const str = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;

/** lm-eval's request arguments: `{"gen_args_0": {"arg_0": ctx, "arg_1": …}}` (0.4.x) or `[[ctx, …]]` (older). */
function lmEvalArguments(args: unknown): unknown[][] {
  if (Array.isArray(args)) return args.map((a) => (Array.isArray(a) ? a : [a]));
  if (isObject(args)) return Object.values(args).map((a) => (isObject(a) ? Object.values(a) : [a]));
  return [];
}

/** One lm-eval samples record as text: the prompt, the answer (generated, or the likeliest choice) and the target. */
function lmEvalText(rec: Record<string, unknown>): ExampleText {
  const args = lmEvalArguments(rec.arguments);
  const resps = Array.isArray(rec.filtered_resps) ? rec.filtered_resps : [];
  let prediction: string | undefined;
  if (args.length > 1 && resps.length === args.length) {
    // Multiple choice: one request and one (log-likelihood, is-greedy) pair per choice; the answer is the likeliest.
    const ll = resps.map((r) => Number(Array.isArray(r) ? r[0] : r));
    const best = ll.reduce((b, v, i) => (v > ll[b] ? i : b), 0);
    prediction = str(args[best][1])?.trim();
  } else prediction = str(Array.isArray(resps[0]) ? resps[0][0] : resps[0]);
  return { prompt: str(args[0]?.[0]), prediction, target: str(rec.target) };
}

/** The text of each example of `task` in the model's records, by example id (as the values are keyed). */
export async function exampleTexts(model: ModelResults, task: string): Promise<Map<string, ExampleText>> {
  const out = new Map<string, ExampleText>();
  if (model.format === 'taia-results') {
    const json = parseResultsJson(model.file, await readRegularText(model.file));
    const tasks = isObject(json.tasks) ? json.tasks : {};
    const t = tasks[task];
    const name = isObject(t) ? str(t.samples) : undefined;
    if (!name) return out;
    // The same rule as the results validator's: a samples name from the file stays beside it.
    if (!isPlainFileName(name))
      throw new ResultsError(model.file, `samples file ${JSON.stringify(name)} is not beside it`);
    await readJsonl(path.join(path.dirname(model.file), name), (rec) => {
      if (rec.task === task && (typeof rec.id === 'string' || typeof rec.id === 'number'))
        out.set(String(rec.id), { prompt: str(rec.prompt), prediction: str(rec.prediction), target: str(rec.target) });
    });
  } else if (model.format === 'lm-eval') {
    const file = samplesFileOf(model.file, task, parseResultsJson(model.file, await readRegularText(model.file)));
    if (!file) return out;
    await readSampleRecords(file, (rec) => {
      if (rec.doc_id !== undefined && !out.has(String(rec.doc_id))) out.set(String(rec.doc_id), lmEvalText(rec));
    });
  }
  return out;
}

/**
 * The examples of `task` / `metric` for the models of `refs`, with the baseline and `other` named as
 * the diff names them. Pairs and counts are formed as the diff's paired test forms them: the baseline's
 * examples that `other` has too.
 */
export async function compareExamples(
  refs: ModelRef[],
  baseline: string,
  other: string,
  task: string,
  metric: string,
): Promise<ExamplesView> {
  const { results, problems } = await loadModels(refs);
  if (results.length !== refs.length) throw new Error(problems.join(' ') || 'a model could not be read');
  const names = uniqueNames(results);
  const b = names.indexOf(baseline);
  const o = names.indexOf(other);
  if (b < 0 || o < 0) throw new Error(`no model named '${b < 0 ? baseline : other}' (models: ${names.join(', ')})`);
  const order = [b, o, ...names.keys()].filter((i, k, a) => a.indexOf(i) === k);
  const taskOf = (r: ModelResults) => [...r.tasks].find(([t]) => t.toLowerCase() === task.toLowerCase());
  const values = order.map((i) => taskOf(results[i])?.[1].samples?.get(metric));
  if (!values[0] || !values[1])
    throw new Error(`${!values[0] ? names[b] : names[o]} has no per-example records of ${task} / ${metric}`);
  const texts = await Promise.all(
    order.map(async (i) => {
      const found = taskOf(results[i]);
      return found ? exampleTexts(results[i], found[0]) : new Map<string, ExampleText>();
    }),
  );
  const counts = { paired: 0, fixed: 0, broken: 0, bothRight: 0, bothWrong: 0 };
  let binary = true;
  const ids = [...values[0].keys(), ...[...values[1].keys()].filter((id) => !values[0]!.has(id))];
  const rows: ExampleRow[] = ids.map((id) => {
    const x = values[0]!.get(id);
    const y = values[1]!.get(id);
    let flip: Flip = 'same';
    if (x !== undefined && y !== undefined) {
      counts.paired++;
      if ((x !== 0 && x !== 1) || (y !== 0 && y !== 1)) binary = false;
      else if (x === 1 && y === 0) {
        counts.broken++;
        flip = 'broken';
      } else if (x === 0 && y === 1) {
        counts.fixed++;
        flip = 'fixed';
      } else if (x === 1) counts.bothRight++;
      else counts.bothWrong++;
    }
    const text = texts.map((t) => t.get(id));
    return {
      id,
      prompt: text.find((t) => t?.prompt)?.prompt,
      target: text.find((t) => t?.target)?.target,
      answers: values.map((v, k) => {
        const value = v?.get(id);
        return value === undefined
          ? undefined
          : { value, ...(text[k]?.prediction !== undefined ? { prediction: text[k]!.prediction } : {}) };
      }),
      flip,
    };
  });
  if (!binary) for (const r of rows) r.flip = 'same';
  return { task, metric, models: order.map((i) => names[i]), other: 1, binary, counts, rows };
}
