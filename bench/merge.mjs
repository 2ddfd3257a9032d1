#!/usr/bin/env node
// Benchmark: `taia merge --recipe taia` on a generated base/fine-tune pair of realistic shapes
// (TinyLlama-1.1B geometry by default: bf16, sharded, ~2.2 GB each) against `cp` of the same bytes,
// in the same run, and of a LoRA adapter (r = 16 on every linear layer) into the base. Prints times,
// the ratios to `cp`, peak RSS, and LoRA folding GFLOP/s.
//
//   node bench/merge.mjs [--layers 22] [--hidden 2048] [--intermediate 5632] [--vocab 32000]
//                        [--shard 1GB] [--dir .bench] [--runs 3] [--keep]
import { spawnSync, execFileSync } from 'node:child_process';
import { rmSync, existsSync, readdirSync } from 'node:fs';
import { llamaShapes, writeModel, writeAdapter, folderBytes, seconds, median } from '../scripts/synthetic-models.mjs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    layers: { type: 'string', default: '22' },
    hidden: { type: 'string', default: '2048' },
    intermediate: { type: 'string', default: '5632' },
    vocab: { type: 'string', default: '32000' },
    'kv-heads': { type: 'string', default: '4' },
    heads: { type: 'string', default: '32' },
    shard: { type: 'string', default: '1GB' },
    dir: { type: 'string', default: '.bench' },
    runs: { type: 'string', default: '3' },
    keep: { type: 'boolean' },
  },
});
const g = {
  layers: +opt.layers,
  hidden: +opt.hidden,
  intermediate: +opt.intermediate,
  vocab: +opt.vocab,
  heads: +opt.heads,
  kvHeads: +opt['kv-heads'],
};
const root = path.resolve(opt.dir);
const cli = path.resolve('dist/cli.js');
if (!existsSync(cli)) throw new Error('run `npm run build` first');

const sync = () => execFileSync('sync');

