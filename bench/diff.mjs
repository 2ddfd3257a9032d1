#!/usr/bin/env node
// Benchmark: `taia diff` of a generated base/fine-tune pair (about 1 GB each by default, bf16,
// sharded) against `cat` of the same files to /dev/null in the same run; prints times and the ratio.
//
//   node bench/diff.mjs [--layers 12] [--hidden 2048] [--intermediate 5632] [--vocab 32000] [--runs 3] [--spectrum 0]
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
    dir: { type: 'string', default: '.bench/diff' },
    // Drop the page cache before each timed command (needs root): compares against reads from disk.
    cold: { type: 'boolean' },
  },
});
const g = { layers: +opt.layers, hidden: +opt.hidden, intermediate: +opt.intermediate, vocab: +opt.vocab, heads: 32, kvHeads: 4 };
const root = path.resolve(opt.dir);
const cli = path.resolve('dist/cli.js');
rmSync(root, { recursive: true, force: true });
const tensors = llamaShapes(g);
const base = path.join(root, 'base');
const ft = path.join(root, 'ft');
writeModel(base, g, tensors, 5e8);
writeModel(ft, g, tensors, 5e8);
const bytes = folderBytes(base) + folderBytes(ft);
const files = [base, ft].flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.safetensors')).map((f) => path.join(d, f)));
console.log(`pair: ${(bytes / 1e9).toFixed(2)} GB in ${files.length} shards (${g.layers} layers, hidden ${g.hidden})`);
const cat = [];
const diff = [];
let report;
const dropCaches = () => opt.cold && execFileSync('sh', ['-c', 'sync && echo 3 > /proc/sys/vm/drop_caches']);
for (let i = 0; i < +opt.runs; i++) {
  dropCaches();
  cat.push(seconds(() => execFileSync('sh', ['-c', `cat ${files.map((f) => `'${f}'`).join(' ')} > /dev/null`])));
  dropCaches();
  diff.push(
    seconds(() => {
      const r = spawnSync(process.execPath, [cli, 'diff', '--base', base, '--finetuned', ft, '--json', '--quiet', '--spectrum', opt.spectrum], { encoding: 'utf-8', maxBuffer: 1 << 28 });
      if (r.status !== 0) throw new Error(r.stderr);
      report = JSON.parse(r.stdout);
    }),
  );
}
const c = median(cat);
const d = median(diff);
console.log(`cat > /dev/null   ${c.toFixed(2)} s  ${(bytes / c / 1e9).toFixed(2)} GB/s`);
console.log(`taia diff${+opt.spectrum ? ` --spectrum ${opt.spectrum}` : ''}      ${d.toFixed(2)} s  ${(bytes / d / 1e9).toFixed(2)} GB/s  (${report.tensors.length} tensors)`);
console.log(`ratio diff / cat = ${(d / c).toFixed(2)}x (target <= 2x; median of ${opt.runs} runs, page cache ${opt.cold ? 'dropped before each command' : 'warm'})`);
rmSync(root, { recursive: true, force: true });
