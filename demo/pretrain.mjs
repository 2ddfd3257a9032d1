#!/usr/bin/env node
// Pretrains a base like demo/base-model/: a small Llama (4 layers, d 128) from random weights, by this
// project's own engine (`taia train`, full, every token) on the synthetic world's corpus. The shipped
// base is this script's output at commit 7361a47, bit for bit; later engines round differently (README).
//
//   npm run build && npx tsc -p tsconfig.test.json && node demo/pretrain.mjs [--steps 1800] (about 18 minutes on 2 cores)
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEMO_CHAT_TEMPLATE, makeWorld } from './world.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { writeLlama } = require(path.join(repo, 'out/test/helpers/models.js'));
const { writeByteLevelTokenizer, BYTE_VOCAB_SIZE } = require(path.join(repo, 'out/src/trainer/data/byteTokenizer.js'));
const { values: opt } = parseArgs({
  options: {
    steps: { type: 'string', default: '1800' },
    batch: { type: 'string', default: '32' },
    lr: { type: 'string', default: '3e-3' },
    out: { type: 'string', default: path.join(repo, 'demo', 'base-model') },
  },
});

export const GEOMETRY = { layers: 4, hidden: 128, intermediate: 384, vocab: BYTE_VOCAB_SIZE, heads: 4, kvHeads: 2 };

const work = mkdtempSync(path.join(tmpdir(), 'taia-pretrain-'));
try {
  // Random initialisation at GPT-2's scale (uniform with std ≈ 0.02), unit norms.
  writeLlama(path.join(work, 'init'), GEOMETRY, {
    dtype: 'F32',
    seed: 11,
    values: (name, _shape, v) => (name.endsWith('norm.weight') ? v.map(() => 1) : v.map((x) => x * 0.7)),
  });
  writeByteLevelTokenizer(path.join(work, 'init'));
  // The demo's own chat template, carried by every checkpoint of the base (see world.ts).
  const tokenizerConfig = path.join(work, 'init', 'tokenizer_config.json');
  writeFileSync(
    tokenizerConfig,
    JSON.stringify(
      { ...JSON.parse(readFileSync(tokenizerConfig, 'utf-8')), chat_template: DEMO_CHAT_TEMPLATE },
      null,
      2,
    ),
  );
  const world = makeWorld();
  writeFileSync(
    path.join(work, 'corpus.jsonl'),
    world.pretraining.map((text) => JSON.stringify({ text })).join('\n') + '\n',
  );
  writeFileSync(
    path.join(work, 'pretrain.taia.yaml'),
    JSON.stringify({
      name: 'pretrain',
      base: 'init',
      dataset: 'corpus.jsonl',
      train: {
        method: 'full',
        train_on: 'all',
        max_steps: Number(opt.steps),
        batch_size: Number(opt.batch),
        max_seq_length: 128,
        learning_rate: Number(opt.lr),
        lr_scheduler_type: 'cosine',
        warmup_steps: 30,
        weight_decay: 0.01,
        seed: 11,
        logging_steps: 10,
      },
    }),
  );
  const run = spawnSync(
    process.execPath,
    [path.join(repo, 'dist/cli.js'), 'train', path.join(work, 'pretrain.taia.yaml'), '--root', work],
    // XNNPACK's matmuls, as for the shipped base: a system BLAS picks its kernels by CPU, and so its sums.
    { stdio: 'inherit', env: { ...process.env, TAIA_BLAS: process.env.TAIA_BLAS ?? 'off' } },
  );
  if (run.status !== 0) process.exit(run.status ?? 1);
  const runs = path.join(work, '.taia', 'runs');
  const checkpoints = path.join(runs, readdirSync(runs)[0], 'checkpoints');
  const last = path.join(
    checkpoints,
    readdirSync(checkpoints)
      .sort((a, b) => Number(a.split('-')[1]) - Number(b.split('-')[1]))
      .at(-1),
  );
  rmSync(opt.out, { recursive: true, force: true });
  mkdirSync(opt.out, { recursive: true });
  for (const f of [
    'config.json',
    'generation_config.json',
    'model.safetensors',
    'tokenizer.json',
    'tokenizer_config.json',
  ])
    copyFileSync(path.join(last, f), path.join(opt.out, f));
  console.log(`base model written to ${path.relative(process.cwd(), opt.out)}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
