#!/usr/bin/env node
// The study page rendered from its bundle in headless Chromium under the webviews' CSP, with the tables
// core's studyTable computed from fixture results (per-example records, so the paired tests run),
// posted as the host posts them. Asserts the variants × tasks cells with Δ against base and full
// fine-tune and their marks, the correction switch, the scan heatmap, the export requests, keyboard
// reach and the escaping of a hostile variant name. Screenshot in test-artifacts/ui/.
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { NONCE, POLICY, openWebviewPages } from './webviewPage.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const out = process.env.TAIA_TEST_OUT ?? path.join(repo, 'out');
const require = createRequire(import.meta.url);
const { studyPageHtml } = require(path.join(out, 'src/extension/study/page.js'));
const { studyTable } = require(path.join(out, 'src/core/study/table.js'));
const artifacts = path.join(repo, 'test-artifacts', 'ui');
mkdirSync(artifacts, { recursive: true });

const HOSTILE = '<img src=x onerror="window.pwned=1">';
const N = 40;
/** Per-example 0/1 records: right on the examples `f` accepts. */
const records = (f) => new Map(Array.from({ length: N }, (_, i) => [`q${i}`, f(i) ? 1 : 0]));
const mean = (m) => [...m.values()].reduce((a, b) => a + b, 0) / m.size;
function model(name, tasks) {
  return {
    model: `demo:${name}`,
    file: `/ws/.taia/results/studies/demo/${name}.taia-results.json`,
    format: 'taia-results',
    tasks: new Map(
      Object.entries(tasks).map(([task, f]) => {
        const s = records(f);
        return [
          task,
          {
            n: N,
            metrics: new Map([['acc', { value: mean(s), higherIsBetter: true, scale: 'fraction' }]]),
            samples: new Map([['acc', s]]),
          },
        ];
      }),
    ),
  };
}
// base right on 0..19; full fine-tune on 0..9 (much worse); taia on 0..29 (much better than both).
const variants = [
  { name: 'base', recipe: { name: 'base' }, f: (i) => i < 20 },
  { name: 'full', recipe: { name: 'full' }, f: (i) => i < 10 },
  { name: 'taia', recipe: { name: 'taia' }, f: (i) => i < 30 },
  { name: HOSTILE, recipe: { name: 'taia' }, scale: 0.5, f: (i) => i < 21 },
  ...[0, 1, 2].map((l) => ({
    name: `revert-ffn-L${l}`,
    recipe: { name: `revert-ffn-L${l}` },
    scan: { kind: 'revert-ffn-each', layers: [l, l] },
    f: (i) => i < 10 + 5 * l,
  })),
];
const index = {
  format: 'taia-study',
  version: 1,
  name: 'demo',
  file: '/ws/demo.taia-study.yaml',
  base: '/ws/base',
  finetuned: '/ws/ft',
  layerCount: 3,
  tasks: [],
  variants: [
    ...variants.map((v) => ({
      name: v.name,
      recipe: v.recipe,
      scale: v.scale,
      scan: v.scan,
      results: `${v.name}.taia-results.json`,
      key: 'k',
    })),
    { name: 'not-yet', recipe: { name: 'taif' }, results: 'not-yet.taia-results.json', key: 'k' },
  ],
};
const results = [
  ...variants.map((v) => model(v.name, { capitals: v.f, sums: (i) => v.f(i) && i % 2 === 0 })),
  undefined,
];
const tables = Object.fromEntries(['none', 'holm', 'bh'].map((c) => [c, studyTable(index, results, c)]));

const pages = { '/study': studyPageHtml(POLICY, NONCE, '/study.js', '/study.css') };
const files = { '/study.js': [path.join(repo, 'dist/webview/study.js'), 'text/javascript'] };
const { p, base, errors, post, posted, postInit, close } = await openWebviewPages({ pages, files });
const row = (name) => p.locator('#table tbody tr').filter({ has: p.locator('th[scope="row"]', { hasText: name }) });
const noInjection = async () => {
  assert.equal(await p.locator('img').count(), 0, 'a hostile string created no element');
  assert.equal(await p.evaluate(() => window.pwned), undefined);
};

