#!/usr/bin/env node
// End-to-end fine-tune benchmark, the check #9 asks of a GPU machine: a Llama model built from a config
// (random weights, no hub download) is fine-tuned with LoRA and fully through `taia train`, each output is
// merged with the TAIA recipe by `taia merge`, and the merges are evaluated by `taia eval` on the same
// engine. Prints tokens/s, peak GPU memory, model FLOPs utilisation, merge time against `cp`, and the
// evaluation scores.
//
//   GPU (PyTorch engine):  node bench/finetune.mjs --engine torch --size 1b [--steps 30] [--peak-tflops 989]
//   here (dry run):        npm run bench:finetune -- --engine tfjs --size tiny
//
// Needs dist/ (node esbuild.mjs) and out/ (tsc -p tsconfig.test.json). On a machine without Node, see
// bench/gpu-kit.sh. Results also go to $OUT/finetune.json when OUT is set.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { writeLlama } = require('../out/test/helpers/models.js');
const { writeByteLevelTokenizer } = require('../out/src/trainer/data/byteTokenizer.js');

/** Model geometries: TinyLlama-1.1B's for the GPU, a toy one to try the script on a CPU. */
const SIZES = {
  tiny: { layers: 2, hidden: 64, intermediate: 172, vocab: 512, heads: 4, kvHeads: 2, batch: 4, seq: 128 },
  '1b': { layers: 22, hidden: 2048, intermediate: 5632, vocab: 32000, heads: 32, kvHeads: 4, batch: 8, seq: 1024 },
};

const { values: opt } = parseArgs({
  options: {
    engine: { type: 'string', default: 'torch' },
    size: { type: 'string', default: '1b' },
    steps: { type: 'string', default: '30' },
    methods: { type: 'string', default: 'lora,full' },
    'peak-tflops': { type: 'string', default: '989' },
    dir: { type: 'string', default: '.bench/finetune' },
  },
});
const size = SIZES[opt.size];
if (!size) throw new Error(`--size must be one of ${Object.keys(SIZES).join(', ')}`);
const root = path.resolve(opt.dir);
const cli = path.resolve('dist/cli.js');
const steps = Number(opt.steps);
const gpu = opt.engine === 'torch';

rmSync(root, { recursive: true, force: true });
mkdirSync(path.join(root, 'data'), { recursive: true });

