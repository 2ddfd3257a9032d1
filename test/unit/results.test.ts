// Benchmark results: the importers against files written here in each tool's published format, the
// malformed inputs they must name, the significance tests against values computed by hand, the diff's
// direction and scale handling, the exports and `taia bench diff`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { compareModels } from '../../src/core/results/compare';
import { diffResults, pairedTest } from '../../src/core/results/diff';
import { legend, toCsv, toLatex, toMarkdown } from '../../src/core/results/format';
import { detectResultFile, loadResults } from '../../src/core/results/load';
import { adjustPValues, erfc, mcnemar, pairedBootstrap, zTest } from '../../src/core/results/stats';
import { TaiaResultsFile, TaiaSampleRecord, writeTaiaResults } from '../../src/core/results/taiaFormat';
import { ModelResults, ResultsError } from '../../src/core/results/types';
import { bench } from '../helpers/bench';
import { tempDir } from '../helpers/tmp';

const root = tempDir('taia-results-');
let counter = 0;
/** Writes `text` to `name` in a fresh folder (named `folder` when given) and returns its path. */
function write(name: string, text: string, folder = `case-${++counter}`): string {
  const dir = path.join(root, folder);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** An lm-evaluation-harness results file as v0.4 writes it (json.dumps, indent 2): a group with subtasks, filters, "N/A" stderr. */
function lmEvalJson(model: string, arc: number, ppl: number): string {
  return JSON.stringify(
    {
      results: {
        arc_easy: {
          alias: 'arc_easy',
          'acc,none': arc,
          'acc_stderr,none': 0.0089,
          'acc_norm,none': 0.7,
          'acc_norm_stderr,none': 0.0094,
        },
        gsm8k: {
          alias: 'gsm8k',
          'exact_match,strict-match': 0.3,
          'exact_match_stderr,strict-match': 'N/A',
          'exact_match,flexible-extract': 0.32,
          'exact_match_stderr,flexible-extract': 0.0128,
        },
        mmlu: { 'acc,none': 0.55, 'acc_stderr,none': 0.004, alias: 'mmlu' },
        mmlu_abstract_algebra: { alias: ' - abstract_algebra', 'acc,none': 0.3, 'acc_stderr,none': 0.046 },
        wikitext: {
          alias: 'wikitext',
          'word_perplexity,none': ppl,
          'word_perplexity_stderr,none': 'N/A',
          'bits_per_byte,none': 0.6,
          'bits_per_byte_stderr,none': 'N/A',
        },
      },
      groups: { mmlu: { 'acc,none': 0.55, 'acc_stderr,none': 0.004, alias: 'mmlu' } },
      group_subtasks: { mmlu: ['mmlu_abstract_algebra'], arc_easy: [], gsm8k: [], wikitext: [] },
      configs: { arc_easy: { task: 'arc_easy' } },
      versions: { arc_easy: 1.0, gsm8k: 3.0, mmlu: 2, mmlu_abstract_algebra: 1.0, wikitext: 2.0 },
      'n-shot': { arc_easy: 0, gsm8k: 5, mmlu_abstract_algebra: 0, wikitext: 0 },
      higher_is_better: {
        arc_easy: { acc: true, acc_norm: true },
        gsm8k: { exact_match: true },
        mmlu: { acc: true },
        mmlu_abstract_algebra: { acc: true },
        wikitext: { word_perplexity: false, bits_per_byte: false },
      },
      'n-samples': { arc_easy: { original: 2376, effective: 2376 }, gsm8k: { original: 1319, effective: 1319 } },
      config: { model: 'hf', model_args: `pretrained=${model},dtype=bfloat16`, batch_size: 'auto', device: 'cuda:0' },
      git_hash: 'abc1234',
      date: 1714557600.5,
    },
    null,
    2,
  );
}

test('lm-evaluation-harness: metrics and filters, "N/A" stderr, groups and subtasks, directions, n, model from model_args', async () => {
  const file = write(
    'results_2024-05-01T10-00-00.500000.json',
    lmEvalJson('Qwen/Qwen1.5-1.8B', 0.75, 12.5),
    'lm/Qwen__Qwen1.5-1.8B',
  );
  assert.equal(await detectResultFile(file), 'lm-eval');
  const [r] = await loadResults(file);
  assert.equal(r.model, 'Qwen/Qwen1.5-1.8B');
  assert.equal(r.format, 'lm-eval');
  assert.equal(r.date, '2024-05-01T10:00:00.500Z');
  assert.deepEqual([...r.tasks.keys()], ['arc_easy', 'gsm8k', 'mmlu', 'mmlu_abstract_algebra', 'wikitext']);
  const arc = r.tasks.get('arc_easy')!;
  assert.deepEqual(arc.metrics.get('acc'), { value: 0.75, stderr: 0.0089, higherIsBetter: true, scale: 'fraction' });
  assert.equal(arc.n, 2376);
  const gsm = r.tasks.get('gsm8k')!;
  assert.deepEqual([...gsm.metrics.keys()], ['exact_match,strict-match', 'exact_match,flexible-extract']);
  assert.equal(gsm.metrics.get('exact_match,strict-match')!.stderr, undefined, '"N/A" is no standard error');
  assert.equal(gsm.metrics.get('exact_match,flexible-extract')!.stderr, 0.0128);
  assert.equal(r.tasks.get('mmlu')!.group, true);
  assert.equal(r.tasks.get('mmlu_abstract_algebra')!.subtask, true);
  assert.deepEqual(r.tasks.get('wikitext')!.metrics.get('word_perplexity'), { value: 12.5, higherIsBetter: false });
  assert.equal(r.tasks.get('wikitext')!.samples, undefined, 'samples only when asked for');
});

test('lm-evaluation-harness: per-example values from samples_<task>_<timestamp>.jsonl, by doc_id and filter', async () => {
  const ts = '2024-05-01T11-00-00.000001';
  const file = write(`results_${ts}.json`, lmEvalJson('/data/ckpt/qwen-ft/', 0.78, 11.9));
  const dir = path.dirname(file);
  writeFileSync(
    path.join(dir, `samples_arc_easy_${ts}.jsonl`),
    [0, 1, 2]
      .map((i) =>
        JSON.stringify({
          doc_id: i,
          doc: { q: '?' },
          target: 'A',
          arguments: [],
          resps: [],
          filtered_resps: ['A'],
          filter: 'none',
          metrics: ['acc', 'acc_norm'],
          acc: i % 2 ? 0.0 : 1.0,
          acc_norm: 1.0,
        }),
      )
      .join('\n') + '\n',
  );
  writeFileSync(
    path.join(dir, `samples_gsm8k_${ts}.jsonl`),
    [
      JSON.stringify({ doc_id: 0, filter: 'strict-match', exact_match: 1.0 }),
      JSON.stringify({ doc_id: 0, filter: 'flexible-extract', exact_match: 0.0 }),
    ].join('\n'),
  );
  const [r] = await loadResults(file, { samples: true });
  assert.equal(r.model, 'qwen-ft', 'a local path is named by its folder');
  const arc = r.tasks.get('arc_easy')!.samples!;
  assert.deepEqual(
    [...arc.get('acc')!],
    [
      ['0', 1],
      ['1', 0],
      ['2', 1],
    ],
  );
  assert.deepEqual([...arc.get('acc_norm')!.values()], [1, 1, 1]);
  const gsm = r.tasks.get('gsm8k')!.samples!;
  assert.deepEqual([...gsm.get('exact_match,strict-match')!], [['0', 1]]);
  assert.deepEqual([...gsm.get('exact_match,flexible-extract')!], [['0', 0]]);
  assert.equal(r.tasks.get('mmlu')!.samples, undefined, 'no samples file, no samples');
});

test('malformed lm-eval files: invalid JSON, no results object, a bad samples line — each names the file (and line)', async () => {
  const bad = write('results_x.json', '{"results": {"arc": {"acc,none": 0.5}');
  await assert.rejects(
    loadResults(bad),
    (e: unknown) => e instanceof ResultsError && e.message.startsWith(`${bad}: invalid JSON`),
  );
  const other = write('results.json', JSON.stringify({ results: [1, 2], versions: {} }));
  await assert.rejects(
    loadResults(other),
    new RegExp(`^ResultsError: ${escape(other)}: not an lm-evaluation-harness results file`),
  );
  const ts = '2024';
  const file = write(`results_${ts}.json`, lmEvalJson('m', 0.7, 10));
  writeFileSync(
    path.join(path.dirname(file), `samples_arc_easy_${ts}.jsonl`),
    `${JSON.stringify({ doc_id: 0, acc: 1 })}\n{"doc_id": 1, "acc": \n`,
  );
  const samples = path.join(path.dirname(file), `samples_arc_easy_${ts}.jsonl`);
  await assert.rejects(
    loadResults(file, { samples: true }),
    (e: unknown) => e instanceof ResultsError && e.line === 2 && e.message.startsWith(`${samples}:2: invalid JSON`),
  );
  // The scores alone still load: the tree never reads samples.
  assert.equal((await loadResults(file))[0].tasks.size, 5);
});

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('OpenCompass summary: a column per model, "-" for missing, quoted names, separator rows, percentages', async () => {
  const csv = [
    'dataset,version,metric,mode,qwen1.5-7b-hf,qwen1.5-7b-taia',
    '--------- 考试 Exam ---------,-,-,-,-,-',
    'gsm8k,1d7fe4,accuracy,gen,54.21,57.62',
    'math,393424,accuracy,gen,-,20.14',
    '"bbh, all",5b92b0,naive_average,gen,40.10,41.00',
    'mmlu_ppl,-,perplexity,ppl,8.12,7.90',
    '',
  ].join('\r\n');
  const file = write('summary_20240501_120000.csv', csv, 'oc/summary');
  assert.equal(await detectResultFile(file), 'opencompass');
  const [base, taia] = await loadResults(file);
  assert.equal(base.model, 'qwen1.5-7b-hf');
  assert.equal(taia.model, 'qwen1.5-7b-taia');
  assert.equal(base.date, '2024-05-01T12:00:00');
  assert.deepEqual(
    base.tasks.get('gsm8k')!.metrics.get('acc'),
    { value: 54.21, higherIsBetter: true, scale: 'percent' },
    '"accuracy" aligns with lm-eval\'s "acc"',
  );
  assert.equal(base.tasks.has('math'), false, "'-' is a missing task");
  assert.equal(taia.tasks.get('math')!.metrics.get('acc')!.value, 20.14);
  assert.equal(base.tasks.get('bbh, all')!.group, true);
  assert.equal(base.tasks.get('mmlu_ppl')!.metrics.get('perplexity')!.higherIsBetter, false);
  assert.equal(base.tasks.size, 3, 'the separator row is no task');

  const wrongHeader = write('summary_1.csv', 'dataset,metric,qwen\ngsm8k,accuracy,50\n');
  assert.equal(await detectResultFile(wrongHeader), undefined);
  await assert.rejects(
    loadResults(wrongHeader),
    (e: unknown) =>
      e instanceof ResultsError && e.line === 1 && /header must start with dataset,version,metric,mode/.test(e.message),
  );
  const badValue = write(
    'summary_2.csv',
    'dataset,version,metric,mode,a\ngsm8k,x,accuracy,gen,54.2\nmath,y,accuracy,gen,n/a\n',
  );
  await assert.rejects(
    loadResults(badValue),
    (e: unknown) =>
      e instanceof ResultsError && e.message === `${badValue}:3: 'n/a' for math / a is neither a number nor '-'`,
  );
  const short = write('summary_3.csv', 'dataset,version,metric,mode,a,b\ngsm8k,x,accuracy,gen,54.2\n');
  await assert.rejects(loadResults(short), new RegExp(`${escape(short)}:2: expected 6 fields, found 5`));
});

test("TAIA logs: 'Acc in {dataset}: {acc}' lines, model from the file or (generic name) the folder", async () => {
  const log = write(
    'eval.log',
    'loading shards...\n100%|████| 500/500\nAcc in MATH: 0.1234\nAcc in svamp: 56.7\nAcc in commonsense_qa: 71.2%\nAcc in MATH: 0.1300\n',
    'outputs/qwen-7b-taia',
  );
  assert.equal(await detectResultFile(log), 'taia-log');
  const [r] = await loadResults(log);
  assert.equal(r.model, 'qwen-7b-taia');
  assert.deepEqual(
    r.tasks.get('MATH')!.metrics.get('acc'),
    { value: 0.13, higherIsBetter: true, scale: 'fraction' },
    'a rerun replaces the earlier line',
  );
  assert.equal(r.tasks.get('svamp')!.metrics.get('acc')!.scale, 'percent');
  assert.equal(r.tasks.get('commonsense_qa')!.metrics.get('acc')!.scale, 'percent');
  const named = write('llama3-8b-vanilla.txt', 'Acc in bbh: 0.5\n');
  assert.equal((await loadResults(named))[0].model, 'llama3-8b-vanilla');
  const none = write('notes.txt', 'Accuracy improved a lot\n');
  assert.equal(await detectResultFile(none), undefined, 'a text file without score lines is not a result file');
  await assert.rejects(
    loadResults(none),
    new RegExp(`^ResultsError: ${escape(none)}: no 'Acc in \\{dataset\\}: \\{acc\\}' line`),
  );
});

const taiaFile = (name: string, acc: number, over: Partial<TaiaResultsFile> = {}): TaiaResultsFile => ({
  format: 'taia-results',
  version: 1,
  model: { name, path: `/models/${name}`, recipe: 'taia' },
  created: '2026-01-01T00:00:00.000Z',
  tool: 'taia-lab 0.1.0',
  tasks: {
    svamp: { metrics: { exact_match: { value: acc, stderr: 0.02, higher_is_better: true, scale: 'fraction' } }, n: 40 },
  },
  ...over,
});

/** 0/1 records of `n` examples: example i is right when `right(i)`. */
const records = (task: string, n: number, right: (i: number) => boolean): TaiaSampleRecord[] =>
  Array.from({ length: n }, (_, i) => ({
    task,
    id: `q${i}`,
    metrics: { exact_match: right(i) ? 1 : 0 },
    prediction: String(i),
    target: String(i),
  }));

test('own format: writeTaiaResults writes the file and its samples JSONL; loadResults reads both back', async () => {
  const file = path.join(root, 'own', 'qwen-taia.taia-results.json');
  const written = await writeTaiaResults(
    file,
    taiaFile('qwen-taia', 0.6),
    records('svamp', 40, (i) => i < 24),
  );
  assert.equal(written.samples, path.join(root, 'own', 'qwen-taia.samples.jsonl'));
  assert.equal(await detectResultFile(file), 'taia-results');
  const [r] = await loadResults(file, { samples: true });
  assert.equal(r.model, 'qwen-taia');
  assert.equal(r.format, 'taia-results');
  const t = r.tasks.get('svamp')!;
  assert.deepEqual(t.metrics.get('exact_match'), { value: 0.6, stderr: 0.02, higherIsBetter: true, scale: 'fraction' });
  assert.equal(t.n, 40);
  assert.equal(t.samples!.get('exact_match')!.size, 40);
  assert.equal(t.samples!.get('exact_match')!.get('q23'), 1);
  assert.equal(t.samples!.get('exact_match')!.get('q24'), 0);
  await assert.rejects(
    writeTaiaResults(path.join(root, 'own', 'x.json'), taiaFile('x', 1)),
    /name ends with \.taia-results\.json/,
  );
});

test('compareModels: per-example tests from the samples, a missing model or file becomes a problem, a vanished baseline falls back to the first', async () => {
  const dir = path.join(root, 'compare');
  const base = path.join(dir, 'base.taia-results.json');
  const taia = path.join(dir, 'taia.taia-results.json');
  await writeTaiaResults(
    base,
    taiaFile('base', 0.5),
    records('svamp', 40, (i) => i < 20),
  );
  await writeTaiaResults(
    taia,
    taiaFile('taia', 0.6),
    records('svamp', 40, (i) => i < 24),
  );
  const missing = path.join(dir, 'gone.taia-results.json');
  const { report, problems } = await compareModels(
    [
      { file: base, model: 'base' },
      { file: taia, model: 'taia' },
      { file: taia, model: 'other' },
      { file: missing, model: 'gone' },
    ],
    'gone',
  );
  assert.equal(report!.baseline, 'base');
  assert.deepEqual(
    report!.models.map((m) => m.name),
    ['base', 'taia'],
  );
  assert.equal(report!.rows[0].cells[1].test?.method, 'mcnemar-exact');
  assert.equal(problems.length, 2);
  assert.match(problems[0], /taia\.taia-results\.json: no longer holds model 'other'/);
  assert.ok(problems[1].includes(missing), problems[1]);
  assert.deepEqual(await compareModels([{ file: missing, model: 'gone' }]), { problems: [problems[1]] });
});

test('own format: validation errors name the file and the field', async () => {
  const cases: [unknown, RegExp][] = [
    [{ ...taiaFile('a', 0.5), version: 2 }, /version 2 is not supported/],
    [{ ...taiaFile('a', 0.5), model: {} }, /"model.name" must be a non-empty string/],
    [
      { ...taiaFile('a', 0.5), tasks: { t: { metrics: { acc: { value: 0.5 } } } } },
      /tasks\.t\.metrics\.acc\.higher_is_better must be true or false/,
    ],
    [
      { ...taiaFile('a', 0.5), tasks: { t: { metrics: { acc: { value: 'high', higher_is_better: true } } } } },
      /tasks\.t\.metrics\.acc\.value must be a finite number/,
    ],
  ];
  for (const [json, message] of cases) {
    const file = write('m.taia-results.json', JSON.stringify(json));
    await assert.rejects(
      loadResults(file),
      (e: unknown) => e instanceof ResultsError && e.message.startsWith(`${file}: `) && message.test(e.message),
    );
  }
  const file = write(
    'm.taia-results.json',
    JSON.stringify({
      ...taiaFile('a', 0.5),
      tasks: {
        svamp: { metrics: { exact_match: { value: 0.5, higher_is_better: true } }, samples: 'm.samples.jsonl' },
      },
    }),
  );
  writeFileSync(
    path.join(path.dirname(file), 'm.samples.jsonl'),
    '{"task": "svamp", "id": 1, "metrics": {"exact_match": 1}}\n{"task": "svamp", "metrics": {}}\n',
  );
  await assert.rejects(
    loadResults(file, { samples: true }),
    (e: unknown) =>
      e instanceof ResultsError &&
      e.message === `${path.join(path.dirname(file), 'm.samples.jsonl')}:2: record has no "id"`,
  );
});

test('discovery: names first, then content', async () => {
  assert.equal(
    await detectResultFile(write('results.json', JSON.stringify({ accuracy: 0.5 }))),
    undefined,
    "another tool's results.json",
  );
  // lm-eval before 0.4.3 wrote whatever --output_path said: the content decides (issue 15).
  assert.equal(
    await detectResultFile(write('data.json', lmEvalJson('m', 0.5, 1))),
    'lm-eval',
    'an lm-eval file of any name',
  );
  assert.equal(await detectResultFile(write('summary.csv', 'a,b\n1,2\n')), undefined);
  assert.equal(
    await detectResultFile(path.join(root, 'missing', 'results_1.json')),
    undefined,
    'unreadable is not a result file',
  );
  // The score lines at the end of a long training log are found.
  const long = write('train.log', `${'step 1 loss 2.0\n'.repeat(20000)}Acc in gsm8k: 0.41\n`);
  assert.equal(await detectResultFile(long), 'taia-log');
});

// ── Significance tests, checked against values computed by hand ──

test('McNemar, exact: two-sided binomial tail over the discordant pairs', () => {
  // b = 1, c = 7: n = 8, P(X ≤ 1) = (C(8,0) + C(8,1)) / 2⁸ = 9/256, doubled: 18/256 = 0.0703125.
  const a = mcnemar(1, 7);
  assert.equal(a.method, 'mcnemar-exact');
  assert.ok(Math.abs(a.p - 18 / 256) < 1e-12, String(a.p));
  // b = 2, c = 10: n = 12, P(X ≤ 2) = (1 + 12 + 66) / 4096 = 79/4096, doubled: 158/4096 = 0.03857421875.
  assert.ok(Math.abs(mcnemar(2, 10).p - 158 / 4096) < 1e-12);
  assert.ok(Math.abs(mcnemar(10, 2).p - 158 / 4096) < 1e-12, 'symmetric');
  // b = c: the tail is at least half, so p is capped at 1. No discordant pairs: p = 1.
  assert.equal(mcnemar(3, 3).p, 1);
  assert.equal(mcnemar(0, 0).p, 1);
});

test('McNemar, chi-square with continuity correction from 25 discordant pairs', () => {
  // b = 10, c = 25: χ² = (|10 − 25| − 1)² / 35 = 196/35 = 5.6; p = P(χ²₁ > 5.6) = erfc(√(5.6/2)) = 0.0179605.
  const r = mcnemar(10, 25);
  assert.equal(r.method, 'mcnemar-chi2');
  assert.ok(Math.abs(r.statistic - 5.6) < 1e-12);
  assert.ok(Math.abs(r.p - 0.0179605) < 1e-6, String(r.p));
  // b = 30, c = 20: χ² = (10 − 1)² / 50 = 1.62; p = erfc(√0.81) = erfc(0.9) = 0.2030918.
  assert.ok(Math.abs(mcnemar(30, 20).p - 0.2030918) < 1e-6);
  assert.ok(Math.abs(erfc(0.9) - 0.2030918) < 1e-6);
});

test('z-test on reported standard errors', () => {
  // 0.75 ± 0.0089 vs 0.78 ± 0.0085: se = √(0.0089² + 0.0085²) = 0.0123069; z = 0.03 / 0.0123069 = 2.43766;
  // p = 2(1 − Φ(2.43766)) = 0.0147829.
  const r = zTest(0.75, 0.0089, 0.78, 0.0085)!;
  assert.ok(Math.abs(r.statistic - 2.43766) < 1e-5);
  assert.ok(Math.abs(r.p - 0.0147829) < 1e-6, String(r.p));
  assert.equal(zTest(0.5, 0, 0.6, 0), undefined, 'no standard errors, no test');
});

test('paired bootstrap: seeded, reproducible, agrees with the normal approximation', () => {
  const n = 400;
  const x = Array.from({ length: n }, (_, i) => (i % 7) / 7);
  // Differences with mean ≈ 0.02 and sd ≈ 0.3: se ≈ 0.015, so z ≈ 1.3 and p ≈ 0.2 by the normal approximation.
  const d = Array.from({ length: n }, (_, i) => 0.02 + 0.3 * Math.sin(i * 1.7));
  const y = x.map((v, i) => v + d[i]);
  const r = pairedBootstrap(x, y)!;
  assert.deepEqual(pairedBootstrap(x, y), r, 'the same seed gives the same answer');
  const mean = d.reduce((s, v) => s + v, 0) / n;
  const sd = Math.sqrt(d.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  const se = sd / Math.sqrt(n);
  assert.ok(Math.abs(r.statistic - mean) < 1e-12);
  const normalP = erfc(Math.abs(mean / se) / Math.SQRT2);
  assert.ok(Math.abs(r.p - normalP) < 0.02, `bootstrap p ${r.p} vs normal ${normalP}`);
  assert.ok(
    Math.abs(r.ci![0] - (mean - 1.96 * se)) < 0.003 && Math.abs(r.ci![1] - (mean + 1.96 * se)) < 0.003,
    `CI ${r.ci} vs ${mean} ± ${1.96 * se}`,
  );
  // A clear improvement: no resample comes near zero, so p is the smallest possible, 1 / (B + 1).
  const far = pairedBootstrap(
    x,
    x.map((v, i) => v + 0.2 + 0.05 * Math.sin(i)),
  )!;
  assert.equal(far.p, 1 / 10001);
});

test('pairedTest: McNemar for 0/1 values, bootstrap otherwise, only over examples both sides have', () => {
  const base = new Map(Array.from({ length: 30 }, (_, i) => [`q${i}`, i < 10 ? 1 : 0] as [string, number]));
  // The other model gets q0..q2 wrong (b = 3) and q10..q19 right (c = 10); q29 is missing on its side.
  const other = new Map(
    [...base]
      .filter(([id]) => id !== 'q29')
      .map(([id, v]) => [id, Number(id.slice(1)) < 3 ? 0 : Number(id.slice(1)) < 20 ? 1 : v] as [string, number]),
  );
  const r = pairedTest(base, other)!;
  assert.equal(r.method, 'mcnemar-exact');
  assert.deepEqual(r.discordant, { b: 3, c: 10 });
  assert.equal(r.n, 29);
  // n = 13: P(X ≤ 3) = (1 + 13 + 78 + 286) / 8192 = 378/8192, doubled: 756/8192.
  assert.ok(Math.abs(r.p - 756 / 8192) < 1e-12);
  const f1 = pairedTest(
    new Map([
      ['a', 0.5],
      ['b', 0.25],
    ]),
    new Map([
      ['a', 0.75],
      ['b', 0.5],
    ]),
  )!;
  assert.equal(f1.method, 'bootstrap');
  assert.equal(pairedTest(new Map([['a', 1]]), new Map([['b', 1]])), undefined, 'no common examples');
});

// ── The diff ──

function model(
  name: string,
  tasks: Record<
    string,
    Record<string, { value: number; stderr?: number; higherIsBetter?: boolean; scale?: 'fraction' | 'percent' }>
  >,
  samples?: Record<string, Record<string, number[]>>,
): ModelResults {
  return {
    model: name,
    file: `/ws/${name}.taia-results.json`,
    format: 'taia-results',
    tasks: new Map(
      Object.entries(tasks).map(([task, metrics]) => [
        task,
        {
          metrics: new Map(Object.entries(metrics).map(([m, v]) => [m, { higherIsBetter: true, ...v }])),
          ...(samples?.[task]
            ? {
                samples: new Map(
                  Object.entries(samples[task]).map(([m, vs]) => [m, new Map(vs.map((v, i) => [`q${i}`, v]))]),
                ),
              }
            : {}),
        },
      ]),
    ),
  };
}

test('diff: baseline first, deltas, direction of each metric, best per row, what differs', () => {
  const base = model('base', {
    gsm8k: { acc: { value: 0.5, stderr: 0.01 } },
    wikitext: { word_perplexity: { value: 12, higherIsBetter: false } },
    arc: { acc: { value: 0.7 } },
  });
  const ft = model('ft', {
    gsm8k: { acc: { value: 0.46, stderr: 0.01 } },
    wikitext: { word_perplexity: { value: 11, higherIsBetter: false } },
    arc: { acc: { value: 0.7 } },
  });
  const taia = model('taia', {
    GSM8K: { acc: { value: 0.55, stderr: 0.01 } },
    wikitext: { word_perplexity: { value: 13, higherIsBetter: false } },
  });
  const r = diffResults([ft, base, taia], 'base');
  assert.deepEqual(
    r.models.map((m) => m.name),
    ['base', 'ft', 'taia'],
  );
  assert.equal(r.baseline, 'base');
  const [gsm, ppl, arc] = r.rows;
  assert.equal(gsm.task, 'gsm8k', "the baseline's spelling; tasks match without case");
  assert.ok(Math.abs(gsm.cells[1].delta! + 0.04) < 1e-12);
  assert.equal(gsm.cells[1].better, false);
  assert.equal(gsm.cells[2].better, true);
  assert.deepEqual(gsm.best, [2]);
  // z = ±0.04/√0.0002 = ±2.828 → p = 0.00468 (**); ±0.05/√0.0002 = 3.536 → p = 0.000407 (***).
  assert.equal(gsm.cells[1].test!.method, 'z-test');
  assert.equal(gsm.cells[1].mark, '**');
  assert.equal(gsm.cells[2].mark, '***');
  assert.equal(gsm.cells[0].test, undefined, 'the baseline is not tested against itself');
  // Lower is better: the perplexity falling is the better way.
  assert.equal(ppl.higherIsBetter, false);
  assert.equal(ppl.cells[1].better, true);
  assert.equal(ppl.cells[2].better, false);
  assert.deepEqual(ppl.best, [1]);
  assert.equal(ppl.cells[1].mark, '', 'no standard errors: no test, no mark');
  // Missing for one model: still a row, and it differs.
  assert.equal(arc.cells[2].value, undefined);
  assert.equal(arc.differs, true);
  assert.deepEqual(arc.best, [], 'a tie between all that have it is no best');
  // Average: tasks every model has, higher-is-better first metrics: gsm8k only.
  assert.deepEqual(r.average!.tasks, ['gsm8k']);
  assert.match(r.notes.join(' '), /Average leaves out arc/);
  assert.throws(() => diffResults([base], 'nobody'), /no model named 'nobody'/);
});

test('p-value corrections: Holm and Benjamini-Hochberg as R p.adjust computes them', () => {
  // p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") = 0.03 0.06 0.06 0.02; "BH" = 0.02 0.04 0.04 0.02
  const close = (a: number[], b: number[]) => a.every((x, i) => Math.abs(x - b[i]) < 1e-12);
  assert.ok(close(adjustPValues([0.01, 0.04, 0.03, 0.005], 'holm'), [0.03, 0.06, 0.06, 0.02]));
  assert.ok(close(adjustPValues([0.01, 0.04, 0.03, 0.005], 'bh'), [0.02, 0.04, 0.04, 0.02]));
  assert.deepEqual(adjustPValues([0.5, 0.9], 'holm'), [1, 1]);
  assert.deepEqual(adjustPValues([0.01, 0.04], 'none'), [0.01, 0.04]);
});

test('diff with a correction: each model is one family; marks, significance, legend and CSV follow the adjusted p', () => {
  // z-tests with standard errors 0.01 on both sides: Δ 0.033, 0.031, 0.01 → p ≈ 0.0196, 0.0284, 0.48.
  const tasks = { a: 0.533, b: 0.531, c: 0.51 };
  const base = model(
    'base',
    Object.fromEntries(
      Object.keys(tasks).map((t) => [t, { acc: { value: 0.5, stderr: 0.01, scale: 'fraction' as const } }]),
    ),
  );
  const ft = model(
    'ft',
    Object.fromEntries(
      Object.entries(tasks).map(([t, v]) => [t, { acc: { value: v, stderr: 0.01, scale: 'fraction' as const } }]),
    ),
  );
  const plain = diffResults([base, ft]);
  assert.equal(plain.correction, 'none');
  assert.deepEqual(
    plain.rows.map((r) => r.cells[1].mark),
    ['*', '*', ''],
  );
  assert.equal(plain.rows[0].cells[1].pAdjusted, undefined);
  const raw = plain.rows.map((r) => r.cells[1].test!.p);
  const holm = diffResults([base, ft], undefined, 'holm');
  assert.deepEqual(
    holm.rows.map((r) => r.cells[1].pAdjusted),
    adjustPValues(raw, 'holm'),
  );
  assert.deepEqual(
    holm.rows.map((r) => r.cells[1].mark),
    ['', '', ''],
    'Holm: 3·0.0196 and 2·0.0284 are above 0.05',
  );
  assert.deepEqual(
    holm.rows.map((r) => r.significant),
    [false, false, false],
  );
  const bh = diffResults([base, ft], undefined, 'bh');
  assert.deepEqual(
    bh.rows.map((r) => r.cells[1].mark),
    ['*', '*', ''],
    'BH: both ≈ 0.043',
  );
  assert.match(legend(holm), /p-values Holm-adjusted over each model's tests\.$/);
  const csv = toCsv(holm).split('\n');
  assert.match(csv[0], /,ft p,ft p holm,ft test$/);
  assert.equal(Number(csv[1].split(',').at(-2)), holm.rows[0].cells[1].pAdjusted);
});

test('diff: paired tests where both sides have per-example records; fractions scaled to match percentages', () => {
  // 30 examples: base right on q0..q9; ft also on q10..q19 but wrong on q0 (b = 1, c = 10 → exact p = 2·12/2048).
  const baseRight = Array.from({ length: 30 }, (_, i) => (i < 10 ? 1 : 0));
  const ftRight = Array.from({ length: 30 }, (_, i) => (i === 0 ? 0 : i < 20 ? 1 : 0));
  const base = model(
    'base',
    { svamp: { exact_match: { value: 1 / 3, stderr: 0.08, scale: 'fraction' } } },
    { svamp: { exact_match: baseRight } },
  );
  const ft = model(
    'ft',
    { svamp: { exact_match: { value: 19 / 30, stderr: 0.08, scale: 'fraction' } } },
    { svamp: { exact_match: ftRight } },
  );
  const oc = model('oc', { svamp: { exact_match: { value: 40.5, scale: 'percent' } } });
  const r = diffResults([base, ft, oc]);
  const [row] = r.rows;
  assert.equal(row.unit, 'percent');
  assert.ok(Math.abs(row.cells[0].value! - 100 / 3) < 1e-9, 'the fraction is shown in percent');
  assert.ok(Math.abs(row.cells[0].stderr! - 8) < 1e-9);
  assert.equal(row.cells[1].test!.method, 'mcnemar-exact', 'records on both sides: paired, not the z-test');
  assert.deepEqual(row.cells[1].test!.discordant, { b: 1, c: 10 });
  // n = 11: P(X ≤ 1) = (1 + 11) / 2048, doubled: 24/2048 = 0.01171875.
  assert.ok(Math.abs(row.cells[1].test!.p - 24 / 2048) < 1e-12);
  assert.equal(row.cells[1].mark, '*');
  assert.equal(row.cells[2].test, undefined, 'no records and no standard error on that side');
  assert.match(r.notes.join(' '), /fractions shown as percentages/);
});

// ── Exports ──

const HOSTILE = 'a|b_$x&y<script>';

function exportReport() {
  const base = model(HOSTILE, {
    gsm8k: { acc: { value: 0.5, stderr: 0.01, scale: 'fraction' } },
    ppl: { word_perplexity: { value: 12, higherIsBetter: false } },
  });
  const ft = model('ft', {
    gsm8k: { acc: { value: 0.55, stderr: 0.01, scale: 'fraction' } },
    ppl: { word_perplexity: { value: 11, higherIsBetter: false } },
  });
  return diffResults([base, ft]);
}

test('Markdown: baseline column, Δ with marks, best in bold, names escaped, legend', () => {
  const md = toMarkdown(exportReport());
  const lines = md.split('\n');
  assert.equal(lines[0], '| task | metric | a\\|b_$x&y<script> (baseline) | ft |');
  assert.equal(lines[1], '|---|---|---:|---:|');
  assert.equal(lines[2], '| gsm8k | acc ↑ | 0.5000 | **0.5500** (+0.0500***) |');
  assert.equal(lines[3], '| ppl | word_perplexity ↓ | 12 | **11** (−1) |');
  assert.equal(lines[4], '| **Average** | 1 task | 0.5000 | **0.5500** (+0.0500) |');
  assert.match(
    md,
    /Δ against a\\\|b_\$x&y<script>\. \* p < 0\.05, \*\* p < 0\.01, \*\*\* p < 0\.001 \(z-test on standard errors\)\./,
  );
});

test('LaTeX: booktabs, best per row in bold, significance as superscripts, special characters escaped', () => {
  const tex = toLatex(exportReport());
  assert.match(tex, /^\\begin\{table\}\[t\]\n\\centering\n\\begin\{tabular\}\{llrr\}\n\\toprule\n/);
  assert.ok(
    tex.includes('Task & Metric & a\\textbar{}b\\_\\$x\\&y\\textless{}script\\textgreater{} & ft \\\\\n\\midrule\n'),
    tex,
  );
  assert.ok(tex.includes('gsm8k & acc $\\uparrow$ & 0.5000 & \\textbf{0.5500}$^{***}$ \\\\'), tex);
  assert.ok(tex.includes('ppl & word\\_perplexity $\\downarrow$ & 12 & \\textbf{11} \\\\'), tex);
  assert.ok(tex.includes('\\midrule\nAverage & & 0.5000 & \\textbf{0.5500} \\\\\n\\bottomrule\n\\end{tabular}\n'), tex);
  assert.ok(
    tex.includes(
      '\\caption{Significance against a\\textbar{}b\\_\\$x\\&y\\textless{}script\\textgreater{}: $^{*}$ $p<0.05$, $^{**}$ $p<0.01$, $^{***}$ $p<0.001$ (z-test on standard errors). Best per row in bold.}',
    ),
    tex,
  );
});

test('CSV: values, standard errors, Δ, p and test per model; a formula-looking name is defused', () => {
  const csv = toCsv(
    diffResults([
      model('=cmd|x', { t: { acc: { value: 0.5, stderr: 0.01 } } }),
      model('b', { t: { acc: { value: 0.6, stderr: 0.01 } } }),
    ]),
  );
  const [head, row] = csv.split('\n');
  assert.equal(head, "task,metric,higher_is_better,unit,'=cmd|x,'=cmd|x stderr,b,b stderr,b delta,b p,b test");
  assert.match(row, /^t,acc,true,raw,0\.5,0\.01,0\.6,0\.01,0\.09999\d*,[\d.e-]+,z-test$/);
});

// ── CLI ──

test('taia bench diff: files and folders, --baseline, each output format, errors', async () => {
  const dir = path.join(root, 'cli');
  const a = path.join(dir, 'base.taia-results.json');
  const b = path.join(dir, 'sub', 'taia.taia-results.json');
  await writeTaiaResults(
    a,
    taiaFile('base', 0.5),
    records('svamp', 40, (i) => i < 20),
  );
  await writeTaiaResults(
    b,
    taiaFile('taia', 0.6),
    records('svamp', 40, (i) => i < 24),
  );
  const text = await bench('diff', dir);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /^task +metric +base \(baseline\) +taia\n/);
  // Discordant: b = 0, c = 4 → exact p = 2/16 = 0.125, no mark.
  assert.match(text.out, /\nsvamp +exact_match ↑ +0\.5000 +0\.6000 \+0\.1000\n/);
  const json = JSON.parse((await bench('diff', a, b, '--baseline', 'taia', '--json')).out);
  assert.equal(json.baseline, 'taia');
  assert.equal(json.rows[0].cells[1].test.method, 'mcnemar-exact');
  assert.equal(json.rows[0].cells[1].test.p, 0.125);
  assert.match((await bench('diff', a, b, '--markdown')).out, /^\| task \| metric \| base \(baseline\) \| taia \|/);
  assert.match((await bench('diff', a, b, '--latex')).out, /\\begin\{tabular\}\{llrr\}/);
  assert.match((await bench('diff', a, b, '--csv')).out, /^task,metric,higher_is_better,unit,base,/);
  await assert.rejects(bench('diff', a, b, '--json', '--csv'), /choose one of --json, --csv/);
  await assert.rejects(bench('diff', a, '--baseline', 'nobody'), /no model named 'nobody'/);
  assert.equal(JSON.parse((await bench('diff', a, b, '--correction', 'holm', '--json')).out).correction, 'holm');
  await assert.rejects(bench('diff', a, b, '--correction', 'bonferroni'), /--correction must be one of none, holm, bh/);
  await assert.rejects(bench('frob'), /unknown subcommand 'bench frob'/);
  const broken = write('results_1.json', '{"results": {');
  const r = await bench('diff', a, broken);
  assert.equal(r.code, 1);
  assert.match(r.err, new RegExp(`^taia: error: ${escape(broken)}: invalid JSON`));
});
