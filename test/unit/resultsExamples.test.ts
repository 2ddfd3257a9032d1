// The examples behind a benchmark cell: texts from this project's records and from lm-eval's samples
// files, and flip counts that are the very b and c of the diff's McNemar test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { compareModels } from '../../src/core/results/compare';
import { compareExamples } from '../../src/core/results/examples';
import { TaiaResultsFile, writeTaiaResults } from '../../src/core/results/taiaFormat';
import { tempDir } from '../helpers/tmp';

const root = tempDir('taia-examples-');

const file = (name: string, acc: number, n: number): TaiaResultsFile => ({
  format: 'taia-results',
  version: 1,
  model: { name },
  created: '2026-01-01T00:00:00.000Z',
  tasks: {
    capitals: { n, metrics: { exact_match: { value: acc, stderr: 0.05, higher_is_better: true, scale: 'fraction' } } },
  },
});

test('flip counts match the McNemar b and c of the diff; each row has prompt, reference and every answer', async () => {
  // 30 examples: the fine-tune is right on 0–10; TAIA is right on 0–16 but 3, and on 25: it fixes 7 and breaks 1.
  const n = 30;
  const base = (i: number) => i < 20;
  const ft = (i: number) => i < 11;
  const taia = (i: number) => (i < 17 && i !== 3) || i === 25;
  const write = async (name: string, right: (i: number) => boolean) => {
    const f = path.join(root, `${name}.taia-results.json`);
    const rows = Array.from({ length: n }, (_, i) => ({
      task: 'capitals',
      id: `q${i}`,
      prompt: `capital of country ${i}?`,
      target: `City${i}`,
      prediction: right(i) ? `City${i}` : 'Nowhere',
      metrics: { exact_match: right(i) ? 1 : 0 },
    }));
    await writeTaiaResults(f, file(name, rows.filter((r) => r.metrics.exact_match).length / n, n), rows);
    return { file: f, model: name };
  };
  const refs = [await write('base', base), await write('ft', ft), await write('taia', taia)];
  const { report } = await compareModels(refs, 'ft');
  const cell = report!.rows[0].cells[report!.models.findIndex((m) => m.name === 'taia')];
  const view = await compareExamples(refs, 'ft', 'taia', 'capitals', 'exact_match');
  assert.deepEqual(view.models, ['ft', 'taia', 'base']);
  assert.equal(view.binary, true);
  assert.deepEqual({ b: view.counts.broken, c: view.counts.fixed }, cell.test!.discordant, 'the counts are McNemar’s');
  assert.deepEqual(view.counts, { paired: 30, fixed: 7, broken: 1, bothRight: 10, bothWrong: 12 });
  const q12 = view.rows.find((r) => r.id === 'q12')!;
  assert.equal(q12.flip, 'fixed');
  assert.equal(q12.prompt, 'capital of country 12?');
  assert.equal(q12.target, 'City12');
  assert.deepEqual(q12.answers, [
    { value: 0, prediction: 'Nowhere' },
    { value: 1, prediction: 'City12' },
    { value: 1, prediction: 'City12' },
  ]);
  assert.equal(view.rows.find((r) => r.id === 'q25')!.flip, 'fixed');
  assert.equal(view.rows.find((r) => r.id === 'q3')!.flip, 'broken');
  assert.equal(view.rows.find((r) => r.id === 'q0')!.flip, 'same');
  await assert.rejects(compareExamples(refs, 'ft', 'nobody', 'capitals', 'exact_match'), /no model named 'nobody'/);
  await assert.rejects(
    compareExamples(refs, 'ft', 'taia', 'sums', 'exact_match'),
    /ft has no per-example records of sums/,
  );
});

test('lm-eval samples: the prompt from arguments, a generated answer, and the likeliest choice of a multiple-choice task', async () => {
  // Records in the shape lm-eval 0.4 writes with --log_samples (doc_id, arguments gen_args_N, filtered_resps, target, metric).
  const dir = path.join(root, 'lm-eval', 'model-a');
  mkdirSync(dir, { recursive: true });
  const ts = '2026-01-01T00-00-00.000000';
  writeFileSync(
    path.join(dir, `results_${ts}.json`),
    JSON.stringify({
      results: {
        gsm8k: { alias: 'gsm8k', 'exact_match,none': 0.5, 'exact_match_stderr,none': 0.5 },
        arc_easy: { alias: 'arc_easy', 'acc,none': 0.5, 'acc_stderr,none': 0.5 },
      },
      config: { model_args: 'pretrained=model-a' },
    }),
  );
  const gen = (id: number, answer: string, right: number) => ({
    doc_id: id,
    target: '4',
    arguments: { gen_args_0: { arg_0: `Question: ${id} + 2?\nAnswer:`, arg_1: { until: ['\n'] } } },
    resps: [[answer]],
    filtered_resps: [answer],
    filter: 'none',
    metrics: ['exact_match'],
    exact_match: right,
  });
  writeFileSync(
    path.join(dir, `samples_gsm8k_${ts}.jsonl`),
    [gen(0, '4', 1), gen(1, '5', 0)].map((r) => JSON.stringify(r)).join('\n') + '\n',
  );
  const mc = (id: number, ll: number[], right: number) => ({
    doc_id: id,
    target: 1,
    arguments: {
      gen_args_0: { arg_0: 'Which is a fruit?\nAnswer:', arg_1: ' stone' },
      gen_args_1: { arg_0: 'Which is a fruit?\nAnswer:', arg_1: ' apple' },
    },
    resps: ll.map((v) => [[String(v), 'False']]),
    filtered_resps: ll.map((v) => [String(v), 'False']),
    filter: 'none',
    metrics: ['acc'],
    acc: right,
  });
  writeFileSync(
    path.join(dir, `samples_arc_easy_${ts}.jsonl`),
    [mc(0, [-3, -1], 1), mc(1, [-1, -3], 0)].map((r) => JSON.stringify(r)).join('\n') + '\n',
  );
  const ref = { file: path.join(dir, `results_${ts}.json`), model: 'model-a' };
  // One file twice: the diff names the columns apart, and the view takes those names.
  const { report } = await compareModels([ref, ref]);
  const [n0, n1] = report!.models.map((m) => m.name);
  const view = await compareExamples([ref, ref], n0, n1, 'gsm8k', 'exact_match');
  assert.equal(view.rows[0].prompt, 'Question: 0 + 2?\nAnswer:');
  assert.equal(view.rows[1].answers[0]!.prediction, '5');
  assert.equal(view.rows[0].target, '4');
  const choice = await compareExamples([ref, ref], n0, n1, 'arc_easy', 'acc');
  assert.deepEqual(
    choice.rows.map((r) => r.answers[0]!.prediction),
    ['apple', 'stone'],
  );
});
