#!/usr/bin/env node
// The benchmark diff webview rendered from its bundle in headless Chromium, with a report the real
// diff computed from fixture results, posted as the host posts it. Asserts the cells, Δ colours by the
// metric's direction and size, significance marks, "show only what differs", sorting, the baseline
// switch, keyboard reach, escaping of hostile names, the bar charts and the exports. Screenshots go to
// test-artifacts/ui/. The compiled modules come from out/ (TAIA_TEST_OUT overrides, for a private build).
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { NONCE, POLICY, openWebviewPages } from './webviewPage.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const out = process.env.TAIA_TEST_OUT ?? path.join(repo, 'out');
const require = createRequire(import.meta.url);
const { benchmarkDiffHtml } = require(path.join(out, 'src/extension/benchmarks/diffPage.js'));
const { diffResults } = require(path.join(out, 'src/core/results/diff.js'));
const artifacts = path.join(repo, 'test-artifacts', 'ui');
mkdirSync(artifacts, { recursive: true });

const HOSTILE = '<img src=x onerror="window.pwned=1">';

/** ModelResults as the importers return them: `tasks` maps task → metric → { value, stderr?, higherIsBetter?, scale?, samples? }. */
function model(name, tasks) {
  return {
    model: name,
    file: `/ws/results/${name.replace(/\W+/g, '_')}.taia-results.json`,
    format: 'taia-results',
    tasks: new Map(
      Object.entries(tasks).map(([task, metrics]) => {
        const samples = new Map(
          Object.entries(metrics)
            .filter(([, m]) => m.samples)
            .map(([k, m]) => [k, new Map(m.samples.map((v, i) => [`q${i}`, v]))]),
        );
        const ms = new Map(
          Object.entries(metrics).map(([k, { samples: _s, ...m }]) => [k, { higherIsBetter: true, ...m }]),
        );
        return [task, { metrics: ms, ...(samples.size ? { samples } : {}) }];
      }),
    ),
  };
}

// svamp: base right on q0..q9 of 30; ft also on q10..q19 but wrong on q0 (McNemar b = 1, c = 10, p = 0.0117).
const right = (f) => Array.from({ length: 30 }, (_, i) => (f(i) ? 1 : 0));
const frac = (value, stderr) => ({ value, ...(stderr !== undefined ? { stderr } : {}), scale: 'fraction' });
const results = [
  model('qwen-base', {
    gsm8k: { acc: frac(0.5, 0.01) },
    wikitext: { word_perplexity: { value: 12, higherIsBetter: false } },
    arc_easy: { acc: frac(0.7, 0.009) },
    [HOSTILE]: { acc: frac(0.3) },
    svamp: { exact_match: { ...frac(1 / 3), samples: right((i) => i < 10) } },
  }),
  model('qwen-ft', {
    gsm8k: { acc: frac(0.46, 0.01) },
    wikitext: { word_perplexity: { value: 11, higherIsBetter: false } },
    arc_easy: { acc: frac(0.7, 0.009) },
    [HOSTILE]: { acc: frac(0.31) },
    svamp: { exact_match: { ...frac(19 / 30), samples: right((i) => i > 0 && i < 20) } },
  }),
  model(HOSTILE, {
    gsm8k: { acc: frac(0.55, 0.01) },
    wikitext: { word_perplexity: { value: 13, higherIsBetter: false } },
    arc_easy: { acc: frac(0.7, 0.009) },
    [HOSTILE]: { acc: frac(0.298) },
  }),
];
const report = diffResults(results);
const refs = results.map((r) => ({ file: r.file, model: r.model }));

const pages = { '/diff': benchmarkDiffHtml(POLICY, NONCE, '/benchmarkDiff.js', '/benchmarks.css') };
const files = { '/benchmarkDiff.js': [path.join(repo, 'dist/webview/benchmarkDiff.js'), 'text/javascript'] };
const { p, base, errors, post, posted, postInit, close } = await openWebviewPages({
  pages,
  files,
  viewport: { width: 1200, height: 900 },
});
const focusedId = () => p.evaluate(() => document.activeElement?.id || document.activeElement?.closest('[id]')?.id);
const noInjection = async () => {
  assert.equal(await p.locator('img').count(), 0, 'a hostile string created no element');
  assert.equal(await p.evaluate(() => window.pwned), undefined);
};
const row = (task, metric) =>
  p
    .locator('table.bench tbody tr')
    .filter({ has: p.locator(`th[scope="row"]`, { hasText: task }) })
    .filter({ has: p.locator('td.metric', { hasText: metric }) });
