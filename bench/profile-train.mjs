#!/usr/bin/env node
// Profile of one training step of the built-in engine on the wasm backend, in this process on one
// core: milliseconds per tfjs kernel (forward, backward and optimizer), largest first. It says where
// `npm run bench:train`'s time goes. Run `npm run bench:train` first: it writes the model and data.
//
//   node bench/profile-train.mjs [--dir .bench/train --steps 3 --top 15]
//   TAIA_BLAS=off profiles the XNNPACK path instead of the system BLAS.
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

const { loadEngineBundle } = createRequire(import.meta.url)('../out/test/helpers/engineBundle.js');
const engine = await loadEngineBundle();
const { initBackend, TrainableModel, loadExperiment, ChatTokenizer, loadExamples, DataOrder, sequenceLength } = engine;

const { values: opt } = parseArgs({
  options: {
    dir: { type: 'string', default: '.bench/train' },
    steps: { type: 'string', default: '3' },
    top: { type: 'string', default: '15' },
  },
});
const root = path.resolve(opt.dir);
const file = readdirSync(root).find((f) => f.endsWith('wasm.taia.yaml'));
if (!file) throw new Error(`${root} has no tfjs-wasm experiment: run npm run bench:train first`);
const config = await loadExperiment(path.join(root, file));
const backend = await initBackend('cpu', 'wasm', []);
// initBackend re-binds `tf` to the module that owns the backend: read it after.
const tfm = engine.tf;
const model = await TrainableModel.load(config, undefined);
const tok = await ChatTokenizer.load(config.base);
const { examples } = await loadExamples(config.dataset, tok, 'all', config.train.max_seq_length + 1);
const seqLen = sequenceLength(examples, config.train.max_seq_length);
const order = new DataOrder(examples, config.train.batch_size, seqLen, 1, tok.ids.pad);
const grads = new Float32Array(model.size);

const totals = new Map();
let wall = 0;
const steps = Number(opt.steps);
for (let s = 0; s <= steps; s++) {
  const t0 = performance.now();
  const info = await tfm.profile(() => {
    model.accumulateGradients(order.batch(s), seqLen, 1, grads, String(s));
    model.applyGradients(grads, 1e-4);
  });
  if (s === 0) continue; // warm-up: XNNPACK and the BLAS pack their first operands
  wall += performance.now() - t0;
  for (const k of info.kernels) {
    const key = `${k.name} ${k.inputShapes.map((x) => `[${x}]`).join('·')}`;
    const t = totals.get(key) ?? { ms: 0, calls: 0, name: k.name };
    t.ms += k.kernelTimeMs;
    t.calls++;
    totals.set(key, t);
  }
}
const byKernel = new Map();
for (const t of totals.values()) byKernel.set(t.name, (byKernel.get(t.name) ?? 0) + t.ms);
const kernelMs = [...byKernel.values()].reduce((a, b) => a + b, 0);
console.log(`backend: ${backend.description}`);
console.log(
  `step: ${(wall / steps).toFixed(1)} ms wall (profiled, one core), kernels ${(kernelMs / steps).toFixed(1)} ms`,
);
console.log('\n| kernel | ms/step | share |\n|---|---:|---:|');
for (const [name, ms] of [...byKernel].sort((a, b) => b[1] - a[1]).slice(0, Number(opt.top)))
  console.log(`| ${name} | ${(ms / steps).toFixed(1)} | ${((100 * ms) / kernelMs).toFixed(1)} % |`);
console.log('\n| kernel and input shapes | calls/step | ms/step |\n|---|---:|---:|');
for (const [key, t] of [...totals].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(opt.top)))
  console.log(`| ${key} | ${t.calls / steps} | ${(t.ms / steps).toFixed(1)} |`);
model.dispose();
