#!/usr/bin/env node
// The run dashboard and the run comparison webviews rendered from their bundles in headless Chromium,
// with fixture runs posted as the host posts them. Asserts the loss curve's points and direction,
// state and progress, live appends (and a resume replacing steps), escaping of hostile names and
// config values, keyboard reach, "show only what differs" and the exports; a 10,000-step run checks
// that charts stay fast. Screenshots go to test-artifacts/ui/.
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { NONCE, POLICY, openWebviewPages } from './webviewPage.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
const { runDashboardHtml, compareRunsHtml } = require(path.join(repo, 'out/src/extension/runs/pages.js'));
const { readRunData } = require(path.join(repo, 'out/src/core/runs/view.js'));
// A run of another tool as the host reads it: TRL's real output folder (test/fixtures/runs/SOURCES.md).
const trl = await readRunData(
  path.join(repo, 'test/fixtures/runs/tinyllama-sft'),
  path.join(repo, 'test/fixtures/runs'),
);
const artifacts = path.join(repo, 'test-artifacts', 'ui');
mkdirSync(artifacts, { recursive: true });

const HOSTILE = '<img src=x onerror="window.pwned=1">';

/** metrics.jsonl records as the trainer writes them: loss falling from `from` towards `to`. */
function records(first, last, { from = 3, to = 1, total = last, lr = 2e-4, tps = 5000 } = {}) {
  const out = [];
  for (let step = first; step <= last; step++) {
    const f = (step - 1) / Math.max(1, total - 1);
    out.push({
      step,
      epoch: step / 10,
      loss: from + (to - from) * f + 0.02 * Math.sin(step),
      lr: lr * (1 - f / 2),
      gradNorm: 1.5 - f,
      tokensPerSecond: tps + 100 * Math.cos(step),
      liveTensors: 131,
      elapsed: step * 0.5,
      time: new Date(Date.UTC(2026, 0, 1, 0, 0, step / 2)).toISOString(),
    });
  }
  return out;
}

function config(name, over = {}) {
  const c = {
    name,
    base: '/ws/models/tiny',
    dataset: '/ws/data/train.jsonl',
    engine: 'tfjs',
    device: 'auto',
    backend: 'auto',
    train: {
      method: 'lora',
      num_train_epochs: 1,
      max_steps: 100,
      batch_size: 8,
      gradient_accumulation_steps: 1,
      max_seq_length: 256,
      learning_rate: 2e-4,
      lr_scheduler_type: 'cosine',
      warmup_steps: 0,
      seed: 42,
    },
    lora: { r: 16, lora_alpha: 32, lora_dropout: 0, use_rslora: false, target_modules: ['q_proj', 'v_proj'] },
    merge: { recipe: 'taia' },
    eval: { tasks: [] },
  };
  for (const [k, v] of Object.entries(over)) c[k] = typeof v === 'object' && !Array.isArray(v) ? { ...c[k], ...v } : v;
  return c;
}

function status(name, over = {}) {
  return {
    id: `2026-01-01T00-00-00-${name.replace(/[^A-Za-z0-9]+/g, '-')}`,
    name,
    state: 'running',
    createdAt: '2026-01-01T00:00:00.000Z',
    startedAt: '2026-01-01T00:00:00.000Z',
    engine: 'tfjs',
    backend: 'tfjs wasm (SIMD)',
    step: 0,
    totalSteps: 100,
    ...over,
  };
}

const pages = {
  '/dashboard': runDashboardHtml(POLICY, NONCE, '/runDashboard.js', '/runs.css'),
  '/compare': compareRunsHtml(POLICY, NONCE, '/compareRuns.js', '/runs.css'),
};
const files = {
  '/runDashboard.js': [path.join(repo, 'dist/webview/runDashboard.js'), 'text/javascript'],
  '/compareRuns.js': [path.join(repo, 'dist/webview/compareRuns.js'), 'text/javascript'],
};
const { p, base, errors, post, posted, postInit, close } = await openWebviewPages({
  pages,
  files,
  viewport: { width: 1200, height: 900 },
});
/** Pixel coordinates of a polyline's points. */
const polyline = (selector) => p.locator(selector).evaluate((e) => [...e.points].map((pt) => [pt.x, pt.y]));
const focusedId = () => p.evaluate(() => document.activeElement?.id || document.activeElement?.closest('[id]')?.id);
const noInjection = async () => {
  assert.equal(await p.locator('img').count(), 0, 'a hostile string created no element');
  assert.equal(await p.evaluate(() => window.pwned), undefined);
};

