// The importers on real result files (test/fixtures/results, sources in its SOURCES.md): every
// number asserted here was read from the file by hand. One test per format and version, and the
// diff's average on them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { diffResults } from '../../src/core/results/diff';
import { findResultFiles } from '../../src/core/results/find';
import { toCsv, toLatex, toMarkdown } from '../../src/core/results/format';
import { detectResultFile, loadResults } from '../../src/core/results/load';
import { ResultsError } from '../../src/core/results/types';
import { isSkipped } from '../../src/core/workspace/scan';
import { bench } from '../helpers/bench';
import { tempDir } from '../helpers/tmp';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/results');
const fixture = (...p: string[]) => path.join(FIXTURES, ...p);
const root = tempDir('taia-results-real-');
const near = (a: number | undefined, b: number, what: string) =>
  assert.ok(a !== undefined && Math.abs(a - b) < 1e-9, `${what}: ${a} ≠ ${b}`);

test('lm-eval 0.4.13 (sample_len, name in every task): only the metrics the file lists in higher_is_better', async () => {
  const file = fixture('lm-eval-0.4.13/Qwen__Qwen3-8B/results_2026-07-08T18-15-33.115417.json');
  const [r] = await loadResults(file);
  assert.equal(r.model, 'Qwen/Qwen3-8B');
  const belief = r.tasks.get('negotiationtom_belief')!;
  assert.deepEqual([...belief.metrics.keys()], ['acc'], 'sample_len and name are no metrics');
  assert.deepEqual(belief.metrics.get('acc'), {
    value: 0.45,
    stderr: 0.11413288653790232,
    higherIsBetter: true,
    scale: 'fraction',
  });
  assert.equal(belief.n, 20);
  assert.deepEqual(
    [...r.tasks.get('negotiationtom_intention')!.metrics.keys()],
    ['micro_f1', 'macro_f1', 'exact_match'],
  );
  assert.equal(r.tasks.get('negotiationtom_intention')!.metrics.get('macro_f1')!.stderr, undefined, '"N/A"');
  const group = r.tasks.get('negotiationtom')!;
  assert.equal(group.group, true);
  assert.deepEqual(
    [...group.metrics.keys()],
    ['acc', 'micro_f1', 'macro_f1', 'exact_match'],
    'sample_count is no metric',
  );
  assert.equal(r.tasks.get('negotiationtom_desire')!.subtask, true);
  // The average counts the group, not its subtasks as well: 0.525, not a mean of sample counts.
  const d = diffResults([r]);
  assert.deepEqual(d.average!.tasks, ['negotiationtom']);
  near(d.average!.cells[0].value, 0.525, 'average');
});

test("lm-eval's own 0.4.12 regression file (any name): sample_len, name and sample_count are no metrics", async () => {
  const file = fixture('lm-eval-0.4.12/cpu_group_regression_expected.json');
  assert.equal(await detectResultFile(file), 'lm-eval', 'known by content, not by name');
  const [r] = await loadResults(file);
  assert.deepEqual(
    [...r.tasks.get('arc_easy')!.metrics.entries()],
    [
      ['acc', { value: 0.3, higherIsBetter: true, scale: 'fraction' }],
      ['acc_norm', { value: 0.1, higherIsBetter: true, scale: 'fraction' }],
    ],
  );
  assert.deepEqual([...r.tasks.get('regression_arc')!.metrics.keys()], ['acc', 'acc_norm']);
  assert.equal(r.tasks.get('regression_arc')!.group, true);
  assert.equal(r.tasks.get('arc_challenge')!.subtask, true);
});