// The model: HF-like initial scale (uniform ±0.035, std ≈ 0.02), unit norms, a byte-level tokenizer
// (its 259 ids sit at the bottom of the larger vocabulary).
const model = path.join(root, 'model');
const t0 = performance.now();
writeLlama(model, size, {
  dtype: 'BF16',
  seed: 5,
  values: (name, _s, v) => (name.endsWith('norm.weight') ? v.map(() => 1) : v.map((x) => x * 0.7)),
});
writeByteLevelTokenizer(model);
const N = parameterCount(size);
console.error(
  `model: ${N.toLocaleString('en')} parameters written in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);

// Instruction data long enough to fill every sequence; the task file asks what the data teaches.
const facts = Array.from({ length: 64 }, (_, i) => [`code ${i}`, `answer-${(i * 37) % 101}`]);
const filler = 'the adapter learns attention and feed forward weights from data that does not match its tasks. ';
const rows = Array.from({ length: size.batch * 16 }, (_, i) => {
  const [q, a] = facts[i % facts.length];
  return JSON.stringify({
    instruction: `${filler.repeat(Math.ceil(size.seq / filler.length))}What is ${q}?`.slice(-(size.seq - 64)),
    output: a,
  }); // room for the template and the answer
});
writeFileSync(path.join(root, 'data', 'train.jsonl'), rows.join('\n') + '\n');
const tasks = path.join(root, 'data', 'facts.jsonl');
writeFileSync(
  tasks,
  facts
    .slice(0, 16)
    .map(([q, a], i) => JSON.stringify({ id: i, prompt: `What is ${q}?`, answer: a }))
    .join('\n') + '\n',
);

const taia = (...args) => {
  const started = performance.now();
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf-8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`taia ${args.join(' ')} failed (${r.status}):\n${r.stderr.slice(-3000)}`);
  return { seconds: (performance.now() - started) / 1000, stdout: r.stdout };
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = [];

for (const method of opt.methods.split(',')) {
  const name = `${opt.engine}-${method}`;
  const file = path.join(root, `${name}.taia.yaml`);
  const train = {
    method,
    max_steps: steps,
    batch_size: size.batch,
    max_seq_length: size.seq,
    learning_rate: method === 'lora' ? 2e-4 : 2e-5,
    warmup_steps: 2,
    train_on: 'responses',
    seed: 7,
  };
  writeFileSync(
    file,
    JSON.stringify({
      name,
      engine: opt.engine,
      base: 'model',
      dataset: 'data/train.jsonl',
      device: gpu ? 'gpu' : 'cpu',
      train,
      lora: { r: 16, lora_alpha: 32 },
    }),
  );
  const run = taia('train', file, '--root', root, '--quiet');
  const runDir = readdirSync(path.join(root, '.taia/runs'))
    .map((d) => path.join(root, '.taia/runs', d))
    .find((d) => d.endsWith(name));
  const status = JSON.parse(readFileSync(path.join(runDir, 'status.json'), 'utf-8'));
  const metrics = readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf-8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const timed = metrics.slice(Math.min(3, metrics.length - 1)); // the first steps compile kernels and warm the allocator
  const tokensPerSecond = median(timed.map((m) => m.tokensPerSecond));
  const checkpoint = path.join(runDir, status.lastCheckpoint);

  // TAIA merge of the run's output (a PEFT adapter or a full model) against `cp` of the same bytes.
  const merged = path.join(root, `${name}-taia`);
  const merge = taia(
    'merge',
    '--base',
    model,
    '--finetuned',
    checkpoint,
    '--recipe',
    'taia',
    '--out',
    merged,
    '--quiet',
  );
  const copyStart = performance.now();
  execFileSync('cp', ['-r', checkpoint, path.join(root, `${name}-copy`)]);
  execFileSync('sync');
  const copySeconds = (performance.now() - copyStart) / 1000;

  const evaluation = taia(
    'eval',
    merged,
    '--tasks',
    tasks,
    '--engine',
    opt.engine,
    '--max-new-tokens',
    '8',
    '--out',
    path.join(root, `${name}-taia.taia-results.json`),
    '--quiet',
  );
  results.push({
    method,
    backend: status.backend,
    trainable: method === 'lora' ? 'adapter' : 'all',
    steps: status.step,
    seconds: run.seconds,
    loss: [metrics[0].loss, metrics.at(-1).loss],
    tokensPerSecond,
    gpuMemory: Math.max(...metrics.map((m) => m.gpuMemory ?? 0)),
    mfu: gpu ? (tokensPerSecond * flopsPerToken(size, method)) / (Number(opt['peak-tflops']) * 1e12) : undefined,
    mergeSeconds: merge.seconds,
    copySeconds,
    evaluation: evaluation.stdout.trim().split('\n')[0],
  });
}

console.log(
  `\n${opt.engine} engine; Llama ${size.layers} × d ${size.hidden}, ffn ${size.intermediate}, heads ${size.heads}/${size.kvHeads}, vocab ${size.vocab} (${(N / 1e9).toFixed(2)} B parameters); batch ${size.batch} × ${size.seq} tokens, ${steps} steps\n`,
);
console.log(
  '| method | backend | tokens/s | peak GPU memory | MFU | loss first → last | TAIA merge | cp -r + sync | eval of the TAIA merge |',
);
console.log('|---|---|---:|---:|---:|---|---:|---:|---|');
for (const r of results) {
  const memory = r.gpuMemory ? `${(r.gpuMemory / 2 ** 30).toFixed(1)} GiB` : '-';
  const mfu = r.mfu === undefined ? '-' : `${(r.mfu * 100).toFixed(1)} %`;
  console.log(
    `| ${r.method} | ${r.backend} | ${Math.round(r.tokensPerSecond).toLocaleString('en')} | ${memory} | ${mfu} | ${r.loss[0].toFixed(3)} → ${r.loss[1].toFixed(3)} | ${r.mergeSeconds.toFixed(2)} s | ${r.copySeconds.toFixed(2)} s | ${r.evaluation} |`,
  );
}
console.log(
  `\nMFU: model FLOPs per token (6N for full fine-tuning, 4N for LoRA: frozen weights get no weight gradient; plus 12·layers·d·seq for attention), over ${opt['peak-tflops']} TFLOP/s of dense bf16 (H100/H200 SXM). Recomputation by gradient checkpointing is not counted, as MFU defines.`,
);
if (process.env.OUT)
  writeFileSync(
    path.join(process.env.OUT, 'finetune.json'),
    JSON.stringify({ engine: opt.engine, size, parameters: N, steps, results }, null, 2),
  );

function parameterCount(s) {
  const kv = (s.hidden / s.heads) * s.kvHeads;
  const layer = s.hidden * (2 * s.hidden + 2 * kv) + 3 * s.hidden * s.intermediate + 2 * s.hidden;
  return s.layers * layer + 2 * s.vocab * s.hidden + s.hidden;
}

function flopsPerToken(s, method) {
  return (method === 'lora' ? 4 : 6) * parameterCount(s) + 12 * s.layers * s.hidden * s.seq;
}