let failed = false;
try {
  // ── Run dashboard ──
  await p.goto(`${base}/dashboard`);
  await p.waitForFunction(() => window.__posted.some((m) => m.type === 'ready'));
  const runDir = '/ws/.taia/runs/2026-01-01T00-00-00-x';
  await postInit({
    type: 'init',
    runDir,
    status: status(HOSTILE, { step: 30 }),
    config: config(HOSTILE, { dataset: HOSTILE }),
    metrics: records(1, 30, { total: 100 }),
  });
  assert.deepEqual(
    (await posted()).find((m) => m.type === 'rendered'),
    { type: 'rendered', records: 30 },
  );
  assert.deepEqual(
    await p.evaluate(() => window.acquireVsCodeApi().getState()),
    { runDir },
    'the serializer gets the run folder',
  );
  assert.equal(await p.textContent('#state-label'), 'running');
  assert.equal(await p.getAttribute('#state', 'class'), 'state state-running');
  assert.equal(await p.textContent('#state-icon'), '▶');
  assert.equal(await p.textContent('#progress-text'), 'step 30 / 100 (30%)');
  assert.equal(await p.evaluate(() => document.getElementById('progress').value), 30);
  // 0.5 s per step, 70 steps left.
  assert.equal(await p.textContent('#eta'), 'ETA 35 s');
  // A running run can be cancelled from its dashboard.
  assert.equal(await p.isVisible('#cancel'), true);
  await p.click('#cancel');
  assert.deepEqual((await posted()).at(-1), { type: 'cancel' });
  assert.equal(await p.isDisabled('#cancel'), true, 'one request per click');
  let loss = await polyline('#chart-loss polyline.series');
  assert.equal(loss.length, 30, 'one point per record');
  assert.ok(loss[0][1] < loss[29][1] - 50, `a falling loss draws downwards (y ${loss[0][1]} → ${loss[29][1]})`);
  assert.equal(await p.locator('#chart-lr polyline.series').evaluate((e) => e.points.length), 30);
  assert.equal(await p.locator('#chart-throughput polyline.series').evaluate((e) => e.points.length), 30);
  assert.match(await p.getAttribute('#chart-loss svg', 'aria-label'), /^loss: 30 points, last 2\.39\d* at step 30$/);
  // Config summary and the hostile name / value as text.
  assert.equal(await p.textContent('#title'), HOSTILE);
  const configText = await p.textContent('#config');
  for (const s of ['lora', '0.0002 (cosine)', '256', '16 / 32', HOSTILE])
    assert.ok(configText.includes(s), `config shows ${s}: ${configText}`);
  assert.equal(await p.isHidden('#failure'), true);
  await noInjection();
  await p.screenshot({ path: path.join(artifacts, 'run-dashboard-running.png'), fullPage: true });

  // Live: appended records extend the charts; the status moves the progress.
  await post({ type: 'metrics', records: records(31, 40, { total: 100 }) });
  await post({ type: 'status', status: status(HOSTILE, { step: 40 }) });
  await p.waitForFunction(() => document.querySelector('#chart-loss polyline.series').points.length === 40);
  assert.equal(await p.textContent('#progress-text'), 'step 40 / 100 (40%)');
  loss = await polyline('#chart-loss polyline.series');
  assert.ok(loss[39][0] > loss[29][0], 'new points extend to the right');
  // A resume from checkpoint 35 logs step 36 again: the newer records replace the old from there.
  await post({ type: 'metrics', records: records(36, 36, { total: 100 }) });
  await p.waitForFunction(() => document.querySelector('#chart-loss polyline.series').points.length === 36);
  // The resumed trainer's clock starts at 0 again: the ETA uses the new segment only, once it has two
  // records, and the elapsed time adds both segments (18 s up to step 36, then 2.5 s).
  await post({
    type: 'metrics',
    records: records(37, 40, { total: 100 }).map((r) => ({ ...r, elapsed: (r.step - 35) * 0.5 })),
  });
  await p.waitForFunction(() => document.querySelector('#chart-loss polyline.series').points.length === 40);
  assert.equal(await p.textContent('#eta'), 'ETA 30 s');
  assert.match(await p.textContent('#latest'), /elapsed21 s/);

  // Failure: state, error and stderr tail.
  await post({
    type: 'status',
    status: status(HOSTILE, {
      step: 36,
      state: 'failed',
      endedAt: '2026-01-01T00:01:05.000Z',
      error: 'trainer exited with code 1',
      stderrTail: `RangeError: out of memory\n    at ${HOSTILE}`,
    }),
  });
  await p.waitForFunction(() => document.getElementById('state-label').textContent === 'failed');
  assert.equal(await p.textContent('#state-icon'), '✗');
  assert.equal(await p.isVisible('#failure'), true);
  assert.equal(await p.textContent('#error'), 'trainer exited with code 1');
  assert.equal(await p.textContent('#stderr'), `RangeError: out of memory\n    at ${HOSTILE}`);
  assert.equal(await p.textContent('#eta'), 'took 1 min 05 s');
  await noInjection();

  // Keyboard: Tab reaches the buttons and the charts; arrow keys read values off a chart.
  // A click on the heading puts the start of Tab navigation at the top of the page.
  await p.click('h1');
  const order = [];
  for (let i = 0; i < 5; i++) {
    await p.keyboard.press('Tab');
    order.push(await p.evaluate(() => document.activeElement.id || document.activeElement.parentElement.id));
  }
  assert.deepEqual(order, ['open-log', 'open-config', 'chart-loss', 'chart-lr', 'chart-throughput']);
  await p.keyboard.press('Shift+Tab');
  await p.keyboard.press('Shift+Tab');
  await p.keyboard.press('ArrowRight');
  assert.match(await p.textContent('#chart-loss .readout'), /^step 1: loss 3\.017$/);
  await p.keyboard.press('End');
  assert.match(await p.textContent('#chart-loss .readout'), /^step 40: loss /);
  assert.equal(await p.locator('#chart-loss line.cursor').count(), 1);
  await p.keyboard.press('Shift+Tab');
  await p.keyboard.press('Shift+Tab');
  assert.equal(await focusedId(), 'open-log');
  await p.keyboard.press('Enter');
  assert.ok((await posted()).some((m) => m.type === 'open' && m.file === 'log'));
  await p.screenshot({ path: path.join(artifacts, 'run-dashboard-failed.png'), fullPage: true });

  // Scale: 10,000 steps, then live appends of 50 records at a time.
  const big = records(1, 10000, { total: 20000 });
  // Timed in the page, from the message to the page saying it drew it (the fixture's transfer is not counted).
  const initMs = await p.evaluate(
    async (m) => {
      const seen = window.__posted.length;
      const t = performance.now();
      window.postMessage(m, '*');
      while (!window.__posted.slice(seen).some((x) => x.type === 'rendered'))
        await new Promise((r) => setTimeout(r, 1));
      return Math.round(performance.now() - t);
    },
    {
      type: 'init',
      runDir,
      status: status('long run', { step: 10000, totalSteps: 20000 }),
      config: config('long run'),
      metrics: big,
    },
  );
  assert.ok(initMs < 1000, `10,000 steps draw in ${initMs} ms`);
  const width = await p.locator('#chart-loss svg').evaluate((e) => e.width.baseVal.value);
  const drawn = await p.locator('#chart-loss polyline.series').evaluate((e) => e.points.length);
  assert.ok(drawn > 100 && drawn <= 4 * width, `10,000 points draw as ${drawn} for a ${width} px chart`);
  const t0 = Date.now();
  for (let s = 10001; s <= 10500; s += 50) {
    await post({ type: 'metrics', records: records(s, s + 49, { total: 20000 }) });
    await p.waitForFunction(
      (n) => document.getElementById('progress-text').textContent.startsWith(`step ${n} `),
      s + 49,
    );
  }
  const appendMs = (Date.now() - t0) / 10;
  console.log(
    `10,000 steps: first render ${initMs} ms, ${drawn} points drawn; live append of 50 records ${appendMs.toFixed(1)} ms each`,
  );
  assert.ok(appendMs < 250, `appends stay fast (${appendMs} ms)`);
  assert.equal(await p.textContent('#progress-text'), 'step 10500 / 20000 (52%)');
  await p.screenshot({ path: path.join(artifacts, 'run-dashboard-10000-steps.png'), fullPage: true });

  // A PyTorch run on a GPU: its peak memory gets a chart and a line in Latest; a run without it has neither.
  assert.equal(await p.isHidden('#gpu'), true, 'no GPU memory recorded: no chart');
  assert.ok(!(await p.textContent('#latest')).includes('GPU'));
  const gpuRecords = records(1, 20).map((r, i) => ({ ...r, gpuMemory: (5 + i / 10) * 2 ** 30 }));
  await postInit({
    type: 'init',
    runDir,
    status: status('torch run', { step: 20, totalSteps: 20, engine: 'torch', backend: 'torch on cuda:0 (bfloat16)' }),
    config: config('torch run'),
    metrics: gpuRecords,
  });
  await p.waitForFunction(() => !document.getElementById('gpu').hidden);
  assert.equal(await p.locator('#chart-gpu polyline.series').evaluate((e) => e.points.length), 20);
  assert.match(
    await p.getAttribute('#chart-gpu svg', 'aria-label'),
    /^peak GPU memory \(GiB\): 20 points, last 6\.9\d* at step 20$/,
  );
  assert.ok((await p.textContent('#latest')).includes('peak GPU memory6.9 GiB'), await p.textContent('#latest'));
  await p.screenshot({ path: path.join(artifacts, 'run-dashboard-gpu.png'), fullPage: true });

  // A TRL run read in place: its loss and eval loss on one chart with a legend, its settings and config
  // files instead of an experiment config, and the pickle it did not read.
  await postInit({
    type: 'init',
    runDir: trl.dir,
    status: trl.status,
    metrics: trl.metrics,
    evals: trl.evals,
    hyperparameters: trl.hyperparameters,
    notes: trl.notes,
  });
  assert.deepEqual(
    await p.locator('#chart-loss polyline.series').evaluateAll((ps) => ps.map((e) => e.points.length)),
    [186, 14],
  );
  assert.deepEqual(await p.locator('#chart-loss ul.legend li').allTextContents(), ['loss', 'eval loss']);
  assert.equal(await p.isHidden('#chart-lr ul.legend'), true, 'one series, no legend');
  assert.match(await p.textContent('#subtitle'), /^tinyllama-sft · TRL$/);
  assert.equal(await p.textContent('#progress-text'), 'step 2800 / 2808 (99%)');
  const trlConfig = await p.textContent('#config');
  for (const s of [
    'toolTRL',
    'adapter_config.json.r8',
    'trainer_state.logging_steps15',
    'eval loss (step 2800)1.122',
    'not readtraining_args.bin: a Python pickle, which is never loaded',
  ])
    assert.ok(trlConfig.includes(s), `config shows ${s}: ${trlConfig}`);
  assert.ok((await p.textContent('#latest')).includes('learning rate1.30e-9'), await p.textContent('#latest'));
  await p.screenshot({ path: path.join(artifacts, 'run-dashboard-external.png'), fullPage: true });

  // ── Compare runs ──
  await p.goto(`${base}/compare`);
  await p.waitForFunction(() => window.__posted.some((m) => m.type === 'ready'));
  const runs = [
    {
      dir: '/ws/.taia/runs/a',
      status: status('lr-1e-4', {
        state: 'done',
        step: 50,
        totalSteps: 50,
        finalLoss: 1.2,
        endedAt: '2026-01-01T00:00:25.000Z',
      }),
      config: config('lr-1e-4', { train: { learning_rate: 1e-4 } }),
      metrics: records(1, 50, { from: 3, to: 1.2 }),
    },
    {
      dir: '/ws/.taia/runs/b',
      status: status('lr-2e-4', {
        state: 'done',
        step: 50,
        totalSteps: 50,
        finalLoss: 0.9,
        endedAt: '2026-01-01T00:00:25.000Z',
      }),
      config: config('lr-2e-4'),
      metrics: records(1, 50, { from: 3, to: 0.9 }).map((r) => ({ ...r, gpuMemory: 12.5 * 2 ** 30 })),
    },
    {
      dir: '/ws/.taia/runs/c',
      status: status(HOSTILE, { state: 'failed', step: 20, totalSteps: 50, endedAt: '2026-01-01T00:00:10.000Z' }),
      config: config(HOSTILE, {
        train: { learning_rate: 1e-4 },
        lora: { r: 8 },
        merge: { recipe: HOSTILE },
        eval: { tasks: ['=1+1', 'a,b'] },
      }),
      metrics: records(1, 20, { from: 3, to: 2, total: 50 }),
    },
  ];
  await postInit({ type: 'init', runs });
  assert.deepEqual(
    (await posted()).find((m) => m.type === 'rendered'),
    { type: 'rendered', runs: 3 },
  );
  const row = (key) =>
    p.locator('table.compare tbody tr').filter({ has: p.locator(`th[scope="row"]:text-is("${key}")`) });
  const cells = (key) => row(key).locator('td').allTextContents();
  assert.equal(await p.isChecked('#only-differs'), true, 'on by default');
  assert.deepEqual(await cells('train.learning_rate'), ['0.0001', '0.0002', '0.0001']);
  assert.deepEqual(await cells('lora.r'), ['16', '16', '8']);
  assert.deepEqual(await cells('state'), ['done', 'done', 'failed']);
  assert.deepEqual(await cells('final loss'), ['1.2', '0.9', '2.631']);
  assert.deepEqual(await cells('steps'), ['50 / 50', '50 / 50', '20 / 50']);
  assert.deepEqual(await cells('peak GPU memory'), ['—', '12.5 GiB', '—'], 'only the run that recorded it');
  assert.equal(await row('train.learning_rate').isVisible(), true);
  assert.equal(await row('train.seed').isHidden(), true, 'equal rows are hidden');
  assert.equal(await row('base').isHidden(), true);
  assert.match(await p.textContent('#count'), /^\d+ of \d+ rows differ$/);
  // The name heads the column, so it is not a row; the hostile name and value stay text.
  assert.equal(await row('name').count(), 0);
  assert.equal(
    await p
      .locator('table.compare thead th')
      .nth(3)
      .evaluate((e) => e.firstChild.textContent),
    HOSTILE,
  );
  assert.deepEqual(await cells('merge.recipe'), ['taia', 'taia', HOSTILE]);
  await noInjection();
  // Overlaid loss curves with a legend.
  assert.deepEqual(
    await p.locator('#chart polyline.series').evaluateAll((ps) => ps.map((e) => e.points.length)),
    [50, 50, 20],
  );
  assert.deepEqual(
    await p.locator('#chart polyline.series').evaluateAll((ps) => ps.map((e) => getComputedStyle(e).stroke)),
    ['rgb(55, 148, 255)', 'rgb(241, 76, 76)', 'rgb(137, 209, 133)'],
    'series take the theme chart colours',
  );
  assert.deepEqual(await p.locator('#chart ul.legend li').allTextContents(), ['lr-1e-4', 'lr-2e-4', HOSTILE]);
  await p.screenshot({ path: path.join(artifacts, 'compare-runs.png'), fullPage: true });

  // Exports carry the table as shown.
  await p.click('#export-markdown');
  await p.click('#export-csv');
  const md = (await posted()).find((m) => m.type === 'export' && m.format === 'markdown').content;
  assert.ok(md.startsWith(`| key | lr-1e-4 | lr-2e-4 | ${HOSTILE} |\n|---|---|---|---|\n`), md);
  assert.ok(md.includes('| train.learning_rate | 0.0001 | 0.0002 | 0.0001 |\n'), md);
  assert.ok(md.includes('| eval.tasks | [] | [] | =1+1, a,b |\n'), md);
  assert.ok(!md.includes('train.seed'), 'hidden rows are not exported');
  const csv = (await posted()).find((m) => m.type === 'export' && m.format === 'csv').content;
  assert.ok(csv.startsWith(`key,lr-1e-4,lr-2e-4,${HOSTILE.replace(/"/g, '""').replace(/^/, '"')}"\n`), csv);
  assert.ok(csv.includes('\nlora.r,16,16,8\n'), csv);
  assert.ok(csv.includes(`\neval.tasks,[],[],"'=1+1, a,b"\n`), 'a formula-looking value is defused and quoted');

  // Keyboard: Tab reaches the checkbox, Space toggles it and shows the equal rows, then the export buttons.
  // A click on the heading puts the start of Tab navigation at the top of the page.
  await p.click('h1');
  await p.keyboard.press('Tab');
  assert.equal(await focusedId(), 'only-differs');
  await p.keyboard.press('Space');
  assert.equal(await p.isChecked('#only-differs'), false);
  assert.equal(await row('train.seed').isVisible(), true, 'all rows show when unchecked');
  assert.deepEqual(await cells('train.seed'), ['42', '42', '42']);
  assert.equal(
    (await p.evaluate(() => window.acquireVsCodeApi().getState())).onlyDiffers,
    false,
    'the choice survives a reload',
  );
  await p.keyboard.press('Tab');
  assert.equal(await focusedId(), 'export-markdown');
  await p.keyboard.press('Tab');
  assert.equal(await focusedId(), 'export-csv');
  await p.keyboard.press('Tab');
  assert.equal(await focusedId(), 'chart', 'the chart takes focus to read values');
  await p.keyboard.press('Home');
  assert.match(await p.textContent('#chart .readout'), /^step 1: loss lr-1e-4 3\.017 · lr-2e-4 3\.017 · /);
  await p.screenshot({ path: path.join(artifacts, 'compare-runs-all-rows.png'), fullPage: true });

  // A run of this tool and one of TRL on one chart; the TRL run's settings are its config rows.
  await postInit({ type: 'init', runs: [runs[0], trl] });
  assert.deepEqual(
    await p.locator('#chart polyline.series').evaluateAll((ps) => ps.map((e) => e.points.length)),
    [50, 186],
  );
  assert.deepEqual(await p.locator('#chart ul.legend li').allTextContents(), ['lr-1e-4', 'tinyllama-sft']);
  assert.deepEqual(await cells('tool'), ['—', 'TRL']);
  assert.deepEqual(await cells('adapter_config.json.r'), ['—', '8']);
  assert.deepEqual(await cells('train.learning_rate'), ['0.0001', '—']);
  await p.screenshot({ path: path.join(artifacts, 'compare-runs-external.png'), fullPage: true });
  assert.deepEqual(errors, []);
  console.log('runs UI test passed; screenshots in test-artifacts/ui/');
} catch (e) {
  failed = true;
  await p.screenshot({ path: path.join(artifacts, 'runs-failure.png'), fullPage: true }).catch(() => {});
  console.error(`runs UI test failed: ${e instanceof Error ? e.stack : e}`);
} finally {
  await close();
}
process.exit(failed ? 1 : 0);
