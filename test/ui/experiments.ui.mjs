#!/usr/bin/env node
// The experiments table webview rendered from its bundle in headless Chromium, with a table the core
// computed from fixture runs (three runs, two of one experiment; a hostile name), benchmark results of
// their checkpoints and of a TAIA merge, posted as the host posts it. Asserts sorting, the filter, the
// column choice (remembered across a reload), selection to plot (overlaid uPlot charts with a shared
// crosshair, smoothing, log scale) and to compare, and escaping. Screenshot: test-artifacts/ui/experiments.png.
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { NONCE, POLICY, openWebviewPages } from './webviewPage.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const out = process.env.TAIA_TEST_OUT ?? path.join(repo, 'out');
const require = createRequire(import.meta.url);
const { experimentsHtml } = require(path.join(out, 'src/extension/experiments/page.js'));
const { experimentsTable } = require(path.join(out, 'src/core/experiments/table.js'));
const artifacts = path.join(repo, 'test-artifacts', 'ui');
mkdirSync(artifacts, { recursive: true });

const HOSTILE = '<img src=x onerror="window.pwned=1">';

/** metrics.jsonl records: loss falling from `from` to `to` over `steps`. */
function records(steps, { from = 3, to = 1, lr = 2e-4, tps = 5000 } = {}) {
  return Array.from({ length: steps }, (_, i) => {
    const step = i + 1;
    const f = i / Math.max(1, steps - 1);
    return {
      step,
      epoch: step / 10,
      loss: from + (to - from) * f + 0.05 * Math.sin(step),
      lr: step <= 5 ? (lr * step) / 5 : lr * (1 - f / 2),
      gradNorm: 1.5 - f,
      tokensPerSecond: tps + 100 * Math.cos(step),
      elapsed: step * 0.5,
      time: '2026-01-01T00:00:00.000Z',
    };
  });
}
const config = (name, lr, r = 16) => ({
  name,
  base: '/ws/models/tiny',
  dataset: '/ws/data/train.jsonl',
  engine: 'tfjs',
  train: { method: 'lora', max_steps: 60, learning_rate: lr, seed: 42 },
  lora: { r, lora_alpha: 32 },
});
const status = (name, started, over = {}) => ({
  id: `${started.replace(/[:.]/g, '-')}-${name}`,
  name,
  state: 'done',
  createdAt: started,
  startedAt: started,
  endedAt: '2026-01-01T01:00:00.000Z',
  engine: 'tfjs',
  step: 60,
  totalSteps: 60,
  ...over,
});
const runs = [
  {
    dir: '/ws/.taia/runs/a',
    status: status('word-games', '2026-01-01T00:00:00.000Z'),
    config: config('word-games', 2e-4),
    metrics: records(60, { to: 1.2 }),
  },
  {
    dir: '/ws/.taia/runs/b',
    status: status('word-games', '2026-01-02T00:00:00.000Z', { state: 'running', step: 40, endedAt: undefined }),
    config: config('word-games', 1e-3),
    metrics: records(40, { from: 3.2, to: 0.9 }),
  },
  {
    dir: '/ws/.taia/runs/c',
    status: status(HOSTILE, '2026-01-03T00:00:00.000Z'),
    config: config(HOSTILE, 2e-4, 8),
    metrics: records(60, { to: 1.5 }),
  },
];
const scores = (model, checkpoint, acc) => ({
  model,
  file: `/ws/.taia/results/${model}.taia-results.json`,
  format: 'taia-results',
  checkpoint,
  tasks: new Map([
    ['capitals', { metrics: new Map([['exact_match', { value: acc, higherIsBetter: true, scale: 'fraction' }]]) }],
  ]),
});
const results = [
  scores('a-60', '/ws/.taia/runs/a/checkpoints/checkpoint-60', 0.3),
  scores('a-30', '/ws/.taia/runs/a/checkpoints/checkpoint-30', 0.35),
  scores('a-taia', '/ws/merged/a-taia', 0.55),
  scores('c-60', '/ws/.taia/runs/c/checkpoints/checkpoint-60', 0.2),
];
const merges = [{ dir: '/ws/merged/a-taia', recipe: 'taia', finetuned: '/ws/.taia/runs/a/checkpoints/checkpoint-60' }];
const table = experimentsTable(runs, results, merges);

const pages = { '/experiments': experimentsHtml(POLICY, NONCE, '/dist/experiments.js', '/experiments.css') };
const files = {
  '/dist/experiments.js': [path.join(repo, 'dist/webview/experiments.js'), 'text/javascript'],
  '/dist/experiments.css': [path.join(repo, 'dist/webview/experiments.css'), 'text/css'],
};
const { p, base, errors, posted, postInit, close } = await openWebviewPages({
  pages,
  files,
  viewport: { width: 1400, height: 1100 },
});
const heads = () =>
  p.locator('table.experiments thead button.sort').evaluateAll((bs) => bs.map((b) => b.dataset.column));
