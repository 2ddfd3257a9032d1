#!/usr/bin/env node
// A study against the same work done by hand: `taia study` (every variant read from base and fine-tune,
// nothing written) against `taia merge` + `taia eval` of each variant one by one through the CLI.
// Prints both wall times, the disk each used (du of what it left), `cp` of one model for scale, and
// checks that both ways give the same scores.
//
//   npm run bench:study [-- --layers 8 --hidden 512 --examples 6]
//
// Needs dist/ and out/ (the npm script builds both). Other work on the machine makes the times noisy:
// compare the ratios within one run.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { writeLlama } = require('../out/test/helpers/models.js');
const { writeByteLevelTokenizer, BYTE_VOCAB_SIZE } = require('../out/src/trainer/data/byteTokenizer.js');

const { values: opt } = parseArgs({
  options: {
    layers: { type: 'string', default: '8' },
    hidden: { type: 'string', default: '512' },
    examples: { type: 'string', default: '6' },
    dir: { type: 'string', default: '.bench/study' },
  },
});
const L = Number(opt.layers);
const H = Number(opt.hidden);
const shape = {
  layers: L,
  hidden: H,
  intermediate: Math.round((H * 8) / 3 / 64) * 64,
  vocab: BYTE_VOCAB_SIZE,
  heads: 8,
  kvHeads: 4,
};
const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const dir = path.resolve(opt.dir);
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
for (const [name, seed] of [
  ['base', 1],
  ['ft', 2],
]) {
  writeLlama(path.join(dir, name), shape, { dtype: 'BF16', seed });
  writeByteLevelTokenizer(path.join(dir, name));
}
const n = Number(opt.examples);
writeFileSync(
  path.join(dir, 'mc.jsonl'),
  Array.from({ length: n }, (_, i) =>
    JSON.stringify({ id: `m${i}`, prompt: `Is ${i} even?`, choices: ['yes', 'no'], answer: i % 2 }),
  ).join('\n') + '\n',
);
writeFileSync(
  path.join(dir, 'gen.jsonl'),
  Array.from({ length: n }, (_, i) =>
    JSON.stringify({ id: `g${i}`, prompt: `What is ${i} + ${i}?`, answer: String(2 * i) }),
  ).join('\n') + '\n',
);

const recipes = ['base', 'full', 'taia', 'taia-strict', 'taif'];
const variants = [
  ...recipes.map((r) => ({ name: r, recipe: r })),
  ...Array.from({ length: L }, (_, l) => ({ name: `revert-ffn-L${l}`, recipe: `revert-ffn-L${l}.yaml`, layer: l })),
];
// The scan's recipes as files, for the one-by-one way (the study generates them itself).
for (const v of variants.filter((v) => v.layer !== undefined)) {
  writeFileSync(
    path.join(dir, v.recipe),
    `name: ${v.name}\ndefault: finetuned\nrules:\n  - { block: ffn, layers: ${v.layer}-${v.layer}, source: base }\n`,
  );
}
writeFileSync(
  path.join(dir, 'bench.taia-study.yaml'),
  `name: bench\nbase: base\nfinetuned: ft\neval: { tasks: [mc.jsonl, gen.jsonl], max_new_tokens: 8 }\nvariants: [${recipes.join(', ')}, { scan: revert-ffn-each }]\n`,
);

const taia = (...args) => {
  const r = spawnSync(process.execPath, [path.join(repo, 'dist', 'cli.js'), ...args], { cwd: dir, encoding: 'utf-8' });
  if (r.status !== 0) throw new Error(`taia ${args.join(' ')}: ${r.stderr}`);
};
const du = (p) => Number(execFileSync('du', ['-sb', p], { encoding: 'utf-8' }).split('\t')[0]);
const timed = (f) => {
  const t = performance.now();
  f();
  return (performance.now() - t) / 1000;
};
const mb = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;

const model = du(path.join(dir, 'base'));
const cp = timed(() => execFileSync('cp', ['-r', path.join(dir, 'ft'), path.join(dir, 'ft-copy')]));
rmSync(path.join(dir, 'ft-copy'), { recursive: true });
const study = timed(() => taia('study', 'bench.taia-study.yaml', '--quiet'));
const studyDisk = du(path.join(dir, '.taia'));
const rerun = timed(() => taia('study', 'bench.taia-study.yaml', '--quiet'));
let mergeSeconds = 0;
const byHand = timed(() => {
  for (const v of variants) {
    mergeSeconds += timed(() =>
      taia(
        'merge',
        '--base',
        'base',
        '--finetuned',
        'ft',
        '--out',
        `merged/${v.name}`,
        '--recipe',
        v.recipe,
        '--quiet',
      ),
    );
    taia(
      'eval',
      `merged/${v.name}`,
      '--tasks',
      'mc.jsonl',
      '--tasks',
      'gen.jsonl',
      '--max-new-tokens',
      '8',
      '--name',
      v.name,
      '--out',
      `by-hand/${v.name}.taia-results.json`,
      '--quiet',
    );
  }
});
const byHandDisk = du(path.join(dir, 'merged')) + du(path.join(dir, 'by-hand'));
const scores = (file) =>
  readFileSync(file, 'utf-8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .map((r) => [r.id, r.prediction, r.loglikelihoods]);
const same = variants.every(
  (v) =>
    JSON.stringify(scores(path.join(dir, '.taia/results/studies/bench', `${v.name}.samples.jsonl`))) ===
    JSON.stringify(scores(path.join(dir, 'by-hand', `${v.name}.samples.jsonl`))),
);

const out = {
  model: { ...shape, bytes: model },
  variants: variants.length,
  examplesPerVariant: 2 * n,
  studySeconds: study,
  studyRerunSeconds: rerun,
  byHandSeconds: byHand,
  byHandMergeSeconds: mergeSeconds,
  cpSeconds: cp,
  studyDiskBytes: studyDisk,
  byHandDiskBytes: byHandDisk,
  sameScores: same,
};
console.log(
  `model: ${L} layers, hidden ${H}, bf16, ${mb(model)}; ${variants.length} variants (5 recipes + a scan of ${L} layers), ${2 * n} examples each`,
);
console.log(
  `taia study:                 ${study.toFixed(1)} s, ${mb(studyDisk)} on disk (results only); re-run, all cached: ${rerun.toFixed(1)} s`,
);
console.log(
  `taia merge + taia eval ×${variants.length}: ${byHand.toFixed(1)} s (${mergeSeconds.toFixed(1)} s of it merging), ${mb(byHandDisk)} on disk`,
);
console.log(
  `ratio: ${(byHand / study).toFixed(2)}× the study's time, ${(byHandDisk / studyDisk).toFixed(0)}× its disk; cp -r of one model: ${cp.toFixed(2)} s`,
);
console.log(`same predictions and log-likelihoods both ways: ${same}`);
if (process.env.OUT) writeFileSync(path.join(process.env.OUT, 'study.json'), JSON.stringify(out, null, 2));
if (!same) process.exitCode = 1;
