#!/usr/bin/env node
// Benchmark: training tokens per second of the built-in TF.js engine on each backend that runs here,
// against PyTorch on the CPU (Debian's python3-torch with pthread OpenBLAS; bench/setup-torch.sh) on the
// same model, the same initial weights and the same batches, in one run. Prints the ratios and the loss
// curves side by side (they should agree closely: same data, same optimizer arithmetic).
//
//   npm run bench:train [-- --steps 20 --backends wasm,cpu --layers 4 --hidden 256]
//   WORKERS=N sets the tfjs engine's data-parallel ranks (default: one per core).
// Uses the built trainer (dist/) through `taia train`, and the compiled data pipeline (out/) to export
// the identical batches for PyTorch.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { writeLlama } = require('../out/test/helpers/models.js');
const { writeByteLevelTokenizer, BYTE_VOCAB_SIZE } = require('../out/src/trainer/data/byteTokenizer.js');
const { ChatTokenizer } = require('../out/src/trainer/data/tokenizer.js');
const { loadExamples, DataOrder, sequenceLength } = require('../out/src/trainer/data/examples.js');

const { values: opt } = parseArgs({
  options: {
    steps: { type: 'string', default: '20' },
    'cpu-steps': { type: 'string', default: '3' },
    backends: { type: 'string', default: 'wasm,cpu,webgpu,tensorflow' },
    layers: { type: 'string', default: '4' },
    hidden: { type: 'string', default: '256' },
    intermediate: { type: 'string', default: '688' },
    heads: { type: 'string', default: '4' },
    batch: { type: 'string', default: '8' },
    seq: { type: 'string', default: '128' },
    dir: { type: 'string', default: '.bench/train' },
  },
});
const root = path.resolve(opt.dir);
const num = (k) => Number(opt[k]);
const shape = {
  layers: num('layers'),
  hidden: num('hidden'),
  intermediate: num('intermediate'),
  vocab: BYTE_VOCAB_SIZE,
  heads: num('heads'),
};
const B = num('batch');
const T = num('seq');
const lr = 1e-3;

rmSync(root, { recursive: true, force: true });
mkdirSync(path.join(root, 'data'), { recursive: true });

