#!/usr/bin/env node
// Benchmark: `taia merge --recipe taia` on a generated base/fine-tune pair of realistic shapes
// (TinyLlama-1.1B geometry by default: bf16, sharded, ~2.2 GB each) against `cp` of the same bytes,
// in the same run. Prints times, the ratio, peak RSS, and LoRA folding GFLOP/s.
//
//   node bench/merge.mjs [--layers 22] [--hidden 2048] [--intermediate 5632] [--vocab 32000]
//                        [--shard 1GB] [--dir .bench] [--runs 3] [--keep]
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, openSync, writeSync, closeSync, writeFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
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
const L = +opt.layers, H = +opt.hidden, I = +opt.intermediate, V = +opt.vocab, KV = +opt['kv-heads'], NH = +opt.heads;
const root = path.resolve(opt.dir);
const cli = path.resolve('dist/cli.js');
if (!existsSync(cli)) throw new Error('run `npm run build` first');

function llamaShapes() {
  const kvDim = (H / NH) * KV;
  const t = [['model.embed_tokens.weight', [V, H]]];
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    t.push([`${p}input_layernorm.weight`, [H]], [`${p}self_attn.q_proj.weight`, [H, H]], [`${p}self_attn.k_proj.weight`, [kvDim, H]], [`${p}self_attn.v_proj.weight`, [kvDim, H]], [`${p}self_attn.o_proj.weight`, [H, H]], [`${p}post_attention_layernorm.weight`, [H]], [`${p}mlp.gate_proj.weight`, [I, H]], [`${p}mlp.up_proj.weight`, [I, H]], [`${p}mlp.down_proj.weight`, [H, I]]);
  }
  t.push(['model.norm.weight', [H]], ['lm_head.weight', [V, H]]);
  return t.map(([name, shape]) => ({ name, shape, bytes: shape.reduce((a, b) => a * b, 1) * 2 }));
}

/** Random but finite bf16 values of magnitude ~1e-2, written in 16 MiB blocks. */
function fillBf16(buf) {
  randomFillSync(buf);
  const h = new Uint16Array(buf.buffer, buf.byteOffset, buf.length / 2);
  for (let i = 0; i < h.length; i++) h[i] = (h[i] & 0x807f) | 0x3c00;
}

function writeFile(file, tensors, dtype = 'BF16') {
  const header = { __metadata__: { format: 'pt' } };
  let off = 0;
  for (const t of tensors) {
    header[t.name] = { dtype, shape: t.shape, data_offsets: [off, off + t.bytes] };
    off += t.bytes;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8) json += ' ';
  const fd = openSync(file, 'w');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  writeSync(fd, prefix);
  writeSync(fd, json);
  const block = Buffer.alloc(16 * 2 ** 20);
  let left = off;
  while (left > 0) {
    const n = Math.min(left, block.length);
    fillBf16(block.subarray(0, n));
    writeSync(fd, block, 0, n);
    left -= n;
  }
  closeSync(fd);
}

function writeModel(dir, tensors, shardBytes) {
  mkdirSync(dir, { recursive: true });
  const shards = [];
  for (const t of tensors) {
    const cur = shards.at(-1);
    if (!cur || cur.bytes + t.bytes > shardBytes) shards.push({ tensors: [t], bytes: t.bytes });
    else (cur.tensors.push(t), (cur.bytes += t.bytes));
  }
  const pad = (i) => String(i).padStart(5, '0');
  const weightMap = {};
  shards.forEach((s, i) => {
    const file = `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`;
    for (const t of s.tensors) weightMap[t.name] = file;
    writeFile(path.join(dir, file), s.tensors);
  });
  writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: shards.reduce((a, s) => a + s.bytes, 0) }, weight_map: weightMap }));
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: H, intermediate_size: I, num_hidden_layers: L, num_attention_heads: NH, num_key_value_heads: KV, vocab_size: V, tie_word_embeddings: false, torch_dtype: 'bfloat16' }));
}

function writeAdapter(dir, tensors, r) {
  mkdirSync(dir, { recursive: true });
  const lora = [];
  for (const t of tensors) {
    const m = /^(.*\.(q|k|v|o|gate|up|down)_proj)\.weight$/.exec(t.name);
    if (!m) continue;
    const [out, inp] = t.shape;
    lora.push({ name: `base_model.model.${m[1]}.lora_A.weight`, shape: [r, inp], bytes: r * inp * 2 }, { name: `base_model.model.${m[1]}.lora_B.weight`, shape: [out, r], bytes: out * r * 2 });
  }
  writeFile(path.join(dir, 'adapter_model.safetensors'), lora);
  writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r, lora_alpha: 2 * r, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], use_rslora: false }));
}

