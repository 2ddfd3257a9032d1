// Generators of synthetic checkpoints for benchmarks and the demo: real safetensors files of realistic
// shapes, random finite bf16 values.
import { mkdirSync, openSync, writeSync, closeSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { createRequire } from 'node:module';
import * as path from 'node:path';

/**
 * Llama-family tensors for a geometry { layers, hidden, intermediate, vocab, heads, kvHeads }: the one list the
 * tests use (test/helpers/models.ts, compiled by `tsc -p tsconfig.test.json`), with bf16 byte sizes.
 */
export function llamaShapes(g) {
  const { llamaTensorShapes } = createRequire(import.meta.url)('../out/test/helpers/models.js');
  return llamaTensorShapes({
    layers: g.layers,
    hidden: g.hidden,
    intermediate: g.intermediate,
    vocab: g.vocab,
    heads: g.heads,
    kvHeads: g.kvHeads,
  }).map(({ name, shape }) => ({ name, shape, bytes: shape.reduce((a, b) => a * b, 1) * 2 }));
}

/** Random but finite bf16 values of magnitude ~1e-2. */
export function fillBf16(buf) {
  randomFillSync(buf);
  const h = new Uint16Array(buf.buffer, buf.byteOffset, buf.length / 2);
  for (let i = 0; i < h.length; i++) h[i] = (h[i] & 0x807f) | 0x3c00;
}

function writeFile(file, tensors) {
  const header = { __metadata__: { format: 'pt' } };
  let off = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: 'BF16', shape: t.shape, data_offsets: [off, off + t.bytes] };
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
  for (let left = off; left > 0;) {
    const n = Math.min(left, block.length);
    fillBf16(block.subarray(0, n));
    writeSync(fd, block, 0, n);
    left -= n;
  }
  closeSync(fd);
}

/** A sharded Hugging Face model folder: shards, index and config.json. */
export function writeModel(dir, g, tensors, shardBytes) {
  mkdirSync(dir, { recursive: true });
  const shards = [];
  for (const t of tensors) {
    const cur = shards.at(-1);
    if (!cur || cur.bytes + t.bytes > shardBytes) shards.push({ tensors: [t], bytes: t.bytes });
    else {
      cur.tensors.push(t);
      cur.bytes += t.bytes;
    }
  }
  const pad = (i) => String(i).padStart(5, '0');
  const weightMap = {};
  shards.forEach((s, i) => {
    const file = `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`;
    for (const t of s.tensors) weightMap[t.name] = file;
    writeFile(path.join(dir, file), s.tensors);
  });
  writeFileSync(
    path.join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: { total_size: shards.reduce((a, s) => a + s.bytes, 0) }, weight_map: weightMap }),
  );
  writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: g.hidden,
      intermediate_size: g.intermediate,
      num_hidden_layers: g.layers,
      num_attention_heads: g.heads,
      num_key_value_heads: g.kvHeads,
      vocab_size: g.vocab,
      tie_word_embeddings: false,
      torch_dtype: 'bfloat16',
    }),
  );
}

/** A PEFT LoRA adapter of rank r on every linear layer of `tensors`. */
export function writeAdapter(dir, tensors, r) {
  mkdirSync(dir, { recursive: true });
  const lora = [];
  for (const t of tensors) {
    const m = /^(.*\.(q|k|v|o|gate|up|down)_proj)\.weight$/.exec(t.name);
    if (!m) continue;
    const [out, inp] = t.shape;
    lora.push(
      { name: `base_model.model.${m[1]}.lora_A.weight`, shape: [r, inp], bytes: r * inp * 2 },
      { name: `base_model.model.${m[1]}.lora_B.weight`, shape: [out, r], bytes: out * r * 2 },
    );
  }
  writeFile(path.join(dir, 'adapter_model.safetensors'), lora);
  writeFileSync(
    path.join(dir, 'adapter_config.json'),
    JSON.stringify({
      peft_type: 'LORA',
      r,
      lora_alpha: 2 * r,
      target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
      use_rslora: false,
    }),
  );
}

export const folderBytes = (dir) => readdirSync(dir).reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);

export function seconds(f) {
  const t = performance.now();
  f();
  return (performance.now() - t) / 1000;
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
