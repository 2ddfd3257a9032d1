// The demo's diagnostics: each part of TAIA's mechanism measured on the per-example records, and the
// checks that say whether this run shows it. Nothing here is assumed: a check that does not hold says so.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { formatFollowed } = require('../out/src/core/demo/format.js');
const { readJsonl } = require('../out/src/core/results/jsonl.js');

async function readSamples(file) {
  const rows = [];
  await readJsonl(file, (r) => rows.push(r));
  return rows;
}

/**
 * Per model: exact match on the knowledge diagnostic (raw prompts in the pretraining style), and the
 * share of downstream generation answers in the expected form. `samples`: model name → samples file.
 */
export function diagnose(samples, knowledgeTask) {
  return Promise.all(
    Object.entries(samples).map(async ([name, file]) => {
      const rows = await readSamples(file);
      const generated = rows.filter((r) => r.task !== knowledgeTask && r.metrics?.exact_match !== undefined);
      const knowledge = rows.filter((r) => r.task === knowledgeTask);
      const share = (xs, pass) => (xs.length ? xs.filter(pass).length / xs.length : undefined);
      return {
        name,
        knowledge: share(knowledge, (r) => r.metrics.exact_match === 1),
        format: share(generated, (r) => formatFollowed(r.prediction ?? '')),
      };
    }),
  );
}

/** Each task's first metric, as the benchmark diff lists it. */
const firstRows = (bench, keep) =>
  bench.rows.filter((r, i, all) => keep(r.task) && all.findIndex((x) => x.task === r.task) === i);

/** The mean over the downstream tasks (each task's first metric) per model. */
export function downstreamAverage(bench, knowledgeTask) {
  const rows = firstRows(bench, (t) => t !== knowledgeTask);
  return Object.fromEntries(
    bench.models.map((m, i) => [m.name, rows.reduce((s, r) => s + (r.cells[i].value ?? 0), 0) / rows.length]),
  );
}

/**
 * The benchmark diff of the downstream tasks alone: the diagnostic's rows out, and the average
 * (downstreamAverage's, by the same rule) over what is left.
 */
export function downstreamOnly(bench, avg, knowledgeTask) {
  const values = bench.models.map((m) => avg[m.name]);
  const top = Math.max(...values);
  return {
    ...bench,
    rows: bench.rows.filter((r) => r.task !== knowledgeTask),
    average: bench.average && {
      ...bench.average,
      tasks: bench.average.tasks.filter((t) => t !== knowledgeTask),
      cells: values.map((value, i) =>
        i === 0 ? { value } : { value, delta: value - values[0], better: value > values[0] },
      ),
      best: values.flatMap((v, i) => (v === top ? [i] : [])),
    },
  };
}

/** Downstream tasks on which `model` is better than the baseline of `bench` at p < 0.05 (paired test). */
function significantWins(bench, model, knowledgeTask) {
  const i = bench.models.findIndex((m) => m.name === model);
  return firstRows(bench, (t) => t !== knowledgeTask)
    .filter((r) => r.cells[i].delta > 0 && r.cells[i].test && r.cells[i].test.p < 0.05)
    .map((r) => `${r.task} (p = ${r.cells[i].test.p.toPrecision(2)})`);
}

/**
 * The paper's claim, part by part, on this run. `vsBase` and `vsFinetuned`: benchmark diffs with those
 * baselines; `diag`: from diagnose(); `avg`: downstreamAverage() of vsBase.
 */
export function checks({ diag, vsBase, vsFinetuned, avg, knowledgeTask }) {
  const d = Object.fromEntries(diag.map((m) => [m.name, m]));
  const pct = (v) => (v === undefined ? '–' : `${(100 * v).toFixed(1)} %`);
  const knowledgeRow = firstRows(vsBase, (t) => t === knowledgeTask)[0];
  const ftCell = knowledgeRow?.cells[vsBase.models.findIndex((m) => m.name === 'finetuned')];
  const winsBase = significantWins(vsBase, 'taia', knowledgeTask);
  const winsFt = significantWins(vsFinetuned, 'taia', knowledgeTask);
  return [
    {
      claim: 'the base holds the knowledge (exact match ≥ 90 % on the diagnostic in its pretraining style)',
      holds: d.base.knowledge >= 0.9,
      figures: `base ${pct(d.base.knowledge)}`,
    },
    {
      claim: 'the base does not follow the downstream format (under half of its answers in the expected form)',
      holds: d.base.format < 0.5,
      figures: `base ${pct(d.base.format)} in form`,
    },
    {
      claim: 'fine-tuning teaches the format (≥ 80 % of the fine-tune’s answers in the expected form)',
      holds: d.finetuned.format >= 0.8,
      figures: `finetuned ${pct(d.finetuned.format)} in form`,
    },
    {
      claim: 'fine-tuning damages the knowledge (the diagnostic drops, p < 0.05)',
      holds: ftCell !== undefined && ftCell.delta < 0 && ftCell.test !== undefined && ftCell.test.p < 0.05,
      figures: `finetuned ${pct(d.finetuned.knowledge)} against base ${pct(d.base.knowledge)}${ftCell?.test ? `, p = ${ftCell.test.p.toPrecision(2)}` : ''}`,
    },
    {
      claim: 'TAIA keeps both: its downstream average is above the base’s and the fine-tune’s',
      holds: avg.taia > avg.base && avg.taia > avg.finetuned,
      figures: `taia ${avg.taia.toFixed(3)}, finetuned ${avg.finetuned.toFixed(3)}, base ${avg.base.toFixed(3)}`,
    },
    {
      claim: 'TAIA beats the base significantly on at least one downstream task',
      holds: winsBase.length > 0,
      figures: winsBase.join(', ') || 'none',
    },
    {
      claim: 'TAIA beats the full fine-tune significantly on at least one downstream task',
      holds: winsFt.length > 0,
      figures: winsFt.join(', ') || 'none',
    },
  ];
}