const names = () => p.locator('table.experiments tbody td[data-column="name"]').allTextContents();
const cell = (run, column) =>
  p.locator(`table.experiments tbody tr[data-id="${run}"] td[data-column="${column}"]`).textContent();
const pageState = () => p.evaluate(() => window.acquireVsCodeApi().getState());

let failed = false;
try {
  // The CSS of the page's own stylesheet and of the bundle (uPlot's) both load under the CSP.
  await p.goto(`${base}/experiments`);
  await p.waitForFunction(() => window.__posted.some((m) => m.type === 'ready'));
  await postInit({ type: 'init', table });
  assert.equal(await p.locator('table.experiments tbody tr').count(), 3);
  // Default columns: run, training metrics, the parameters that differ, the benchmark scores.
  assert.deepEqual(await heads(), [
    'name',
    'started',
    'state',
    'steps',
    'finalLoss',
    'bestLoss',
    'param:train.learning_rate',
    'param:lora.r',
    'bench:capitals/exact_match/checkpoint',
    'bench:capitals/exact_match/taia',
  ]);
  assert.equal(
    await cell('/ws/.taia/runs/a', 'started'),
    '2026-01-01 00:00:00',
    'two runs of one experiment are told apart by their start',
  );
  assert.equal(
    await cell('/ws/.taia/runs/a', 'bench:capitals/exact_match/checkpoint'),
    '0.35',
    'the best of the run’s evaluated checkpoints',
  );
  assert.equal(
    await cell('/ws/.taia/runs/a', 'bench:capitals/exact_match/taia'),
    '0.55',
    'the TAIA merge of its checkpoint',
  );
  assert.equal(await cell('/ws/.taia/runs/b', 'bench:capitals/exact_match/taia'), '—');
  assert.equal(await cell('/ws/.taia/runs/b', 'param:train.learning_rate'), '0.001');
  assert.equal(await p.locator('img').count(), 0);
  assert.equal(await p.evaluate(() => window.pwned), undefined);
  assert.ok((await names()).includes(HOSTILE), 'a hostile name is text');

  // Sort: final loss ascending (lower is better first), then descending; a score column starts from the best.
  await p.click('button.sort[data-column="finalLoss"]');
  assert.deepEqual(await p.locator('table.experiments tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.id)), [
    '/ws/.taia/runs/b',
    '/ws/.taia/runs/a',
    '/ws/.taia/runs/c',
  ]);
  assert.equal(await p.getAttribute('th:has(button.sort[data-column="finalLoss"])', 'aria-sort'), 'ascending');
  await p.click('button.sort[data-column="finalLoss"]');
  assert.equal(await p.getAttribute('th:has(button.sort[data-column="finalLoss"])', 'aria-sort'), 'descending');
  assert.deepEqual((await pageState()).sorting, [{ id: 'finalLoss', desc: true }]);
  await p.click('button.sort[data-column="bench:capitals/exact_match/checkpoint"]');
  assert.deepEqual(
    await p.locator('table.experiments tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.id)),
    ['/ws/.taia/runs/a', '/ws/.taia/runs/c', '/ws/.taia/runs/b'],
    'best score first, runs without a score last',
  );

  // Filter over the columns shown.
  await p.locator('#filter input').fill('0.001');
  await p.waitForFunction(() => document.querySelectorAll('table.experiments tbody tr').length === 1);
  assert.equal(await p.locator('table.experiments tbody tr').getAttribute('data-id'), '/ws/.taia/runs/b');
  assert.match(await p.textContent('#count'), /^1 of 3 runs/);
  await p.locator('#filter input').fill('word');
  await p.waitForFunction(() => document.querySelectorAll('table.experiments tbody tr').length === 2);
  assert.equal((await pageState()).filter, 'word');
  await p.locator('#filter input').fill('');
  await p.waitForFunction(() => document.querySelectorAll('table.experiments tbody tr').length === 3);

  // Column choice: hide best loss, show tokens/s; remembered when the page is reloaded.
  await p.click('#columns-button');
  assert.equal(await p.isVisible('#columns'), true);
  await p.click('#columns vscode-checkbox[data-column="bestLoss"]');
  await p.click('#columns vscode-checkbox[data-column="tokensPerSecond"]');
  let shown = await heads();
  assert.ok(!shown.includes('bestLoss') && shown.includes('tokensPerSecond'), shown.join());
  assert.deepEqual([(await pageState()).columns.bestLoss, (await pageState()).columns.tokensPerSecond], [false, true]);

  // Selection to plot: two runs overlaid in each chart, labelled apart by their start time.
  assert.equal(await p.isVisible('#plot-hint'), true);
  await p.check('tr[data-id="/ws/.taia/runs/a"] input.select');
  await p.check('tr[data-id="/ws/.taia/runs/b"] input.select');
  await p.waitForFunction(() => document.querySelectorAll('#plots figure.experiment-plot').length === 4);
  assert.deepEqual(await p.locator('#plots figcaption').allTextContents(), [
    'Loss',
    'Learning rate',
    'Gradient norm',
    'Throughput (tokens/s)',
  ]);
  const legend = await p.locator('#plots figure[data-plot="loss"] .u-legend .u-series .u-label').allTextContents();
  assert.deepEqual(legend, ['step', 'word-games (2026-01-01 00:00:00)', 'word-games (2026-01-02 00:00:00)']);
  assert.deepEqual((await pageState()).selected.sort(), ['/ws/.taia/runs/a', '/ws/.taia/runs/b']);
  assert.equal(await p.isVisible('#plot-hint'), false);
  // A shared crosshair: the cursor over the loss chart sets the step in every chart's legend.
  const over = p.locator('#plots figure[data-plot="loss"] .u-over');
  const box = await over.boundingBox();
  await p.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
  const stepAt = async (plot) =>
    p.locator(`#plots figure[data-plot="${plot}"] .u-legend .u-series`).first().locator('.u-value').textContent();
  const step = await stepAt('loss');
  assert.match(step, /^\d+$/);
  assert.equal(await stepAt('lr'), step, 'the learning-rate chart follows the loss chart’s cursor');
  assert.equal(await stepAt('tokensPerSecond'), step);
  const valueAt = (plot, series) =>
    p.locator(`#plots figure[data-plot="${plot}"] .u-legend .u-series`).nth(series).locator('.u-value').textContent();
  const raw = runs[0].metrics[Number(step) - 1].loss;
  assert.ok(
    Math.abs(Number(await valueAt('loss', 1)) - raw) < 0.01,
    `unsmoothed value ${await valueAt('loss', 1)} vs ${raw}`,
  );
  // Smoothing 0.9: the legend shows the debiased moving average at that step.
  await p.locator('#smoothing').fill('0.9');
  await p.waitForFunction(() =>
    document.querySelector('#plots figure[data-plot="loss"]')?.getAttribute('aria-label').includes('smoothed 0.9'),
  );
  await p.mouse.move(box.x + box.width * 0.5 + 1, box.y + box.height * 0.5);
  let last = 0;
  let smoothed = 0;
  runs[0].metrics
    .slice(0, Number(await stepAt('loss')))
    .forEach((m, i) => ((last = last * 0.9 + 0.1 * m.loss), (smoothed = last / (1 - 0.9 ** (i + 1)))));
  assert.ok(
    Math.abs(Number(await valueAt('loss', 1)) - smoothed) < 0.01,
    `smoothed ${await valueAt('loss', 1)} vs ${smoothed}`,
  );
  // Log scale.
  await p.click('#log-scale');
  await p.waitForFunction(() =>
    document.querySelector('#plots figure[data-plot="loss"]')?.getAttribute('aria-label').endsWith('log scale'),
  );
  assert.deepEqual([(await pageState()).smoothing, (await pageState()).logScale], [0.9, true]);
  await p.mouse.move(box.x + 5, box.y + 5);
  await p.screenshot({ path: path.join(artifacts, 'experiments.png'), fullPage: true });
  // Compare the selected runs; open a dashboard from the name.
  await p.click('#compare');
  assert.deepEqual(
    (await posted())
      .filter((m) => m.type === 'compare')
      .at(-1)
      .dirs.sort(),
    ['/ws/.taia/runs/a', '/ws/.taia/runs/b'],
  );
  await p.click('tr[data-id="/ws/.taia/runs/c"] td[data-column="name"] button');
  assert.deepEqual((await posted()).at(-1), { type: 'open', dir: '/ws/.taia/runs/c' });

  // The host sends the table again (a run moved on): the arrangement stays.
  await postInit({ type: 'init', table: experimentsTable(runs.slice(0, 2), results, merges) });
  shown = await heads();
  assert.ok(!shown.includes('bestLoss') && shown.includes('tokensPerSecond'), 'the column choice is kept');
  assert.equal(
    await p.locator('tr[data-id="/ws/.taia/runs/a"] input.select').isChecked(),
    true,
    'the selection is kept',
  );
  assert.equal(await p.locator('#plots figure.experiment-plot').count(), 4);
  assert.deepEqual(errors, []);
  console.log('experiments UI test passed; screenshot in test-artifacts/ui/');
} catch (e) {
  failed = true;
  await p.screenshot({ path: path.join(artifacts, 'experiments-failure.png'), fullPage: true }).catch(() => {});
  console.error(`experiments UI test failed: ${e instanceof Error ? e.stack : e}`);
} finally {
  await close();
}
process.exit(failed ? 1 : 0);
