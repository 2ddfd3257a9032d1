// The demo end to end, shortened (`--quick`), through the same entry point as `npm run demo`: every
// artefact exists and is well formed.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { CheckpointWeights } from '../../src/core/checkpoint/weights';
import { formatFollowed } from '../../src/core/demo/format';
import { tempDir } from '../helpers/tmp';

const REPO = path.resolve(__dirname, '../../..');
const MODELS = ['base', 'finetuned', 'taia', 'taia-strict', 'taif'];
const TASKS = ['capitals', 'capitals_mc', 'sums'];
/** The downstream tasks and the knowledge diagnostic (raw prompts in the pretraining style). */
const EVALUATED = ['capitals', 'capitals_mc', 'knowledge', 'sums'];

describe('npm run demo (shortened)', () => {
  it('fine-tunes, merges, evaluates and reports, with numbers for every model and task', async () => {
    const ws = path.join(tempDir('taia-demo-'), 'demo-workspace');
    const run = spawnSync(process.execPath, [path.join(REPO, 'demo', 'run.mjs'), '--quick', '--dir', ws], {
      encoding: 'utf-8',
    });
    assert.equal(run.status, 0, run.stderr);
    for (const m of ['base', 'finetuned', 'taia']) {
      // Every model folder is a checkpoint the merge core opens, with the base's tensor names.
      const weights = await CheckpointWeights.open(path.join(ws, 'models', m));
      try {
        assert.ok(weights.get('model.layers.0.self_attn.q_proj.weight'), `${m} has q_proj`);
      } finally {
        await weights.close();
      }
    }
    // The comparison ran as a study: the five models and a scan of the 4 layers, none of them written.
    const study = path.join(ws, '.taia', 'results', 'studies', 'word-games');
    const index = JSON.parse(readFileSync(path.join(study, 'study.json'), 'utf-8'));
    assert.deepEqual(
      index.variants.map((v: { name: string }) => v.name),
      [...MODELS, 'revert-ffn-L0', 'revert-ffn-L1', 'revert-ffn-L2', 'revert-ffn-L3'],
    );
    assert.equal(existsSync(path.join(ws, 'models', 'taif')), false);
    for (const m of index.variants.map((v: { name: string }) => v.name)) {
      const results = JSON.parse(readFileSync(path.join(study, `${m}.taia-results.json`), 'utf-8'));
      assert.deepEqual(Object.keys(results.tasks).sort(), EVALUATED);
      for (const t of EVALUATED)
        for (const metric of Object.values(results.tasks[t].metrics) as { value: number }[])
          assert.ok(Number.isFinite(metric.value));
    }
    const md = readFileSync(path.join(ws, 'report', 'report.md'), 'utf-8');
    const header = md.split('\n').find((l) => l.startsWith('| task | metric |'))!;
    assert.deepEqual(
      header
        .split('|')
        .slice(3, -1)
        .map((s) => s.trim()),
      MODELS,
    );
    for (const t of TASKS) {
      const row = md.split('\n').find((l) => l.startsWith(`| ${t} |`));
      assert.ok(row, `report row for ${t}`);
      assert.equal(
        row!
          .split('|')
          .slice(3, -1)
          .filter((c) => /\d/.test(c)).length,
        MODELS.length,
        row,
      );
    }
    assert.match(md, /\*\*Verdict \(computed\):\*\* TAIA beats the full fine-tune on \d of 3 tasks/);
    // The mechanism, part by part: knowledge held and format followed per model, and the seven checks,
    // each with its figures, and a verdict that counts them.
    const lines = md.split('\n');
    const mechanism = lines.indexOf('| model | knowledge held (%) | format followed (%) | downstream average |');
    assert.ok(mechanism > 0, 'the mechanism table');
    assert.deepEqual(
      lines.slice(mechanism + 2, mechanism + 2 + MODELS.length).map((l) => l.split('|')[1].trim()),
      MODELS,
    );
    for (const l of lines.slice(mechanism + 2, mechanism + 2 + MODELS.length))
      assert.match(l, /^\| [\w-]+ \| \d+\.\d \| \d+\.\d \| \d\.\d{3} \|$/);
    const checks = lines.filter((l) => /^- [✓✗] /.test(l));
    assert.equal(checks.length, 7, checks.join('\n'));
    const holding = checks.filter((l) => l.startsWith('- ✓')).length;
    assert.match(
      md,
      holding === 7 ? /All 7 checks hold/ : new RegExp(`${holding} of 7 checks hold: this run does not reproduce`),
    );
    assert.match(md, /Fine-tuning seed 7\./);
    const html = readFileSync(path.join(ws, 'report', 'report.html'), 'utf-8');
    assert.match(html, /<svg[^>]+aria-label="relative change per layer and module"/);
    assert.match(html, /<polyline points="[\d., ]+"/);
    assert.equal(
      (html.match(/<title>FFN of layer \d reverted, /g) ?? []).length,
      4 * EVALUATED.length,
      'the scan heatmap has a cell per layer and task',
    );
    assert.match(md, /\| layer 3 \| [+-]\d/);
    // Axes with values, 95% intervals, significance, and no red for a model (red means worse).
    assert.match(html, /aria-label="scores per task and model, with 95% intervals"/);
    assert.equal((html.match(/<circle [^>]+><title>[\w-]+: knowledge [\d.]+ %, format [\d.]+ %/g) ?? []).length, 5);
    assert.match(html, /aria-label="training loss by step, from [\d.]+ to [\d.]+"/);
    assert.match(html, />step</);
    assert.match(html, /‖Δ‖\/‖W‖<\/text>/, 'the heatmap has a legend');
    assert.match(html, /(n\.s\.|class="better"|class="worse")/);
    assert.ok(!/<rect[^>]+fill="#d1495b"/.test(html), 'no model is drawn in red');
    assert.ok(existsSync(path.join(ws, 'word-games.taia.yaml')));
    assert.ok(existsSync(path.join(ws, 'word-games.taia-study.yaml')));
    assert.match(run.stdout, /\| task \| metric \| base \| finetuned \| taia \| taia-strict \| taif \|/);
  });
});

describe('the demo’s format measure', () => {
  it('counts a bare word or number as in form, right or wrong, and the base’s own "Answer: …" style as not', () => {
    assert.equal(formatFollowed('Resbri'), true, 'wrong but in form');
    assert.equal(formatFollowed('Louste.\nQ: What is'), true, 'the first line is what is scored');
    assert.equal(formatFollowed('\n\n12'), true);
    assert.equal(formatFollowed('A: Louste'), false);
    assert.equal(formatFollowed('Answer: Louste'), false);
    assert.equal(formatFollowed('The capital is Louste'), false);
    assert.equal(formatFollowed('12 and 3'), false);
    assert.equal(formatFollowed(''), false);
  });
});
