#!/usr/bin/env node
// The examples behind a benchmark cell, in the benchmark diff webview in headless Chromium: result files
// written by the evaluator's writer (base, fine-tune, TAIA with per-example records), the report and
// the examples computed by the core as the host computes them. Clicking a cell asks the host; the
// counts shown are McNemar's b and c of the report; the flip filter lists exactly those examples.
// Screenshot: test-artifacts/ui/benchmark-examples.png (the README's).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { NONCE, POLICY, openWebviewPages } from './webviewPage.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const out = process.env.TAIA_TEST_OUT ?? path.join(repo, 'out');
const require = createRequire(import.meta.url);
const { benchmarkDiffHtml } = require(path.join(out, 'src/extension/benchmarks/diffPage.js'));
const { compareModels } = require(path.join(out, 'src/core/results/compare.js'));
const { compareExamples } = require(path.join(out, 'src/core/results/examples.js'));
const { writeTaiaResults } = require(path.join(out, 'src/core/results/taiaFormat.js'));
const artifacts = path.join(repo, 'test-artifacts', 'ui');
mkdirSync(artifacts, { recursive: true });

const HOSTILE = '<img src=x onerror="window.pwned=1">';
const COUNTRIES = [
  'Oro',
  'Vell',
  'Pasq',
  'Tir',
  'Mune',
  'Sald',
  'Kesh',
  'Arro',
  'Lim',
  'Dova',
  'Quel',
  'Brin',
  'Hest',
  'Yarl',
  'Fen',
  'Corr',
  'Ulm',
  'Zeb',
  'Nay',
  'Wist',
];
const capital = (c) => `${c}ton`;
// base right on 0–13; the fine-tune forgot 0–5 and learnt 16; TAIA recovers 0–5, keeps 16, loses 9.
const correct = {
  base: (i) => i < 14,
  finetuned: (i) => (i > 5 && i < 14) || i === 16,
  taia: (i) => (i < 14 && i !== 9) || i === 16,
};
const dir = mkdtempSync(path.join(tmpdir(), 'taia-examples-ui-'));
const refs = [];
for (const [name, right] of Object.entries(correct)) {
  const file = path.join(dir, `${name}.taia-results.json`);
  const records = COUNTRIES.map((c, i) => ({
    task: 'capitals',
    id: `c${i}`,
    prompt: i === 7 ? `What is the capital of ${HOSTILE}?` : `What is the capital of ${c}?`,
    target: capital(c),
    prediction: right(i) ? capital(c) : name === 'finetuned' ? 'Response: a word game' : 'Oroton',
    metrics: { exact_match: right(i) ? 1 : 0 },
  }));
  const acc = records.filter((r) => r.metrics.exact_match).length / records.length;
  await writeTaiaResults(
    file,
    {
      format: 'taia-results',
      version: 1,
      model: { name },
      created: '2026-01-01T00:00:00.000Z',
      tasks: {
        capitals: {
          n: records.length,
          metrics: {
            exact_match: {
              value: acc,
              stderr: Math.sqrt((acc * (1 - acc)) / (records.length - 1)),
              higher_is_better: true,
              scale: 'fraction',
            },
          },
        },
      },
    },
    records,
  );
  refs.push({ file, model: name });
}
const { report } = await compareModels(refs, 'finetuned');

