#!/usr/bin/env node
// The weight-delta review webview rendered from its bundle in headless Chromium with fixture data:
// a real report computed by the core from generated checkpoints (planted change, NaN, a hostile tensor
// name), then an 80-layer × 10-module synthetic one. Asserts cells, colours, detail pane, keyboard,
// escaping and messages; keeps screenshots in test-artifacts/ui/.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { NONCE, POLICY, openWebviewPages } from './webviewPage.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
const { writeLlama } = require(path.join(repo, 'out/test/helpers/models.js'));
const { diffCheckpoints } = require(path.join(repo, 'out/src/core/delta/diff.js'));
const { reviewHtml } = require(path.join(repo, 'out/src/extension/deltaReview/page.js'));
const artifacts = path.join(repo, 'test-artifacts', 'ui');
mkdirSync(artifacts, { recursive: true });

// Fixture: q_proj of layer 1 changed strongly, o_proj slightly, a NaN in layer 0's up_proj.
const dir = mkdtempSync(path.join(tmpdir(), 'taia-review-'));
const shape = { layers: 3, hidden: 16, intermediate: 24, vocab: 32, heads: 4, kvHeads: 2 };
writeLlama(path.join(dir, 'base'), shape, { dtype: 'F32', seed: 1 });
writeLlama(path.join(dir, 'ft'), shape, {
  dtype: 'F32',
  seed: 1,
  values: (name, _s, v) =>
    name === 'model.layers.1.self_attn.q_proj.weight'
      ? v.map((x, i) => x + (i % 3) * 0.05)
      : name.includes('o_proj')
        ? v.map((x) => x * 1.001)
        : name === 'model.layers.0.mlp.up_proj.weight'
          ? v.map((x, i) => (i === 0 ? NaN : x))
          : v,
});
const report = await diffCheckpoints({ base: path.join(dir, 'base'), finetuned: path.join(dir, 'ft'), spectrum: 2 });
rmSync(dir, { recursive: true, force: true });
// A hostile name as a file could carry it: it must show as text.
report.tensors.find((t) => t.name === 'model.norm.weight').name = '<img src=x onerror="window.pwned=1">';