function taia(args, env = {}) {
  const r = spawnSync(process.execPath, [cli, ...args, '--json', '--quiet'], {
    encoding: 'utf-8',
    maxBuffer: 1 << 26,
    env: { ...process.env, ...env },
  });
  if (r.status !== 0) throw new Error(`taia ${args.join(' ')} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

rmSync(root, { recursive: true, force: true });
const tensors = llamaShapes(g);
const shardBytes = { '1GB': 1e9, '2GB': 2e9, '500MB': 5e8 }[opt.shard] ?? Number(opt.shard);
const base = path.join(root, 'base'),
  ft = path.join(root, 'ft'),
  adapter = path.join(root, 'adapter');
console.log(
  `generating base and fine-tune: ${g.layers} layers, hidden ${g.hidden}, intermediate ${g.intermediate}, vocab ${g.vocab}, bf16 ...`,
);
const genSecs = seconds(() => {
  writeModel(base, g, tensors, shardBytes);
  writeModel(ft, g, tensors, shardBytes);
  writeAdapter(adapter, tensors, 16);
});
const bytes = folderBytes(ft);
const params = tensors.reduce((n, t) => n + t.bytes / 2, 0);
console.log(
  `  ${(params / 1e9).toFixed(2)}B parameters, ${(bytes / 1e9).toFixed(2)} GB per model (${readdirSync(ft).filter((f) => f.endsWith('.safetensors')).length} shards), generated in ${genSecs.toFixed(1)} s`,
);
console.log(`  largest tensor ${(Math.max(...tensors.map((t) => t.bytes)) / 1e6).toFixed(0)} MB`);

const runs = +opt.runs;
const results = { cp: [], cpSync: [], merge: [], mergeSync: [], rss: [], lora: [], loraTaia: [], loraWasm: [] };
for (let i = 0; i < runs; i++) {
  const cpOut = path.join(root, 'cp-out'),
    mOut = path.join(root, 'merge-out');
  rmSync(cpOut, { recursive: true, force: true });
  rmSync(mOut, { recursive: true, force: true });
  sync();
  // cp of the same bytes the merge writes (the fine-tune's shards), without and with the flush to disk.
  results.cp.push(seconds(() => execFileSync('cp', ['-r', ft, cpOut])));
  results.cpSync.push(results.cp.at(-1) + seconds(sync));
  rmSync(cpOut, { recursive: true, force: true });
  sync();
  let r;
  results.merge.push(
    seconds(
      () =>
        (r = taia([
          'merge',
          '--base',
          base,
          '--finetuned',
          ft,
          '--out',
          mOut,
          '--recipe',
          'taia',
          '--max-shard-size',
          String(shardBytes),
        ])),
    ),
  );
  // The merge fsyncs its files itself; a trailing sync costs ~nothing and keeps the comparison honest.
  results.mergeSync.push(results.merge.at(-1) + seconds(sync));
  results.rss.push(r.peakRssBytes);
  rmSync(mOut, { recursive: true, force: true });
  // The adapter folded into the base: every linear layer (full), and attention only (taia).
  // The WebAssembly kernel too (TAIA_LORA_KERNEL=wasm), where the native addon is not built, for comparison.
  for (const [recipe, list, env] of [
    ['full', results.lora, {}],
    ['taia', results.loraTaia, {}],
    ['full', results.loraWasm, { TAIA_LORA_KERNEL: 'wasm' }],
  ]) {
    sync();
    const out = path.join(root, `lora-${recipe}${env.TAIA_LORA_KERNEL ? `-${env.TAIA_LORA_KERNEL}` : ''}`);
    let lr;
    const secs = seconds(
      () =>
        (lr = taia(
          [
            'merge',
            '--base',
            base,
            '--finetuned',
            adapter,
            '--out',
            out,
            '--recipe',
            recipe,
            '--max-shard-size',
            String(shardBytes),
          ],
          env,
        )),
    );
    list.push({ secs: secs + seconds(sync), lr });
    // The last run's full folds stay for the comparisons below (with PyTorch, between the kernels).
    if (recipe !== 'full' || i < runs - 1) rmSync(out, { recursive: true, force: true });
  }
}
const cp = median(results.cp),
  cpS = median(results.cpSync),
  m = median(results.merge),
  mS = median(results.mergeSync);
console.log(`\nTAIA merge of a full fine-tune (${runs} runs, median; page cache warm):`);
console.log(`  cp -r (no flush)      ${cp.toFixed(2)} s  ${(bytes / cp / 1e9).toFixed(2)} GB/s`);
console.log(`  cp -r + sync          ${cpS.toFixed(2)} s  ${(bytes / cpS / 1e9).toFixed(2)} GB/s`);
console.log(`  taia merge (fsync'd)  ${m.toFixed(2)} s  ${(bytes / m / 1e9).toFixed(2)} GB/s`);
console.log(
  `  ratio merge / (cp + sync) = ${(mS / cpS).toFixed(2)}x   merge / cp (no flush) = ${(m / cp).toFixed(2)}x   (target <= 1.3x)`,
);
const largest = Math.max(...tensors.map((t) => t.bytes));
console.log(
  `  peak RSS ${(Math.max(...results.rss) / 2 ** 20).toFixed(0)} MiB (budget 256 MiB + 2 x largest tensor = ${((256 * 2 ** 20 + 2 * largest) / 2 ** 20).toFixed(0)} MiB)`,
);

const loraLine = (recipe, list) => {
  const byTime = [...list].sort((a, b) => a.secs - b.secs);
  const { secs, lr } = byTime[Math.floor((byTime.length - 1) / 2)];
  const gflops = lr.loraFlops / 1e9;
  console.log(
    `  recipe ${recipe.padEnd(4)} on the ${lr.loraKernel} kernel: ${secs.toFixed(2)} s (fsync'd) = ${(secs / cpS).toFixed(2)}x cp + sync (target <= 1.5x); folding ${gflops.toFixed(1)} GFLOP in ${lr.loraSeconds.toFixed(2)} s = ${(gflops / lr.loraSeconds).toFixed(2)} GFLOP/s; peak RSS ${(lr.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
  );
};
console.log(`\nLoRA merge (r=16 on all linear layers, ${runs} runs, median):`);
// What the kernels do with the cores to themselves (bench/fold.mjs), before the merges that share them with I/O.
const alone = spawnSync(process.execPath, ['bench/fold.mjs'], { encoding: 'utf-8' });
process.stdout.write(alone.status === 0 ? alone.stdout : `  bench/fold.mjs failed: ${alone.stderr}`);
loraLine('full', results.lora);
loraLine('taia', results.loraTaia);
loraLine('full', results.loraWasm);
const [native, wasm] = ['lora-full', 'lora-full-wasm'].map((d) => path.join(root, d));
const sameFiles = readdirSync(native)
  .filter((f) => f.endsWith('.safetensors'))
  .every((f) => spawnSync('cmp', ['-s', path.join(native, f), path.join(wasm, f)]).status === 0);
console.log(`  the two kernels wrote ${sameFiles ? 'identical' : 'DIFFERENT'} weight files`);
rmSync(wasm, { recursive: true, force: true });

// PyTorch doing PEFT's merge of the same pair (bench/setup-torch.sh installs Debian's python3-torch):
// the speed reference of the fold, and how many folded elements equal PyTorch's bit for bit.
if (spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf-8' }).status === 0) {
  sync();
  const ref = spawnSync(
    '/usr/bin/python3',
    [
      'bench/torch_lora_merge.py',
      '--base',
      base,
      '--adapter',
      adapter,
      '--out',
      path.join(root, 'lora-torch'),
      '--compare',
      path.join(root, 'lora-full'),
    ],
    { encoding: 'utf-8', env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' } },
  );
  if (ref.status !== 0) throw new Error(`bench/torch_lora_merge.py failed:\n${ref.stderr}`);
  const t = JSON.parse(ref.stdout);
  const secs = t.seconds + seconds(sync);
  const ours = median(results.lora.map((x) => x.secs));
  console.log(
    `  PyTorch ${t.torch} (PEFT's arithmetic, ${t.threads} threads) ${secs.toFixed(2)} s (fsync'd): taia merge takes ${(ours / secs).toFixed(2)}x PyTorch's time; ${t.identical} of ${t.elements} folded elements (${((100 * t.identical) / t.elements).toFixed(4)} %) bit-identical to PyTorch's`,
  );
} else console.log('  PyTorch: not installed (bash bench/setup-torch.sh), no reference');
if (!opt.keep) rmSync(root, { recursive: true, force: true });
