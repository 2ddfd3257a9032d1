#!/usr/bin/env node
// Benchmark: the LoRA fold alone, in memory (no reads or writes), on each kernel that runs here and
// on 1 and 2 worker threads: the modules of one TinyLlama-1.1B layer, bf16 in and out, r = 16, in the
// chunks a merge folds them in. Prints GFLOP/s; bench/merge.mjs prints it before the merges, which
// fold while their own reads and writes take the same cores.
//
//   node bench/fold.mjs [--hidden 2048] [--intermediate 5632] [--kv 256] [--r 16] [--repeat 3]
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const { FoldPool } = require('../out/src/core/lora/pool.js');
const { foldStream } = require('../out/src/core/lora/stream.js');
const { foldKernelName } = require('../out/src/core/lora/kernel.js');
const { rng } = require('../out/src/core/util/random.js');

const { values: opt } = parseArgs({
  options: {
    hidden: { type: 'string', default: '2048' },
    intermediate: { type: 'string', default: '5632' },
    kv: { type: 'string', default: '256' },
    r: { type: 'string', default: '16' },
    repeat: { type: 'string', default: '3' },
  },
});
const [h, ff, kv, r] = [+opt.hidden, +opt.intermediate, +opt.kv, +opt.r];
// [rows (out), cols (in)] of q, k, v, o, gate, up, down.
const modules = [
  [h, h],
  [kv, h],
  [kv, h],
  [h, h],
  [ff, h],
  [ff, h],
  [h, ff],
];
const random = rng(1);
const factors = modules.map(([rows, cols]) => ({
  rows,
  cols,
  r,
  left: Float32Array.from({ length: rows * r }, () => random() - 0.5),
  right: Float32Array.from({ length: r * cols }, () => random() - 0.5),
  scale: 2,
}));
const flops = modules.reduce((n, [rows, cols]) => n + 2 * rows * cols * r, 0) * +opt.repeat;

for (const kernel of ['', 'wasm']) {
  if (kernel) process.env.TAIA_LORA_KERNEL = kernel;
  else delete process.env.TAIA_LORA_KERNEL;
  const line = [];
  let name;
  for (const threads of [...new Set([1, Math.min(2, availableParallelism())])]) {
    const pool = FoldPool.create(threads);
    if (!pool) throw new Error('no LoRA fold kernel runs here');
    name = foldKernelName(pool.kernel);
    const source = (f) => ({
      factors: f,
      inDtype: 'BF16',
      outDtype: 'BF16',
      read: async () => undefined,
      emit: async () => undefined,
    });
    await foldStream(pool, source(factors[0])); // warm-up: the workers start, the memory grows
    const started = performance.now();
    for (let i = 0; i < +opt.repeat; i++) for (const f of factors) await foldStream(pool, source(f));
    const seconds = (performance.now() - started) / 1000;
    line.push(`${threads} thread${threads > 1 ? 's' : ''} ${(flops / seconds / 1e9).toFixed(1)} GFLOP/s`);
    await pool.close();
  }
  console.log(`  fold alone on the ${name} kernel: ${line.join(', ')}`);
}
