#!/usr/bin/env node
// Benchmark: `taia diff` of a generated base/fine-tune pair (about 1.3 GB each by default, bf16,
// sharded) against `cat` of the same files to /dev/null in the same run, with each statistics kernel
// (the JS reference and the WebAssembly SIMD one, chosen by TAIA_DIFF_KERNEL); prints times and ratios.
//
//   node bench/diff.mjs [--layers 12] [--hidden 2048] [--intermediate 5632] [--vocab 32000] [--runs 3] [--spectrum 0] [--threads N] [--cold]
import { spawnSync, execFileSync } from 'node:child_process';
import { rmSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { llamaShapes, writeModel, folderBytes, seconds, median } from '../scripts/synthetic-models.mjs';

const { values: opt } = parseArgs({
  options: {
    layers: { type: 'string', default: '12' },
    hidden: { type: 'string', default: '2048' },
    intermediate: { type: 'string', default: '5632' },
    vocab: { type: 'string', default: '32000' },
    runs: { type: 'string', default: '3' },
    spectrum: { type: 'string', default: '0' },
    // Worker threads of the diff (its default: one per core).
    threads: { type: 'string' },
    dir: { type: 'string', default: '.bench/diff' },
    // Drop the page cache before each timed command (needs root): compares against reads from disk.
    cold: { type: 'boolean' },
  },
});
const g = {
  layers: +opt.layers,
  hidden: +opt.hidden,
  intermediate: +opt.intermediate,
  vocab: +opt.vocab,
  heads: 32,
  kvHeads: 4,
};
const root = path.resolve(opt.dir);
const cli = path.resolve('dist/cli.js');
rmSync(root, { recursive: true, force: true });
const tensors = llamaShapes(g);
const base = path.join(root, 'base');
const ft = path.join(root, 'ft');
writeModel(base, g, tensors, 5e8);
writeModel(ft, g, tensors, 5e8);
execFileSync('sync'); // the generated files' writeback would otherwise overlap the first timings
const bytes = folderBytes(base) + folderBytes(ft);
const files = [base, ft].flatMap((d) =>
  readdirSync(d)
    .filter((f) => f.endsWith('.safetensors'))
    .map((f) => path.join(d, f)),
);
console.log(`pair: ${(bytes / 1e9).toFixed(2)} GB in ${files.length} shards (${g.layers} layers, hidden ${g.hidden})`);
const KERNELS = ['js', 'wasm'];
const times = { cat: [], js: [], wasm: [] };
const reports = {};
const dropCaches = () => opt.cold && execFileSync('sh', ['-c', 'sync && echo 3 > /proc/sys/vm/drop_caches']);
const args = [
  cli,
  'diff',
  '--base',
  base,
  '--finetuned',
  ft,
  '--json',
  '--quiet',
  '--spectrum',
  opt.spectrum,
  ...(opt.threads ? ['--threads', opt.threads] : []),
];
for (let i = 0; i < +opt.runs; i++) {
  dropCaches();
  times.cat.push(seconds(() => execFileSync('sh', ['-c', `cat ${files.map((f) => `'${f}'`).join(' ')} > /dev/null`])));
  for (const kernel of KERNELS) {
    dropCaches();
    times[kernel].push(
      seconds(() => {
        const r = spawnSync(process.execPath, args, {
          encoding: 'utf-8',
          maxBuffer: 1 << 28,
          env: { ...process.env, TAIA_DIFF_KERNEL: kernel },
        });
        if (r.status !== 0) throw new Error(r.stderr);
        reports[kernel] = JSON.parse(r.stdout);
      }),
    );
  }
}
// The kernels must agree: the largest relative difference of any tensor's ‖Δ‖.
const drift = Math.max(
  ...reports.wasm.tensors.map(
    (t, i) => Math.abs(t.normDelta - reports.js.tensors[i].normDelta) / (reports.js.tensors[i].normDelta || 1),
  ),
);
const c = median(times.cat);
console.log(`cat > /dev/null        ${c.toFixed(2)} s  ${(bytes / c / 1e9).toFixed(2)} GB/s`);
for (const kernel of KERNELS) {
  const d = median(times[kernel]);
  console.log(
    `taia diff (${kernel.padEnd(4)} kernel)  ${d.toFixed(2)} s  ${(bytes / d / 1e9).toFixed(2)} GB/s  ${(d / c).toFixed(2)}x cat`,
  );
}
console.log(
  `${reports.wasm.tensors.length} tensors, ‖Δ‖ of the kernels within ${drift.toExponential(1)}; target <= 2x cat; median of ${opt.runs} runs, threads ${opt.threads ?? 'default'}${+opt.spectrum ? `, --spectrum ${opt.spectrum}` : ''}, page cache ${opt.cold ? 'dropped before each command' : 'warm'}`,
);
rmSync(root, { recursive: true, force: true });