// The model: HF-initialised scale (std ≈ 0.02 as uniform ±0.035), unit norms, byte-level tokenizer.
writeLlama(path.join(root, 'model'), shape, {
  dtype: 'F32',
  seed: 3,
  values: (name, _s, v) => (name.endsWith('norm.weight') ? v.map(() => 1) : v.map((x) => x * 0.7)),
});
writeByteLevelTokenizer(path.join(root, 'model'));
// Plain-text rows long enough to fill every sequence: all tokens train, so both sides see full batches.
const words = 'the model learns attention and feed forward weights from data that does not match its tasks'.split(' ');
const rows = Array.from({ length: B * 8 }, (_, i) =>
  JSON.stringify({ text: Array.from({ length: 60 }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(' ') }),
);
writeFileSync(path.join(root, 'data', 'train.jsonl'), rows.join('\n') + '\n');

const train = {
  method: 'full',
  max_steps: 0,
  batch_size: B,
  max_seq_length: T,
  learning_rate: lr,
  lr_scheduler_type: 'constant',
  max_grad_norm: 1,
  train_on: 'all',
  seed: 11,
};
function experiment(name, backend, steps) {
  const file = path.join(root, `${name}.taia.yaml`);
  writeFileSync(
    file,
    JSON.stringify({
      name,
      base: 'model',
      dataset: 'data/train.jsonl',
      backend,
      device: 'cpu',
      workers: Number(process.env.WORKERS ?? 0),
      train: { ...train, max_steps: steps },
    }),
  );
  return file;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = [];

for (const backend of opt.backends.split(',')) {
  const steps = backend === 'cpu' ? num('cpu-steps') : num('steps');
  const file = experiment(`tfjs-${backend}`, backend, steps);
  const run = spawnSync(process.execPath, [path.resolve('dist/cli.js'), 'train', file, '--root', root, '--quiet'], {
    encoding: 'utf-8',
  });
  const runDir = readdirSync(path.join(root, '.taia/runs'))
    .map((d) => path.join(root, '.taia/runs', d))
    .find((d) => d.endsWith(`tfjs-${backend}`));
  if (run.status !== 0) {
    const status = runDir ? JSON.parse(readFileSync(path.join(runDir, 'status.json'), 'utf-8')) : {};
    results.push({
      engine: `tfjs ${backend}`,
      error: (status.error ?? run.stderr).split('\n').slice(0, 3).join(' | '),
    });
    continue;
  }
  const metrics = readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf-8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const timed = metrics.slice(Math.min(2, metrics.length - 1));
  const status = JSON.parse(readFileSync(path.join(runDir, 'status.json'), 'utf-8'));
  results.push({
    engine: `tfjs ${backend}`,
    backend: status.backend,
    tokensPerSecond: median(timed.map((m) => m.tokensPerSecond)),
    losses: metrics.map((m) => m.loss),
    tensors: [...new Set(metrics.map((m) => m.liveTensors))],
  });
}

// PyTorch on the same batches: rebuilt with the trainer's own data pipeline (same seed, same order).
const torchReady =
  existsSync('/usr/bin/python3') &&
  spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf-8' }).status === 0;
if (torchReady) {
  const chat = await ChatTokenizer.load(path.join(root, 'model'));
  const { examples } = await loadExamples(path.join(root, 'data', 'train.jsonl'), chat, 'all', T + 1);
  const order = new DataOrder(examples, B, sequenceLength(examples, T), train.seed, chat.ids.pad);
  const steps = [];
  for (let s = 0; s < num('steps'); s++) {
    const b = order.batch(s);
    const rowsOf = (a) =>
      Array.from({ length: order.batchSize }, (_, r) =>
        Array.from(a.subarray(r * order.seqLen, (r + 1) * order.seqLen)),
      );
    steps.push({ input_ids: rowsOf(b.inputs), labels: rowsOf(b.labels.map((l, i) => (b.weights[i] ? l : -100))) });
  }
  writeFileSync(
    path.join(root, 'batches.json'),
    JSON.stringify({ batch_size: order.batchSize, seq_len: order.seqLen, steps }),
  );
  const threads = 2;
  const out = execFileSync(
    '/usr/bin/python3',
    [
      'bench/torch_llama.py',
      '--model',
      path.join(root, 'model'),
      '--batches',
      path.join(root, 'batches.json'),
      '--steps',
      opt.steps,
      '--lr',
      String(lr),
      '--threads',
      String(threads),
      '--warmup',
      '2',
      '--max-grad-norm',
      '1',
      '--weight-decay',
      '0',
    ],
    { encoding: 'utf-8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const r = JSON.parse(out);
  results.push({
    engine: `pytorch ${r.torch} cpu`,
    backend: `${threads} threads, ${r.blas}`,
    tokensPerSecond: r.tokens_per_second,
    losses: r.losses,
  });
} else {
  results.push({ engine: 'pytorch cpu', error: 'python3-torch is not installed (bash bench/setup-torch.sh)' });
}

const reference = results.find((r) => r.engine.startsWith('pytorch') && r.tokensPerSecond);
console.log(
  `\nmodel: Llama ${shape.layers} layers × d ${shape.hidden}, ffn ${shape.intermediate}, ${shape.heads} heads, vocab ${shape.vocab}; batch ${B} × seq ${T}; AdamW lr ${lr}, float32\n`,
);
console.log('| engine | backend | tokens/s | vs PyTorch |');
console.log('|---|---|---:|---:|');
for (const r of results) {
  if (r.error) console.log(`| ${r.engine} | not available: ${r.error} | | |`);
  else
    console.log(
      `| ${r.engine} | ${r.backend} | ${Math.round(r.tokensPerSecond)} | ${reference ? (r.tokensPerSecond / reference.tokensPerSecond).toFixed(2) + '×' : '-'} |`,
    );
}
const wasm = results.find((r) => r.engine === 'tfjs wasm' && r.losses);
if (wasm && reference) {
  const n = Math.min(wasm.losses.length, reference.losses.length);
  const diffs = Array.from({ length: n }, (_, i) => Math.abs(wasm.losses[i] - reference.losses[i]));
  console.log(
    `\nloss, tfjs wasm vs PyTorch (same weights, same batches): step 1 ${wasm.losses[0].toFixed(5)} vs ${reference.losses[0].toFixed(5)}; step ${n} ${wasm.losses[n - 1].toFixed(5)} vs ${reference.losses[n - 1].toFixed(5)}; max |Δ| over ${n} steps ${Math.max(...diffs).toExponential(2)}`,
  );
}
for (const r of results.filter((x) => x.tensors))
  console.log(`${r.engine}: live tensors per step ${r.tensors.join(', ')} (one value = no leak)`);
