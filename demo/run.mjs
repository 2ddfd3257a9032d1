#!/usr/bin/env node
// npm run demo [-- --dir demo-workspace] [--seed N] [--quick] [--open]
//
// The TAIA workflow end to end on the shipped base model (demo/base-model, pretrained by demo/pretrain.mjs
// with this project's engine), through the same code paths as the extension: the `taia` command line
// (child-process trainer, merge core, evaluator, delta diff, benchmark diff). Writes the demo workspace
// and a report, and prints the headline table. `--quick` shortens every step (the CI test); `--open`
// then serves the workspace in code-server with the packaged extension (loopback only).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { checks, diagnose, downstreamAverage, downstreamOnly } from './diagnostics.mjs';
import { writeReport } from './report.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// The same workspace writer as the extension's "Create the demo workspace" (compiled to out/ by `npm run demo`).
const require = createRequire(import.meta.url);
const { writeDemoWorkspace } = require('../out/src/core/demo/workspace.js');
const { KNOWLEDGE_TASK } = require('../out/src/core/demo/world.js');
const { values: opt } = parseArgs({
  options: {
    dir: { type: 'string', default: 'demo-workspace' },
    quick: { type: 'boolean' },
    open: { type: 'boolean' },
    seed: { type: 'string', default: '7' },
  },
});
const ws = path.resolve(opt.dir);
const started = performance.now();
const STEPS = 7;
let stepNo = 0;
const say = (text) =>
  console.error(`\n[${++stepNo}/${STEPS}] ${text} (${((performance.now() - started) / 1000).toFixed(0)} s)`);

/** Runs the taia CLI; its progress goes to the terminal, its stdout is returned. A failure stops the demo. */
function taia(...args) {
  const r = spawnSync(process.execPath, [path.join(repo, 'dist', 'cli.js'), ...args], {
    cwd: ws,
    encoding: 'utf-8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 28,
  });
  if (r.status !== 0) {
    console.error(`demo: taia ${args.join(' ')} failed (exit ${r.status})\n${r.stdout}`);
    process.exit(1);
  }
  return r.stdout;
}

say(`Workspace ${path.relative(process.cwd(), ws) || '.'}: base model, fine-tuning data, downstream tasks`);
rmSync(ws, { recursive: true, force: true });
const experiment = writeDemoWorkspace(ws, path.join(repo, 'demo', 'base-model'), {
  quick: opt.quick === true,
  seed: Number(opt.seed),
});

say('Fine-tuning the base on word games and animal questions (the child-process trainer)');
taia('train', 'word-games.taia.yaml', '--root', ws);
const runDir = path.join(ws, '.taia', 'runs', readdirSync(path.join(ws, '.taia', 'runs'))[0]);
const status = JSON.parse(readFileSync(path.join(runDir, 'status.json'), 'utf-8'));
const finetuned = path.join(runDir, status.lastCheckpoint);
cpSync(finetuned, path.join(ws, 'models', 'finetuned'), {
  recursive: true,
  filter: (f) => !/optimizer|trainer_state/.test(path.basename(f)),
});

say("Merging TAIA (the paper's rule) to disk, for the three-way weight check");
taia('merge', '--base', 'models/base', '--finetuned', 'models/finetuned', '--out', 'models/taia', '--quiet');

say(
  'A study: base, fine-tune, TAIA, TAIA-strict (attention only), TAIF (the ablation: FFN only) and a per-layer FFN scan, each read from base and fine-tune without writing it',
);
const models = ['base', 'finetuned', 'taia', 'taia-strict', 'taif'];
const study = {
  name: 'word-games',
  base: 'models/base',
  finetuned: 'models/finetuned',
  engine: 'tfjs',
  eval: { tasks: experiment.eval.tasks, max_new_tokens: 10, limit: opt.quick ? 4 : 0 },
  variants: ['base', { recipe: 'full', name: 'finetuned' }, 'taia', 'taia-strict', 'taif', { scan: 'revert-ffn-each' }],
};
writeFileSync(
  path.join(ws, 'word-games.taia-study.yaml'),
  `# Which part of the fine-tune to keep: the paper's comparison and a per-layer scan, as one file.\n${stringify(study)}`,
);
taia('study', 'word-games.taia-study.yaml', '--quiet');
const studyDir = path.join(ws, '.taia', 'results', 'studies', study.name);
const studyIndex = JSON.parse(readFileSync(path.join(studyDir, 'study.json'), 'utf-8'));
const resultsOf = (variant) => path.join(studyDir, `${variant}.taia-results.json`);