let failed = false;
try {
  await p.goto(`${base}/study`);
  await p.waitForFunction(() => window.__posted.some((m) => m.type === 'ready'));
  await postInit({
    type: 'init',
    dir: '/ws/.taia/results/studies/demo',
    tables,
    problems: [`/ws/x.taia-results.json: invalid JSON ${HOSTILE}`],
  });
  assert.deepEqual(
    (await posted()).find((m) => m.type === 'rendered'),
    { type: 'rendered', rows: 8, heatmap: 3 },
  );
  assert.deepEqual(await p.evaluate(() => window.acquireVsCodeApi().getState()), {
    dir: '/ws/.taia/results/studies/demo',
  });
  assert.equal(await p.textContent('#title'), 'Study: demo');

  assert.deepEqual(await p.locator('#table thead th').allTextContents(), [
    'Variant',
    'Recipe',
    'capitals · acc',
    'sums · acc',
    'Average',
  ]);
  // taia: 75.0 on capitals, +25.0 points against base (McNemar b = 0, c = 10: p = 0.002, **), +50.0 against full (***).
  const taia = await row('taia').first().locator('td.num').first();
  assert.equal(await taia.locator('.value').textContent(), '75.0');
  assert.deepEqual(await taia.locator('.vs').allTextContents(), ['vs base +25.0**', 'vs full +50.0***']);
  assert.match(await taia.locator('.vs').first().getAttribute('title'), /^vs base: p = 0\.00195 \(mcnemar-exact\)$/);
  assert.equal(await taia.locator('.value.best').count(), 1, 'the best value of the column is bold');
  assert.equal(await taia.locator('.vs.better').count(), 2);
  const full = row('full').locator('td.num').first();
  assert.deepEqual(
    await full.locator('.vs').allTextContents(),
    ['vs base −25.0**'],
    'the full fine-tune has no Δ against itself',
  );
  assert.equal(
    await row('base')
      .locator('td.num')
      .first()
      .locator('.vs')
      .allTextContents()
      .then((t) => t.join()),
    'vs full +25.0**',
  );
  // The hostile name is text; its recipe line shows the scale.
  assert.equal(await row(HOSTILE).locator('td.metric').textContent(), 'taia (scale 0.5)');
  assert.equal(await row('not-yet').locator('td.num').first().textContent(), 'not evaluated');
  assert.equal(await p.locator('#problems li').textContent(), `/ws/x.taia-results.json: invalid JSON ${HOSTILE}`);

  // The scan: a row per reverted layer, Δ against the full fine-tune, coloured by direction.
  assert.equal(await p.locator('#scan-section').isHidden(), false);
  assert.deepEqual(await p.locator('#heatmap tbody th').allTextContents(), ['layer 0', 'layer 1', 'layer 2']);
  assert.deepEqual(await p.locator('#heatmap tbody tr').nth(2).locator('td').allTextContents(), ['+25.0', '+12.5']);
  assert.equal(
    await p.locator('#heatmap tbody tr').first().locator('td.same').count(),
    2,
    'layer 0 scores as the fine-tune',
  );
  assert.equal(await p.locator('#heatmap tbody tr').nth(2).locator('td.better.h4').count(), 1);
  await noInjection();
  await p.screenshot({ path: path.join(artifacts, 'study.png'), fullPage: true });

  // Holm over each variant's two tasks: the marks follow the adjusted p-values.
  await p.selectOption('#correction', 'holm');
  await p.waitForFunction(() => window.__posted.filter((m) => m.type === 'rendered').length >= 2);
  const holmTaia = tables.holm.rows.find((r) => r.name === 'taia').cells[0].vsBase;
  assert.ok(holmTaia.pAdjusted > holmTaia.p);
  assert.match(
    await row('taia').first().locator('td.num').first().locator('.vs').first().getAttribute('title'),
    new RegExp(`adjusted ${holmTaia.pAdjusted.toPrecision(3)}`),
  );
  assert.match(await p.textContent('#legend'), /Holm-corrected over each variant's tasks\)\.$/);
  assert.equal((await p.evaluate(() => window.acquireVsCodeApi().getState())).correction, 'holm');

  // Exports: the host makes them from the same table under the correction shown.
  await p.click('#export-csv');
  await p.focus('#export-csv');
  await p.keyboard.press('Tab');
  assert.equal(await p.evaluate(() => document.activeElement?.id), 'export-latex');
  await p.keyboard.press('Enter');
  const exports = (await posted()).filter((m) => m.type === 'export');
  assert.deepEqual(exports, [
    { type: 'export', format: 'csv', correction: 'holm' },
    { type: 'export', format: 'latex', correction: 'holm' },
  ]);

  await post({ type: 'error', message: `${HOSTILE} gone` });
  await p.waitForFunction(() => !document.getElementById('message').hidden);
  assert.equal(await p.textContent('#message'), `${HOSTILE} gone`);
  await noInjection();
  assert.deepEqual(errors, []);
  console.log('study UI test passed; screenshot in test-artifacts/ui/study.png');
} catch (e) {
  failed = true;
  await p.screenshot({ path: path.join(artifacts, 'study-failure.png'), fullPage: true }).catch(() => {});
  console.error(`study UI test failed: ${e instanceof Error ? e.stack : e}`);
} finally {
  await close();
}
process.exit(failed ? 1 : 0);