const pages = { '/diff': benchmarkDiffHtml(POLICY, NONCE, '/benchmarkDiff.js', '/benchmarks.css') };
const files = { '/benchmarkDiff.js': [path.join(repo, 'dist/webview/benchmarkDiff.js'), 'text/javascript'] };
const { p, base, errors, posted, postInit, close } = await openWebviewPages({
  pages,
  files,
  viewport: { width: 1200, height: 1000 },
});
/** Answers the page's last 'examples' request as the host does. */
async function answerExamples() {
  const ask = (await posted()).filter((m) => m.type === 'examples').at(-1);
  assert.ok(ask, 'the page asked for examples');
  const view = await compareExamples(refs, report.baseline, ask.model, ask.task, ask.metric);
  await postInit({ type: 'examples', view });
  return { ask, view };
}
const shownIds = () => p.locator('#examples tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.id));

let failed = false;
try {
  await p.goto(`${base}/diff`);
  await p.waitForFunction(() => window.__posted.some((m) => m.type === 'ready'));
  await postInit({ type: 'init', report, models: refs, problems: [] });
  assert.equal(await p.isHidden('#examples'), true);
  // TAIA's cell, against the fine-tune as baseline.
  const taia = report.models.findIndex((m) => m.name === 'taia');
  const cell = report.rows[0].cells[taia];
  assert.deepEqual(cell.test.discordant, { b: 1, c: 6 });
  await p.click(`table.bench td.opens[data-model="taia"]`);
  const { ask } = await answerExamples();
  assert.deepEqual(ask, { type: 'examples', task: 'capitals', metric: 'exact_match', model: 'taia' });
  assert.equal(await p.textContent('#examples-title'), 'Examples of capitals / exact_match: taia against finetuned');
  // The counts are the report's McNemar b and c, and its p.
  const counts = await p.textContent('#examples-counts');
  assert.match(
    counts,
    /^6 fixed \(wrong in finetuned, right in taia\) · 1 broken \(right in finetuned, wrong in taia\) · 8 right in both · 5 wrong in both, of 20 paired · McNemar b = 1, c = 6, p = /,
  );
  assert.ok(counts.includes(`b = ${cell.test.discordant.b}, c = ${cell.test.discordant.c}`));
  const title = await p.locator(`table.bench td.opens[data-model="taia"]`).getAttribute('title');
  const p1 = /p = ([\d.]+)/.exec(title)[1];
  assert.ok(counts.includes(`p = ${p1} (McNemar (exact))`), `${counts} vs ${title}`);
  // Flipped by default: the 6 discordant examples, each with prompt, reference and every model's answer.
  assert.deepEqual(await shownIds(), ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c9']);
  assert.deepEqual(await p.locator('#examples thead th').allTextContents(), [
    'id',
    'prompt',
    'reference',
    'finetuned',
    'taia',
    'base',
  ]);
  const c0 = p.locator('#examples tr[data-id="c0"] td');
  assert.deepEqual(await c0.allTextContents(), [
    'What is the capital of Oro?',
    'Oroton',
    '✗ Response: a word game',
    '✓ Oroton',
    '✓ Oroton',
  ]);
  assert.equal(await p.locator('#examples tr[data-id="c9"]').getAttribute('class'), 'flip-broken');
  const colours = await p
    .locator('#examples tr[data-id="c0"] .verdict')
    .evaluateAll((vs) => vs.map((v) => getComputedStyle(v).color));
  assert.notEqual(colours[0], colours[1], '✗ and ✓ differ in colour too');
  await p.screenshot({ path: path.join(artifacts, 'benchmark-examples.png'), fullPage: true });
  // The filters: fixed, broken, all; the choice is kept.
  await p.check('#examples-filter-fixed');
  assert.deepEqual(await shownIds(), ['c0', 'c1', 'c2', 'c3', 'c4', 'c5']);
  await p.check('#examples-filter-broken');
  assert.deepEqual(await shownIds(), ['c9']);
  await p.check('#examples-filter-all');
  assert.equal((await shownIds()).length, 20);
  assert.equal((await p.evaluate(() => window.acquireVsCodeApi().getState())).examples.filter, 'all');
  // A hostile prompt is text.
  assert.equal(
    await p.locator('#examples tr[data-id="c7"] td.prompt').textContent(),
    `What is the capital of ${HOSTILE}?`,
  );
  assert.equal(await p.locator('img').count(), 0);
  assert.equal(await p.evaluate(() => window.pwned), undefined);
  // The keyboard opens a cell too: base against the fine-tune.
  await p.focus(`table.bench td.opens[data-model="base"]`);
  await p.keyboard.press('Enter');
  const again = await answerExamples();
  assert.equal(again.ask.model, 'base');
  assert.equal(await p.textContent('#examples-title'), 'Examples of capitals / exact_match: base against finetuned');
  const baseCell = report.rows[0].cells[report.models.findIndex((m) => m.name === 'base')];
  assert.ok(
    (await p.textContent('#examples-counts')).includes(
      `McNemar b = ${baseCell.test.discordant.b}, c = ${baseCell.test.discordant.c}`,
    ),
  );
  assert.equal(again.view.counts.fixed, baseCell.test.discordant.c);
  // Close.
  await p.click('#examples-close');
  assert.equal(await p.isHidden('#examples'), true);
  assert.equal((await p.evaluate(() => window.acquireVsCodeApi().getState())).examples, undefined);
  // A model without records: the host's reason shows.
  await postInit({ type: 'examples', error: `base has no per-example records of capitals / acc` });
  assert.equal(await p.textContent('#message'), 'base has no per-example records of capitals / acc');
  assert.deepEqual(errors, []);
  console.log('benchmark examples UI test passed; screenshot in test-artifacts/ui/');
} catch (e) {
  failed = true;
  await p.screenshot({ path: path.join(artifacts, 'benchmark-examples-failure.png'), fullPage: true }).catch(() => {});
  console.error(`benchmark examples UI test failed: ${e instanceof Error ? e.stack : e}`);
} finally {
  await close();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