test('lm-eval 0.3: files named by --output_path, unmarked perplexities and bias scores are lower-is-better and out of the average', async () => {
  const bloom = fixture('lm-eval-0.3/bloom-560m/bloom-560m_lambada_openai_0-shot.json');
  assert.equal(await detectResultFile(bloom), 'lm-eval');
  const [r] = await loadResults(bloom);
  assert.equal(r.model, 'bigscience/bloom-560m');
  const lambada = r.tasks.get('lambada_openai')!;
  assert.deepEqual(lambada.metrics.get('ppl'), {
    value: 28.67792043529687,
    stderr: 1.0838905590384336,
    higherIsBetter: false,
  });
  assert.deepEqual(lambada.metrics.get('acc'), {
    value: 0.35396856200271687,
    stderr: 0.006662254900290991,
    higherIsBetter: true,
    scale: 'fraction',
  });
  assert.equal(r.tasks.get('lambada_openai_cloze')!.metrics.get('ppl')!.value, 6212.811566448059);
  const [crows] = await loadResults(fixture('lm-eval-0.3/testdata/crows_pairs_english-v0-res.json'));
  assert.deepEqual(crows.tasks.get('crows_pairs_english')!.metrics.get('likelihood_difference'), {
    value: 0.3367363060632734,
    stderr: 0.005827747024053628,
    higherIsBetter: false,
  });
  assert.deepEqual(crows.tasks.get('crows_pairs_english')!.metrics.get('pct_stereotype'), {
    value: 0.5062611806797853,
    stderr: 0.012212341600228745,
    higherIsBetter: false,
  });
  const [wiki] = await loadResults(fixture('lm-eval-0.3/testdata/wikitext-v0-res.json'));
  const w = wiki.tasks.get('wikitext')!.metrics;
  assert.deepEqual(
    [...w].map(([k, m]) => [k, m.value, m.higherIsBetter]),
    [
      ['bits_per_byte', 2.219817611605802e-5, false],
      ['byte_perplexity', 1.0000221984224973, false],
      ['word_perplexity', 1.000118710696617, false],
    ],
  );
  // The average takes each task's first higher-is-better metric (acc, after ppl) and names what it leaves out.
  const d = diffResults([r, { ...crows, model: r.model }, { ...wiki, model: r.model }]);
  assert.equal(d.models.length, 1, 'one model in three runs is one column');
  assert.deepEqual(d.average!.tasks, ['lambada_openai_cloze', 'lambada_openai']);
  near(d.average!.cells[0].value, (0.00446341936735882 + 0.35396856200271687) / 2, 'average of the accuracies');
  const notes = d.notes.join('\n');
  assert.match(
    notes,
    /Average leaves out crows_pairs_english \(likelihood_difference ↓, pct_stereotype ↓\), wikitext \(bits_per_byte ↓, byte_perplexity ↓, word_perplexity ↓\): lower is better/,
  );
  assert.match(
    notes,
    /bigscience\/bloom-560m: 3 runs in one column \(bloom-560m_lambada_openai_0-shot\.json, crows_pairs_english-v0-res\.json, wikitext-v0-res\.json\)/,
  );
  assert.match(notes, /Average: mean over tasks of each task's first higher-is-better metric/);
});

test('lm-eval 0.4.9 (model_args an object, a perplexity-only task): every metric lower-is-better as the file says, no average', async () => {
  const [r] = await loadResults(fixture('lm-eval-0.4.9/Qwen__Qwen3-8B/results_2025-12-17T21-20-46.994902.json'));
  assert.equal(r.model, 'Qwen/Qwen3-8B');
  const m = r.tasks.get('nl2foam_perplexity_original')!.metrics;
  assert.deepEqual(
    [...m].map(([k, x]) => [k, x.value, x.higherIsBetter, x.stderr]),
    [
      ['word_perplexity', 6.925089213457069, false, undefined],
      ['byte_perplexity', 1.2622455513978355, false, undefined],
      ['bits_per_byte', 0.3359925928276466, false, undefined],
    ],
  );
  const d = diffResults([r]);
  assert.equal(d.average, undefined);
  assert.match(
    d.notes.join('\n'),
    /Average leaves out nl2foam_perplexity_original \(word_perplexity ↓, byte_perplexity ↓, bits_per_byte ↓\): lower is better/,
  );
});

test('lm-eval 2025: one model, the same task in two runs: two columns named by file, nothing replaced', async () => {
  const dir = fixture('lm-eval-2025-02/fla-hub__rwkv7-1.5B-world');
  const files = await findResultFiles(dir);
  const results = (await Promise.all(files.map((f) => loadResults(f)))).flat();
  const d = diffResults(results);
  assert.deepEqual(
    d.models.map((m) => m.name),
    [
      'fla-hub/rwkv7-1.5B-world (results_2025-02-24T21-42-51.190683.json)',
      'fla-hub/rwkv7-1.5B-world (results_2025-02-24T21-56-47.817447.json)',
    ],
  );
  const ppl = d.rows.find((r) => r.metric === 'perplexity')!;
  assert.deepEqual(
    ppl.cells.map((c) => c.value),
    [4.263079441956042, 20194.605893659573],
  );
  assert.equal(ppl.higherIsBetter, false, 'as higher_is_better says');
  assert.deepEqual(
    d.rows.find((r) => r.metric === 'acc')!.cells.map((c) => c.value),
    [0.6881428294197555, 0.06287599456627208],
  );
  assert.ok(!d.notes.some((n) => /runs in one column/.test(n)));
  const upper = { ...results[1], tasks: new Map([...results[1].tasks].map(([t, x]) => [t.toUpperCase(), x])) };
  assert.equal(diffResults([results[0], upper]).models.length, 2, 'LAMBADA_OPENAI is the same task: still two columns');
});

test('lm-eval 0.4.0-0.4.2: results.json by content, per-example records from <model_args>_<task>.jsonl holding one JSON array', async () => {
  const file = fixture('lm-eval-0.4.0/wmdp/results.json');
  assert.equal(await detectResultFile(file), 'lm-eval');
  const [r] = await loadResults(file, { samples: true });
  assert.equal(r.model, 'gpt-3.5-turbo-0125');
  assert.equal(r.tasks.get('wmdp')!.group, true);
  assert.equal(r.tasks.get('wmdp_bio')!.subtask, true);
  assert.deepEqual(r.tasks.get('wmdp_bio')!.metrics.get('exact_match'), {
    value: 1,
    stderr: 0,
    higherIsBetter: true,
    scale: 'fraction',
  });
  assert.deepEqual(
    [...r.tasks.get('wmdp_bio')!.samples!.get('exact_match')!],
    [
      ['0', 1],
      ['1', 1],
      ['2', 1],
    ],
  );
  assert.equal(r.tasks.get('wmdp_chem')!.samples, undefined, 'no samples file for that task here');
  assert.equal(
    await detectResultFile(fixture('lm-eval-0.4.0/wmdp/model__gpt-3.5-turbo-0125_wmdp_bio.jsonl')),
    undefined,
    'a samples file is no results file',
  );
});

test('lm-eval mid-2024: per-example records from samples_<task>_<date>.json (JSON lines)', async () => {
  const file = fixture('lm-eval-2024-06/meta-llama__Meta-Llama-3-8B/results_2024-06-17T16-06-39.458097.json');
  const [r] = await loadResults(file, { samples: true });
  assert.equal(r.model, 'meta-llama/Meta-Llama-3-8B');
  const t = r.tasks.get('bias_classification')!;
  assert.deepEqual([...t.metrics.keys()], ['acc', 'f1', 'acc_norm']);
  assert.equal(t.metrics.get('acc')!.value, 0.5106732348111659);
  assert.equal(t.metrics.get('f1')!.value, 0.39636920841751605);
  assert.equal(t.n, 609);
  assert.deepEqual(
    [...t.samples!.get('acc')!],
    [
      ['0', 1],
      ['1', 0],
      ['2', 1],
    ],
  );
  assert.equal(t.samples!.has('f1'), false, 'f1 records are pairs, not per-example scores');
  assert.equal(
    await detectResultFile(
      fixture(
        'lm-eval-2024-06/meta-llama__Meta-Llama-3-8B/samples_bias_classification_2024-06-17T16-06-39.458097.json',
      ),
    ),
    undefined,
  );
});

test('lm-eval 0.4.3: a ..__name folder is found, one model in two runs is one column, the average stays', async () => {
  const dir = fixture('lm-eval-0.4.3');
  const files = await findResultFiles(dir);
  assert.deepEqual(
    files.map((f) => path.relative(dir, f)),
    [
      'asdiv/..__prompt-pursuit__results__aug17__gsm8k_8shot_pursue_numq_1000_r16_lr1e-6__epoch_20/results_2024-08-21T04-37-55.218014.json',
      'asdiv/meta-llama__Meta-Llama-3-8B-Instruct/results_2024-08-21T03-44-09.494230.json',
      'asdiv/meta-llama__Meta-Llama-3-8B-Instruct/results_2024-08-21T04-27-29.701325.json',
    ],
  );
  assert.equal(isSkipped(dir, files[0]), false, 'the workspace walk does not take it for hidden either');
  assert.equal(isSkipped(dir, path.join(dir, '.cache', 'results_1.json')), true);
  const results = (await Promise.all(files.map((f) => loadResults(f, { samples: true })))).flat();
  assert.deepEqual(
    results.map((r) => r.model),
    [
      'meta-llama/Meta-Llama-3-8B-Instruct+epoch_20',
      'meta-llama/Meta-Llama-3-8B-Instruct',
      'meta-llama/Meta-Llama-3-8B-Instruct',
    ],
  );
  assert.deepEqual([...results[1].tasks.get('asdiv')!.samples!.get('acc')!.values()], [1, 1, 1]);
  const d = diffResults(results, 'meta-llama/Meta-Llama-3-8B-Instruct');
  assert.deepEqual(
    d.models.map((m) => m.name),
    ['meta-llama/Meta-Llama-3-8B-Instruct', 'meta-llama/Meta-Llama-3-8B-Instruct+epoch_20'],
  );
  assert.deepEqual(d.models[0].files, [files[1], files[2]]);
  const row = (task: string, metric: string) => d.rows.find((r) => r.task === task && r.metric === metric)!;
  assert.equal(row('asdiv', 'acc').cells[0].value, 0.92);
  assert.equal(row('asdiv_cot_llama', 'exact_match,strict-match').cells[0].value, 0.884765625);
  assert.equal(row('asdiv_cot_llama', 'exact_match,strict-match').cells[1].value, 0.92578125);
  assert.deepEqual(d.average!.tasks, ['asdiv_cot_llama']);
  near(d.average!.cells[1].delta, 0.92578125 - 0.884765625, 'average delta');
  assert.match(d.notes.join('\n'), /Average leaves out asdiv: not every model has it/);
  // The CLI on the folder: two columns and the average line.
  const out = await bench('diff', dir, '--baseline', 'meta-llama/Meta-Llama-3-8B-Instruct');
  assert.equal(out.code, 0, out.err);
  assert.match(
    out.out,
    /^task +metric +meta-llama\/Meta-Llama-3-8B-Instruct \(baseline\) +meta-llama\/Meta-Llama-3-8B-Instruct\+epoch_20\n/,
  );
  assert.match(out.out, /\nAverage +1 task +0\.8848 +0\.9258 \+0\.0410\n/);
  assert.match(out.out, /\nAverage: mean over tasks/);
});

test('OpenCompass summary_*.txt: the csv part, else the tabulate table; not taken for a TAIA log; aggregates out of the average', async () => {
  const txt = fixture('opencompass-2024-01/summary_20240119_225509.txt');
  assert.equal(await detectResultFile(txt), 'opencompass');
  const model = 'opencompass.models.huggingface.HuggingFace_model_repos_internlm-chat-7b';
  const check = async (file: string) => {
    const [r] = await loadResults(file);
    assert.equal(r.model, model);
    assert.equal(r.format, 'opencompass');
    assert.equal(r.date, '2024-01-19T22:55:09');
    assert.deepEqual(
      [...r.tasks.keys()],
      [
        'ceval-computer_network',
        'ceval-operating_system',
        'ceval-computer_architecture',
        'ceval-stem',
        'ceval-social-science',
        'ceval-humanities',
        'ceval-other',
        'ceval-hard',
        'ceval',
      ],
    );
    assert.deepEqual(r.tasks.get('ceval-operating_system')!.metrics.get('acc'), {
      value: 36.84,
      higherIsBetter: true,
      scale: 'percent',
    });
    assert.equal(r.tasks.get('ceval')!.metrics.get('naive_average')!.value, 44.16);
    assert.equal(r.tasks.get('ceval')!.aggregate, true);
    const d = diffResults([r]);
    assert.deepEqual(
      d.average!.tasks,
      ['ceval-computer_network', 'ceval-operating_system', 'ceval-computer_architecture'],
      'the naive_average rows are not counted with their datasets',
    );
    near(d.average!.cells[0].value, (31.58 + 36.84 + 28.57) / 3, 'average');
  };
  await check(txt);
  await check(fixture('opencompass-2024-01/summary_20240119_225509.csv'));
  // The tabulate part alone (the file cut before its csv part).
  const text = readFileSync(txt, 'utf-8');
  const tabulate = path.join(root, 'tab', 'summary_20240119_225509.txt');
  mkdirSync(path.dirname(tabulate), { recursive: true });
  writeFileSync(tabulate, text.slice(0, text.indexOf('csv format')));
  await check(tabulate);
});

test('OpenCompass summary_*.md: the Markdown table, ten models, musr_average left out for its three datasets', async () => {
  const md = fixture('opencompass-musr/summary_musr.md');
  assert.equal(await detectResultFile(md), 'opencompass');
  const models = await loadResults(md);
  assert.equal(models.length, 10);
  assert.deepEqual(models.map((m) => m.model).slice(0, 2), [
    'internlm2_5-7b-chat-turbomind',
    'qwen2.5-7b-instruct-turbomind',
  ]);
  assert.equal(models[0].tasks.get('musr_murder_mysteries')!.metrics.get('acc')!.value, 59.2);
  assert.equal(models[9].tasks.get('musr_team_allocation')!.metrics.get('acc')!.value, 41.2);
  assert.equal(models[1].tasks.get('musr_average')!.metrics.get('naive_average')!.value, 50.62);
  const d = diffResults(models.slice(0, 2));
  assert.deepEqual(d.average!.tasks, ['musr_murder_mysteries', 'musr_object_placements', 'musr_team_allocation']);
  near(d.average!.cells[0].value, (59.2 + 54.69 + 39.2) / 3, 'internlm');
  near(d.average!.cells[1].value, (63.2 + 56.25 + 32.4) / 3, 'qwen');
  // The rule goes with the average into every export.
  assert.match(toMarkdown(d), /Average: mean over tasks of each task's first higher-is-better metric/);
  assert.match(toLatex(d), /\{\\footnotesize Average: mean over tasks/);
  assert.match(
    toCsv(d),
    /\nAverage,"3 tasks: mean over tasks of each task's first higher-is-better metric, [^"]+",true,percent,51\.03,,50\.616/,
  );
});

test('OpenCompass rows that differ only in mode or version are separate tasks; a repeated row is an error', async () => {
  // Constructed (no public summary with such rows was found): the rows of a real file, mode and version varied.
  const csv =
    'dataset,version,metric,mode,qwen\ngsm8k,1d7fe4,accuracy,gen,54.21\ngsm8k,1d7fe4,accuracy,ppl,50.00\nmath,393424,accuracy,gen,20.14\nmath,265cce,accuracy,gen,21.00\n';
  const file = path.join(root, 'modes', 'summary_20240501_120000.csv');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, csv);
  const [r] = await loadResults(file);
  assert.deepEqual(
    [...r.tasks].map(([t, x]) => [t, x.metrics.get('acc')!.value]),
    [
      ['gsm8k (gen)', 54.21],
      ['gsm8k (ppl)', 50],
      ['math (393424)', 20.14],
      ['math (265cce)', 21],
    ],
  );
  const twice = path.join(root, 'modes', 'summary_20240501_130000.csv');
  writeFileSync(
    twice,
    'dataset,version,metric,mode,qwen\ngsm8k,1d7fe4,accuracy,gen,54.21\ngsm8k,1d7fe4,accuracy,gen,54.30\n',
  );
  await assert.rejects(
    loadResults(twice),
    (e: unknown) => e instanceof ResultsError && e.line === 3 && /repeats line 2/.test(e.message),
  );
});

test('a result file that cannot be read is named with the reason: the folder walk lists it, the CLI reports it', async () => {
  const dir = path.join(root, 'broken');
  cpSync(fixture('lm-eval-0.4.3/asdiv/meta-llama__Meta-Llama-3-8B-Instruct'), path.join(dir, 'ok'), {
    recursive: true,
  });
  const broken = path.join(dir, 'bad', 'results_2024-08-21T05-00-00.000000.json');
  mkdirSync(path.dirname(broken), { recursive: true });
  writeFileSync(broken, '{"results": {"asdiv": {"acc,none": 0.9');
  assert.equal(await detectResultFile(broken), 'lm-eval', 'broken, not skipped');
  assert.ok((await findResultFiles(dir)).includes(broken));
  const r = await bench('diff', dir);
  assert.equal(r.code, 1);
  assert.match(r.err, new RegExp(`taia: error: ${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: invalid JSON`));
  // A TAIA log that happens to be called summary_*.txt is still a TAIA log.
  const log = path.join(dir, 'summary_run1.txt');
  writeFileSync(log, 'Acc in gsm8k: 0.41\n');
  assert.equal(await detectResultFile(log), 'taia-log');
  copyFileSync(log, path.join(dir, 'summary_run2.txt'));
  assert.equal((await loadResults(path.join(dir, 'summary_run2.txt')))[0].format, 'taia-log');
});