say('Weight deltas of the fine-tune, and the three-way check of the TAIA output');
const delta = JSON.parse(
  taia(
    'diff',
    '--base',
    'models/base',
    '--finetuned',
    'models/finetuned',
    '--merged',
    'models/taia',
    '--json',
    '--quiet',
  ),
);

say('Benchmark diffs against the base and against the fine-tune (significance from the per-example records)');
const benchAgainst = (baseline) => {
  const b = JSON.parse(
    taia('bench', 'diff', ...models.map(resultsOf), '--baseline', `${study.name}:${baseline}`, '--json'),
  );
  for (const m of b.models) m.name = m.name.slice(study.name.length + 1);
  return b;
};
const vsBase = benchAgainst('base');
const vsFinetuned = benchAgainst('finetuned');
const average = downstreamAverage(vsBase, KNOWLEDGE_TASK);
const bench = downstreamOnly(vsBase, average, KNOWLEDGE_TASK);
const diag = await diagnose(
  Object.fromEntries(models.map((m) => [m, path.join(studyDir, `${m}.samples.jsonl`)])),
  KNOWLEDGE_TASK,
);
// The scan's heatmap: per layer whose FFN reverts to base, each task's first metric.
const scores = (variant) =>
  Object.fromEntries(
    Object.entries(JSON.parse(readFileSync(resultsOf(variant), 'utf-8')).tasks).map(([t, r]) => [
      t,
      Object.values(r.metrics)[0].value,
    ]),
  );
const scan = {
  reference: scores('finetuned'),
  rows: studyIndex.variants.filter((v) => v.scan).map((v) => ({ layer: v.scan.layers[0], scores: scores(v.name) })),
};
const metrics = readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf-8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l));

say('Report');
const { markdown, headline } = writeReport(path.join(ws, 'report'), {
  bench,
  delta,
  metrics,
  experiment,
  scan,
  diag,
  checks: checks({ diag, vsBase, vsFinetuned, avg: average, knowledgeTask: KNOWLEDGE_TASK }),
  average,
  seconds: (performance.now() - started) / 1000,
  quick: opt.quick === true,
});
console.log(
  `\n${headline}\n\nreport: ${path.relative(process.cwd(), path.join(ws, 'report', 'report.html'))} and report.md (${markdown.length} characters); demo took ${((performance.now() - started) / 1000).toFixed(0)} s`,
);

if (opt.open) {
  const { startCodeServer } = await import('../scripts/vscode-host/host.mjs');
  for (const [cmd, args] of [
    ['bash', ['scripts/vscode-host/install.sh']],
    ['npm', ['run', 'package']],
  ]) {
    if (cmd === 'npm' && existsSync(path.join(repo, 'taia-lab.vsix'))) continue;
    if (spawnSync(cmd, args, { cwd: repo, stdio: 'inherit' }).status !== 0) process.exit(1);
  }
  const server = await startCodeServer({ vsix: path.join(repo, 'taia-lab.vsix'), testDriver: false });
  console.log(
    `\nTAIA Lab on the demo workspace: ${server.url}/?folder=${encodeURIComponent(ws)}\n(code-server on 127.0.0.1 only; Ctrl-C stops it)`,
  );
  await new Promise((resolve) => process.once('SIGINT', resolve));
  await server.stop();
}