const du = (dir) => readdirSync(dir).reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);
const seconds = (f) => {
  const t = performance.now();
  f();
  return (performance.now() - t) / 1000;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sync = () => execFileSync('sync');

function taia(args) {
  const r = spawnSync(process.execPath, [cli, ...args, '--json', '--quiet'], { encoding: 'utf-8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`taia ${args.join(' ')} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

rmSync(root, { recursive: true, force: true });
const tensors = llamaShapes();
const shardBytes = { '1GB': 1e9, '2GB': 2e9, '500MB': 5e8 }[opt.shard] ?? Number(opt.shard);
const base = path.join(root, 'base'), ft = path.join(root, 'ft'), adapter = path.join(root, 'adapter');
console.log(`generating base and fine-tune: ${L} layers, hidden ${H}, intermediate ${I}, vocab ${V}, bf16 ...`);
const genSecs = seconds(() => {
  writeModel(base, tensors, shardBytes);
  writeModel(ft, tensors, shardBytes);
  writeAdapter(adapter, tensors, 16);
});
const bytes = du(ft);
const params = tensors.reduce((n, t) => n + t.bytes / 2, 0);
console.log(`  ${(params / 1e9).toFixed(2)}B parameters, ${(bytes / 1e9).toFixed(2)} GB per model (${readdirSync(ft).filter((f) => f.endsWith('.safetensors')).length} shards), generated in ${genSecs.toFixed(1)} s`);
console.log(`  largest tensor ${(Math.max(...tensors.map((t) => t.bytes)) / 1e6).toFixed(0)} MB`);

const runs = +opt.runs;
const results = { cp: [], cpSync: [], merge: [], mergeSync: [], rss: [] };
for (let i = 0; i < runs; i++) {
  const cpOut = path.join(root, 'cp-out'), mOut = path.join(root, 'merge-out');
  rmSync(cpOut, { recursive: true, force: true });
  rmSync(mOut, { recursive: true, force: true });
  sync();
  // cp of the same bytes the merge writes (the fine-tune's shards), without and with the flush to disk.
  results.cp.push(seconds(() => execFileSync('cp', ['-r', ft, cpOut])));
  results.cpSync.push(results.cp.at(-1) + seconds(sync));
  rmSync(cpOut, { recursive: true, force: true });
  sync();
  let r;
  results.merge.push(seconds(() => (r = taia(['merge', '--base', base, '--finetuned', ft, '--out', mOut, '--recipe', 'taia', '--max-shard-size', String(shardBytes)]))));
  // The merge fsyncs its files itself; a trailing sync costs ~nothing and keeps the comparison honest.
  results.mergeSync.push(results.merge.at(-1) + seconds(sync));
  results.rss.push(r.peakRssBytes);
  rmSync(mOut, { recursive: true, force: true });
}
const cp = median(results.cp), cpS = median(results.cpSync), m = median(results.merge), mS = median(results.mergeSync);
console.log(`\nTAIA merge of a full fine-tune (${runs} runs, median; page cache warm):`);
console.log(`  cp -r (no flush)      ${cp.toFixed(2)} s  ${(bytes / cp / 1e9).toFixed(2)} GB/s`);
console.log(`  cp -r + sync          ${cpS.toFixed(2)} s  ${(bytes / cpS / 1e9).toFixed(2)} GB/s`);
console.log(`  taia merge (fsync'd)  ${m.toFixed(2)} s  ${(bytes / m / 1e9).toFixed(2)} GB/s`);
console.log(`  ratio merge / (cp + sync) = ${(mS / cpS).toFixed(2)}x   merge / cp (no flush) = ${(m / cp).toFixed(2)}x   (target <= 1.3x)`);
const largest = Math.max(...tensors.map((t) => t.bytes));
console.log(`  peak RSS ${(Math.max(...results.rss) / 2 ** 20).toFixed(0)} MiB (budget 256 MiB + 2 x largest tensor = ${((256 * 2 ** 20 + 2 * largest) / 2 ** 20).toFixed(0)} MiB)`);

const lOut = path.join(root, 'lora-out');
const lr = taia(['merge', '--base', base, '--finetuned', adapter, '--out', lOut, '--recipe', 'full', '--max-shard-size', String(shardBytes)]);
console.log(`\nLoRA fold (r=16 on all linear layers, recipe full): ${lr.seconds.toFixed(2)} s total, folding ${(lr.loraFlops / 1e9).toFixed(1)} GFLOP in ${lr.loraSeconds.toFixed(2)} s = ${(lr.loraFlops / lr.loraSeconds / 1e9).toFixed(2)} GFLOP/s, peak RSS ${(lr.peakRssBytes / 2 ** 20).toFixed(0)} MiB`);
if (!opt.keep) rmSync(root, { recursive: true, force: true });