const cells = (task, metric) => row(task, metric).locator('td.num').allTextContents();
const rowTasks = () => p.locator('table.bench tbody tr:not([hidden]) th[scope="row"]').allTextContents();
const GREEN = 'rgb(137, 209, 133)';
const RED = 'rgb(241, 76, 76)';

let failed = false;
try {
  await p.goto(`${base}/diff`);
  await p.waitForFunction(() => window.__posted.some((m) => m.type === 'ready'));
  await postInit({
    type: 'init',
    report,
    models: refs,
    problems: [`/ws/results/broken.json: invalid JSON ${HOSTILE}`],
  });
  assert.deepEqual(
    (await posted()).find((m) => m.type === 'rendered'),
    { type: 'rendered', rows: 5 },
  );
  assert.deepEqual(
    await p.evaluate(() => window.acquireVsCodeApi().getState()),
    { models: refs, baseline: 'qwen-base', correction: 'none', onlyDiffers: true },
    'the serializer gets the models, the baseline and the correction',
  );

  // Columns: task, metric, then the models, baseline first.
  const heads = await p.locator('table.bench thead th button.sort').allTextContents();
  assert.deepEqual(heads, ['Task', 'Metric', 'qwen-base', 'qwen-ft', HOSTILE]);
  assert.deepEqual(await p.locator('table.bench thead th div.muted').allTextContents(), [
    'baseline',
    'Δ vs baseline',
    'Δ vs baseline',
  ]);
  // Values, Δ and marks: gsm8k z = ∓2.83 (**) and +3.54 (***).
  assert.deepEqual(await cells('gsm8k', 'acc'), ['0.5000', '0.4600 −0.0400 p=0.005**', '0.5500 +0.0500 p=4.1e-4***']);
  const gsm = row('gsm8k', 'acc');
  assert.equal(await gsm.locator('.value.best').textContent(), '0.5500', 'the best value is bold');
  assert.equal(await gsm.locator('.value.best').evaluate((e) => getComputedStyle(e).fontWeight), '700');
  // Colour by direction, strength by size: −4 points is m3, +5 is m4.
  assert.equal(await gsm.locator('.delta').nth(0).getAttribute('class'), 'delta worse m3');
  assert.equal(await gsm.locator('.delta').nth(1).getAttribute('class'), 'delta better m4');
  assert.equal(
    await gsm.locator('.delta.worse').evaluate((e) => getComputedStyle(e).borderLeftColor),
    RED,
    'worse: a red bar',
  );
  assert.equal(
    await gsm.locator('.delta.better').evaluate((e) => getComputedStyle(e).borderLeftColor),
    GREEN,
    'better: a green bar',
  );
  assert.deepEqual(
    await gsm.locator('td.num .p').allTextContents(),
    [' p=0.005', ' p=4.1e-4'],
    'the p of each Δ shows in its cell',
  );
  assert.notEqual(
    await gsm.locator('.delta.better').evaluate((e) => getComputedStyle(e).backgroundColor),
    'rgba(0, 0, 0, 0)',
    'a tinted background',
  );
  assert.match(
    await gsm.locator('td.num').nth(1).getAttribute('title'),
    /^0\.4600 ± 0\.0100 · Δ −0\.0400 · p = 0\.005 \(z-test on standard errors\)$/,
  );
  // Lower is better: the perplexity going down is green, going up red.
  assert.deepEqual(await cells('wikitext', 'word_perplexity'), ['12', '11 −1', '13 +1']);
  assert.equal(await row('wikitext', 'word_perplexity').locator('td.metric').textContent(), 'word_perplexity ↓');
  // ±1 on 12 is 8% of the baseline: the strongest tint, whose text takes the foreground colour for contrast.
  const ppl = row('wikitext', 'word_perplexity').locator('.delta');
  assert.deepEqual(await ppl.evaluateAll((ds) => ds.map((d) => d.className)), ['delta better m4', 'delta worse m4']);
  const tint = (i) => ppl.nth(i).evaluate((e) => getComputedStyle(e).backgroundColor);
  assert.notEqual(await tint(0), await tint(1), 'green and red tints');
  assert.equal(await row('wikitext', 'word_perplexity').locator('.value.best').textContent(), '11');
  // Paired records: McNemar, in the title.
  assert.deepEqual(await cells('svamp', 'exact_match'), ['0.3333', '0.6333 +0.3000 p=0.012*', '—']);
  assert.match(
    await row('svamp', 'exact_match').locator('td.num').nth(1).getAttribute('title'),
    /p = 0\.012 \(McNemar \(exact\), 30 paired, b = 1, c = 10\)$/,
  );
  // The average row: tasks every model has (gsm8k, arc_easy, the hostile one).
  assert.equal(await p.locator('table.bench tfoot td.metric').textContent(), '3 tasks');
  await noInjection();

  // Show only what differs: arc_easy is equal everywhere, so hidden until the box is cleared.
  assert.equal(await p.isChecked('#only-differs'), true);
  assert.deepEqual(await rowTasks(), ['gsm8k', 'wikitext', HOSTILE, 'svamp']);
  assert.equal(await p.textContent('#count'), '4 of 5 rows differ');
  assert.equal(await p.locator('#problems li').textContent(), `/ws/results/broken.json: invalid JSON ${HOSTILE}`);
  assert.match(
    await p.textContent('#legend'),
    /^Δ against qwen-base\. \* p < 0\.05, \*\* p < 0\.01, \*\*\* p < 0\.001 \(z-test on standard errors, McNemar \(exact\)\)\.$/,
  );
  assert.match(await p.textContent('#notes'), /Average leaves out svamp/);
  await noInjection();

  // A bar chart per task shown, bars coloured like the Δ.
  assert.deepEqual(await p.locator('#charts figcaption').allTextContents(), [
    'gsm8k · acc ↑',
    'wikitext · word_perplexity ↓',
    `${HOSTILE} · acc ↑`,
    'svamp · exact_match ↑',
  ]);
  assert.deepEqual(
    await p
      .locator('#charts figure')
      .first()
      .locator('rect.bar')
      .evaluateAll((rs) => rs.map((r) => r.getAttribute('class'))),
    ['bar baseline', 'bar worse', 'bar better'],
  );
  const widths = await p
    .locator('#charts figure')
    .first()
    .locator('rect.bar')
    .evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('width'))));
  assert.ok(widths[2] > widths[0] && widths[0] > widths[1], `bar lengths follow the values: ${widths}`);
  assert.equal(
    await p.locator('#charts figure').first().locator('line.whisker').count(),
    3,
    'standard errors as whiskers',
  );
  assert.match(
    await p.locator('#charts svg').first().getAttribute('aria-label'),
    /^gsm8k acc: qwen-base 0\.5000, qwen-ft 0\.4600 \(−0\.0400\), /,
  );
  assert.equal(await p.locator('#charts figure').nth(3).locator('text.empty').textContent(), 'no result');
  await p.screenshot({ path: path.join(artifacts, 'benchmark-diff.png'), fullPage: true });

  // Sorting: by qwen-ft's Δ ascending, then descending, then back to the file's order.
  await p.click('button.sort[data-column="1"]');
  assert.deepEqual(await rowTasks(), ['wikitext', 'gsm8k', HOSTILE, 'svamp']);
  assert.equal(await p.getAttribute('table.bench thead th:nth-child(4)', 'aria-sort'), 'ascending');
  await p.click('button.sort[data-column="1"]');
  assert.deepEqual(await rowTasks(), ['svamp', HOSTILE, 'gsm8k', 'wikitext']);
  assert.equal(await p.getAttribute('table.bench thead th:nth-child(4)', 'aria-sort'), 'descending');
  assert.deepEqual(
    (await p.evaluate(() => window.acquireVsCodeApi().getState())).sort,
    { column: 1, descending: true },
    'the sort survives a reload',
  );
  // From the keyboard: the focused header stays focused; Enter sorts by task.
  await p.focus('button.sort[data-column="task"]');
  await p.keyboard.press('Enter');
  assert.deepEqual(await rowTasks(), [HOSTILE, 'gsm8k', 'svamp', 'wikitext']);
  assert.equal(await p.evaluate(() => document.activeElement.dataset.column), 'task');
  await p.keyboard.press('Enter');
  await p.keyboard.press('Enter');
  assert.deepEqual(await rowTasks(), ['gsm8k', 'wikitext', HOSTILE, 'svamp'], 'the third press restores the order');

  // Exports carry the table as shown (arc_easy hidden).
  for (const f of ['markdown', 'csv', 'latex']) await p.click(`#export-${f}`);
  const exported = (f) => posted().then((ms) => ms.find((m) => m.type === 'export' && m.format === f).content);
  const md = await exported('markdown');
  assert.ok(
    md.startsWith(
      `| task | metric | qwen-base (baseline) | qwen-ft | ${HOSTILE} |\n|---|---|---:|---:|---:|\n| gsm8k | acc ↑ | 0.5000 | 0.4600 (−0.0400**) | **0.5500** (+0.0500***) |\n`,
    ),
    md,
  );
  assert.ok(!md.includes('arc_easy |'), 'hidden rows are not exported');
  const csv = await exported('csv');
  assert.ok(
    csv.startsWith(
      'task,metric,higher_is_better,unit,qwen-base,qwen-base stderr,qwen-ft,qwen-ft stderr,qwen-ft delta,qwen-ft p,qwen-ft test,',
    ),
    csv,
  );
  assert.ok(
    csv.includes(
      '\nsvamp,exact_match,true,fraction,0.3333333333333333,,0.6333333333333333,,0.3,0.01171875,mcnemar-exact,',
    ),
    csv,
  );
  const tex = await exported('latex');
  assert.ok(tex.includes('gsm8k & acc $\\uparrow$ & 0.5000 & 0.4600$^{**}$ & \\textbf{0.5500}$^{***}$ \\\\'), tex);
  assert.ok(tex.includes('\\textless{}img src=x onerror="window.pwned=1"\\textgreater{}'), 'names escaped for LaTeX');

  // Keyboard: Tab reaches the baseline and correction choices, the filter and the exports; Space toggles the filter.
  await p.click('h1');
  for (const id of ['baseline', 'correction', 'only-differs']) {
    await p.keyboard.press('Tab');
    assert.equal(await focusedId(), id);
  }
  await p.keyboard.press('Space');
  assert.equal(await p.isChecked('#only-differs'), false);
  assert.deepEqual(await rowTasks(), ['gsm8k', 'wikitext', 'arc_easy', HOSTILE, 'svamp']);
  assert.deepEqual(await cells('arc_easy', 'acc'), ['0.7000', '0.7000 ±0.0000 p=1.000', '0.7000 ±0.0000 p=1.000']);
  assert.equal(
    await row('arc_easy', 'acc').locator('.delta').first().getAttribute('class'),
    'delta same m1 ns',
    'no difference: muted',
  );
  assert.equal(
    (await p.evaluate(() => window.acquireVsCodeApi().getState())).onlyDiffers,
    false,
    'the choice survives a reload',
  );
  for (const id of ['export-markdown', 'export-csv', 'export-latex']) {
    await p.keyboard.press('Tab');
    assert.equal(await focusedId(), id);
  }
  await p.keyboard.press('Tab');
  assert.equal(await p.evaluate(() => document.activeElement.dataset.column), 'task', 'then the sort headers');

  // Another baseline: the page asks the host, which recomputes the tests (they need the records).
  await p.selectOption('#baseline', 'qwen-ft');
  assert.deepEqual((await posted()).at(-1), { type: 'baseline', model: 'qwen-ft' });
  await postInit({ type: 'init', report: diffResults(results, 'qwen-ft'), models: refs, problems: [] });
  assert.deepEqual(await p.locator('table.bench thead th button.sort').allTextContents(), [
    'Task',
    'Metric',
    'qwen-ft',
    'qwen-base',
    HOSTILE,
  ]);
  assert.equal(await p.inputValue('#baseline'), 'qwen-ft');
  assert.equal(await p.isHidden('#problems'), true);
  assert.equal((await p.evaluate(() => window.acquireVsCodeApi().getState())).baseline, 'qwen-ft');
  await p.screenshot({ path: path.join(artifacts, 'benchmark-diff-all-rows.png'), fullPage: true });

  // A correction: the page asks the host, and shows the marks and the legend of the report it gets back.
  await p.selectOption('#correction', 'holm');
  assert.deepEqual((await posted()).at(-1), { type: 'correction', correction: 'holm' });
  const holm = diffResults(results, 'qwen-ft', 'holm');
  await postInit({ type: 'init', report: holm, models: refs, problems: [] });
  assert.equal(await p.inputValue('#correction'), 'holm');
  assert.match(await p.textContent('#legend'), /p-values Holm-adjusted over each model's tests\.$/);
  const marks = await p.locator('table.bench tbody sup.mark').allTextContents();
  assert.deepEqual(
    marks,
    holm.rows.flatMap((r) => r.cells.map((c) => c.mark)).filter((m) => m),
    'the marks of the adjusted p-values',
  );
  assert.equal((await p.evaluate(() => window.acquireVsCodeApi().getState())).correction, 'holm');

  // An error from the host shows as an alert.
  await post({ type: 'error', message: `Nothing to compare. ${HOSTILE}` });
  await p.waitForFunction(() => !document.getElementById('message').hidden);
  assert.equal(await p.textContent('#message'), `Nothing to compare. ${HOSTILE}`);
  await noInjection();
  assert.deepEqual(errors, []);
  console.log('benchmarks UI test passed; screenshots in test-artifacts/ui/');
} catch (e) {
  failed = true;
  await p.screenshot({ path: path.join(artifacts, 'benchmarks-failure.png'), fullPage: true }).catch(() => {});
  console.error(`benchmarks UI test failed: ${e instanceof Error ? e.stack : e}`);
} finally {
  await close();
}
process.exit(failed ? 1 : 0);
