#!/usr/bin/env node
// The benchmark diff's Δ chips in a dark and a light theme (Dark+ and Light+ variables), in headless
// Chromium: the WCAG contrast of each chip's text on its background, both as the browser computed them,
// is at least 4.5:1 at every strength, better and worse; non-significant Δ are muted; selects follow the
// theme. Screenshots: test-artifacts/ui/delta-chips-<theme>.png.
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

// One task per Δ size (0.3, 1, 3 and 10 points up and down), significant (tiny standard errors), and one
// large Δ with a large standard error (p ≈ 0.4): muted.
const sizes = [0.003, 0.01, 0.03, 0.1];
const model = (name, sign) => ({
  model: name,
  file: `/ws/${name}.taia-results.json`,
  format: 'taia-results',
  tasks: new Map([
    ...sizes.map((d, i) => [
      `t${i}`,
      { metrics: new Map([['acc', { value: 0.5 + sign * d, stderr: 1e-4, higherIsBetter: true, scale: 'fraction' }]]) },
    ]),
    [
      'noisy',
      {
        metrics: new Map([['acc', { value: 0.5 + sign * 0.1, stderr: 0.12, higherIsBetter: true, scale: 'fraction' }]]),
      },
    ],
  ]),
});
const results = [model('base', 0), model('up', 1), model('down', -1)];
const report = diffResults(results);

/** Relative luminance (WCAG 2.x) of a computed colour: rgb()/rgba() or color(srgb …), composited over `under` where translucent. */
function parse(css) {
  let m = /^rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)$/.exec(css);
  if (m) return [Number(m[1]) / 255, Number(m[2]) / 255, Number(m[3]) / 255, m[4] === undefined ? 1 : Number(m[4])];
  m = /^color\(srgb ([\d.e-]+) ([\d.e-]+) ([\d.e-]+)(?: \/ ([\d.]+))?\)$/.exec(css);
  if (m) return [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])];
  throw new Error(`unparsed colour ${css}`);
}
const over = (top, under) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3]));
const luminance = (rgb) =>
  rgb
    .map((c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4))
    .reduce((s, c, i) => s + c * [0.2126, 0.7152, 0.0722][i], 0);
const ratio = (a, b) => {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
};

const pages = { '/diff': benchmarkDiffHtml(POLICY, NONCE, '/benchmarkDiff.js', '/benchmarks.css') };
const files = { '/benchmarkDiff.js': [path.join(repo, 'dist/webview/benchmarkDiff.js'), 'text/javascript'] };
let failed = false;
for (const theme of ['dark', 'light']) {
  const { p, base, errors, postInit, close } = await openWebviewPages({ pages, files, theme });
  try {
    await p.goto(`${base}/diff`);
    await p.waitForFunction(() => window.__posted.some((m) => m.type === 'ready'));
    await postInit({
      type: 'init',
      report,
      models: results.map((r) => ({ file: r.file, model: r.model })),
      problems: [],
    });
    const page = parse(await p.evaluate(() => getComputedStyle(document.body).backgroundColor));
    const chips = await p.locator('table.bench tbody .delta').evaluateAll((ds) =>
      ds.map((d) => ({
        cls: d.className,
        color: getComputedStyle(d).color,
        bg: getComputedStyle(d).backgroundColor,
      })),
    );
    assert.equal(chips.length, 10);
    const seen = new Set();
    for (const c of chips) {
      const bg = over(parse(c.bg), page);
      const fg = over(parse(c.color), bg);
      const r = ratio(fg, bg);
      assert.ok(r >= 4.5, `${theme}: ${c.cls} has contrast ${r.toFixed(2)}:1 (${c.color} on ${c.bg})`);
      seen.add(c.cls);
    }
    for (const cls of [
      'delta better m2',
      'delta better m3',
      'delta better m4',
      'delta worse m2',
      'delta worse m3',
      'delta worse m4',
    ])
      assert.ok(seen.has(cls), `${cls} is among the chips tested: ${[...seen]}`);
    // The noisy Δ of 10 points (p ≈ 0.4) is muted, with its p beside it.
    const noisy = p.locator('table.bench tbody tr').filter({ hasText: 'noisy' });
    assert.deepEqual(await noisy.locator('.delta').evaluateAll((ds) => ds.map((d) => d.className)), [
      'delta better m4 ns',
      'delta worse m4 ns',
    ]);
    assert.match(await noisy.locator('.p').first().textContent(), /^ p=0\.5\d\d$/);
    assert.equal(
      await noisy
        .locator('.delta')
        .first()
        .evaluate((e) => getComputedStyle(e).backgroundColor),
      'rgba(0, 0, 0, 0)',
      'muted: no tint',
    );
    // The selects take the theme's dropdown colours.
    const select = await p.locator('#baseline').evaluate((e) => getComputedStyle(e).backgroundColor);
    assert.equal(select, theme === 'dark' ? 'rgb(60, 60, 60)' : 'rgb(255, 255, 255)');
    await p.screenshot({ path: path.join(artifacts, `delta-chips-${theme}.png`) });
    assert.deepEqual(errors, []);
    console.log(
      `delta chips (${theme}): ${chips.length} chips, lowest contrast ${Math.min(
        ...chips.map((c) => {
          const bg = over(parse(c.bg), page);
          return ratio(over(parse(c.color), bg), bg);
        }),
      ).toFixed(2)}:1`,
    );
  } catch (e) {
    failed = true;
    await p.screenshot({ path: path.join(artifacts, `delta-chips-${theme}-failure.png`) }).catch(() => {});
    console.error(`delta chips UI test (${theme}) failed: ${e instanceof Error ? e.stack : e}`);
  } finally {
    await close();
  }
}
if (!failed) console.log('delta chips UI test passed');
process.exit(failed ? 1 : 0);