const pages = { '/': reviewHtml(POLICY, NONCE, '/deltaReview.js', '/deltaReview.css') };
const files = { '/deltaReview.js': [path.join(repo, 'dist/webview/deltaReview.js'), 'text/javascript'] };
const { p, base, errors, close } = await openWebviewPages({ pages, files, viewport: { width: 1300, height: 900 } });
let failed = false;
try {
  await p.goto(`${base}/`);
  await p.waitForFunction(() => window.__posted.some((m) => m.type === 'ready'));
  await p.evaluate((r) => {
    window.postMessage({ type: 'start', base: r.base, finetuned: r.finetuned, spectrum: 2 }, '*');
    for (const t of r.tensors.slice(0, 5)) window.postMessage({ type: 'tensor', tensor: t }, '*');
  }, report);
  await p.waitForFunction(() => document.querySelectorAll('button.cell').length > 0);
  assert.equal(await p.isVisible('#cancel'), true, 'Cancel shows while statistics stream');
  // Progress with its total: tensors and bytes of all.
  await p.evaluate(() =>
    window.postMessage({ type: 'progress', bytesDone: 2e6, bytesTotal: 8e6, tensors: 5, count: 30 }, '*'),
  );
  await p.waitForFunction(() => document.getElementById('status').textContent.startsWith('computing… 5 of 30 tensors'));
  assert.match(await p.textContent('#status'), /^computing… 5 of 30 tensors · 2\.00 MB of 8\.00 MB/);
  await p.click('#cancel');
  assert.ok((await p.evaluate(() => window.__posted)).some((m) => m.type === 'cancel'));
  await p.evaluate((r) => window.postMessage({ type: 'done', report: r }, '*'), report);
  await p.waitForFunction(() => document.getElementById('status').textContent === '30 tensors');
  // 3 layers × 9 modules (q k v o gate up down + 2 norms).
  assert.equal(await p.locator('button.cell').count(), 27);
  // The legend: the colour scale from no change to the largest, and what the marks mean.
  assert.equal(await p.locator('#heatmap-legend .scale .swatch').count(), 6);
  assert.match(
    await p.getAttribute('#heatmap-legend .scale', 'aria-label'),
    /^colour scale from [\d.e+-]+% to [\d.e+-]+%, logarithmic$/,
  );
  assert.match(await p.textContent('#heatmap-legend .marks'), /NaN or Inf.*not from where the recipe says.*selected/);
  const intensity = (name) =>
    p.locator(`button.cell[data-name="${name}"]`).evaluate((e) => parseFloat(e.style.getPropertyValue('--intensity')));
  const hot = await intensity('model.layers.1.self_attn.q_proj.weight');
  const warm = await intensity('model.layers.0.self_attn.o_proj.weight');
  const cold = await intensity('model.layers.0.self_attn.k_proj.weight');
  assert.ok(hot === 100 && warm > 0 && warm < hot && cold === 0, `intensities ${hot} ${warm} ${cold}`);
  const bg = (name) =>
    p.locator(`button.cell[data-name="${name}"]`).evaluate((e) => getComputedStyle(e).backgroundColor);
  assert.notEqual(
    await bg('model.layers.1.self_attn.q_proj.weight'),
    await bg('model.layers.0.self_attn.k_proj.weight'),
    'changed and unchanged cells differ in colour',
  );
  const nan = p.locator('button.cell[data-name="model.layers.0.mlp.up_proj.weight"]');
  assert.equal(await nan.textContent(), '!');
  assert.ok((await nan.getAttribute('class')).includes('nonfinite'));
  assert.match(
    await p.textContent('#verdict'),
    /⚠ 1 tensor\(s\) hold NaN or Inf: model\.layers\.0\.mlp\.up_proj\.weight/,
  );
  // Detail pane from a click, then keyboard navigation.
  await p.click('button.cell[data-name="model.layers.1.self_attn.q_proj.weight"]');
  assert.equal(await p.textContent('#detail h3'), 'model.layers.1.self_attn.q_proj.weight');
  assert.match(await p.textContent('#detail'), /top singular values/);
  assert.equal(await p.locator('#detail svg.histogram rect').count(), 32);
  // The states that matter, as the stylesheet draws them (a cut-short media/deltaReview.css drops these).
  const style = (sel) =>
    p
      .locator(sel)
      .first()
      .evaluate((e) => {
        const c = getComputedStyle(e);
        return {
          outline: `${c.outlineStyle} ${c.outlineWidth}`,
          border: `${c.borderTopStyle} ${c.borderTopWidth} ${c.borderTopColor}`,
          borderLeft: `${c.borderLeftStyle} ${c.borderLeftWidth} ${c.borderLeftColor}`,
          color: c.color,
          bg: c.backgroundColor,
        };
      });
  const red = 'rgb(244, 135, 113)'; // the theme's errorForeground
  assert.equal((await style('button.cell.selected')).outline, 'solid 2px', 'the selected cell is outlined');
  assert.equal(
    (await style('button.cell.nonfinite')).border,
    `solid 2px ${red}`,
    'a non-finite cell has a solid red border',
  );
  assert.equal((await style('p.alarm')).borderLeft, `solid 3px ${red}`, 'an alarm is flagged with a red bar');
  assert.equal((await style('p.alarm')).color, red);
  for (const sel of ['#ranking button.link.sort', '#outside button.link']) {
    const link = await style(sel);
    assert.equal(link.bg, 'rgba(0, 0, 0, 0)', `${sel} is a link, not a solid button`);
    assert.equal(link.border.split(' ')[0], 'none', `${sel} has no button border`);
  }
  await p.keyboard.press('ArrowRight');
  const focused = await p.evaluate(() => document.activeElement.dataset.name);
  assert.equal(focused, 'model.layers.1.self_attn.k_proj.weight');
  await p.keyboard.press('Enter');
  assert.equal(await p.textContent('#detail h3'), 'model.layers.1.self_attn.k_proj.weight');
  // The hostile name is text, not markup.
  assert.ok((await p.textContent('#outside')).includes('<img src=x onerror="window.pwned=1">'));
  assert.equal(await p.evaluate(() => window.pwned), undefined);
  assert.equal(await p.locator('#outside img').count(), 0);
  // The ranking table sorts by relative change, largest first; a header click reverses it.
  assert.equal(
    await p.locator('#ranking tr').nth(1).locator('td.name').textContent(),
    'model.layers.1.self_attn.q_proj.weight',
  );
  await p.click('#ranking button[data-sort="relative"]');
  assert.equal(await p.locator('#ranking th[aria-sort="ascending"]').count(), 1);
  await p.click('#ranking button[data-sort="name"]');
  assert.equal(
    await p.locator('#ranking tr').nth(1).locator('td.name').textContent(),
    '<img src=x onerror="window.pwned=1">',
  );
  // Metric switch and export.
  await p.selectOption('#metric', 'cosine');
  assert.ok((await intensity('model.layers.1.self_attn.q_proj.weight')) > 0);
  await p.click('#export-md');
  assert.ok((await p.evaluate(() => window.__posted)).some((m) => m.type === 'export' && m.format === 'markdown'));
  await p.selectOption('#metric', 'relative');
  await p.screenshot({ path: path.join(artifacts, 'delta-review.png'), fullPage: true });
  // A three-way check with a tensor from the wrong side: its cell shows ✗ with a dashed red border.
  const wrong = 'model.layers.2.mlp.down_proj.weight';
  const threeWay = {
    ...report,
    merged: '/m',
    tensors: report.tensors.map((t) => ({
      ...t,
      merged: {
        source: t.name === wrong ? 'finetuned' : t.block === 'ffn' ? 'base' : 'finetuned',
        expected: t.block === 'ffn' ? 'base' : 'finetuned',
      },
    })),
    threeWay: {
      merged: '/m',
      recipe: 'taia',
      violations: [{ name: wrong, expected: 'base', actual: 'finetuned' }],
      sources: {},
      verdict: 'TAIA check failed: 1 tensor from the wrong place',
    },
  };
  await p.evaluate((r) => window.postMessage({ type: 'done', report: r }, '*'), threeWay);
  await p.waitForFunction(
    (n) => document.querySelector(`button.cell[data-name="${n}"]`)?.classList.contains('forbidden'),
    wrong,
  );
  assert.equal(await p.textContent(`button.cell[data-name="${wrong}"]`), '✗');
  assert.equal(
    (await style(`button.cell[data-name="${wrong}"]`)).border,
    `dashed 2px ${red}`,
    'a forbidden cell has a dashed red border',
  );
  assert.equal(
    (await style('button.cell.forbidden')).border ===
      (await style('button.cell:not(.forbidden):not(.nonfinite)')).border,
    false,
  );
  // State survives a reload: the same page redraws from getState without new messages.
  const state = await p.evaluate(() => window.acquireVsCodeApi().getState?.());
  void state;

  // Scale: 80 layers × 10 modules.
  const big = { ...report, tensors: [] };
  const mods = ['q', 'k', 'v', 'o', 'gate', 'up', 'down', 'input_norm', 'post_attention_norm', 'q_norm'];
  for (let l = 0; l < 80; l++)
    for (const [j, m] of mods.entries())
      big.tensors.push({
        ...report.tensors[1],
        name: `model.layers.${l}.x.${m}.weight`,
        layer: l,
        module: m,
        block: j < 4 || j === 9 ? 'attention' : j < 7 ? 'ffn' : 'norm',
        relative: (l + 1) * (j + 1) * 1e-4,
        merged: undefined,
      });
  const t0 = Date.now();
  await p.evaluate((r) => window.postMessage({ type: 'done', report: r }, '*'), big);
  await p.waitForFunction(() => document.querySelectorAll('button.cell').length === 800);
  console.log(`80 layers x 10 modules rendered in ${Date.now() - t0} ms (message to painted cells)`);
  await p.screenshot({ path: path.join(artifacts, 'delta-review-80-layers.png') });
  assert.deepEqual(errors, []);
  console.log('delta review UI test passed; screenshots in test-artifacts/ui/');
} catch (e) {
  failed = true;
  await p.screenshot({ path: path.join(artifacts, 'delta-review-failure.png'), fullPage: true }).catch(() => {});
  console.error(`delta review UI test failed: ${e instanceof Error ? e.stack : e}`);
} finally {
  await close();
}
process.exit(failed ? 1 : 0);
