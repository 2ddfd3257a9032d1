#!/usr/bin/env node
// Benchmark: discover and summarise 1,000 checkpoint folders (models, sharded models, LoRA adapters,
// merged outputs) among other files, as the Checkpoints view does: one walk, then header reads.
// Uses the compiled core in out/ (`npm run bench:discovery` compiles it first).
//
//   node bench/discovery.mjs [--count 1000] [--dir .bench/discovery]
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { scanWorkspace } = require('../out/src/core/workspace/scan.js');
const { inspectCheckpoint } = require('../out/src/core/checkpoint/discover.js');
const { mapLimit } = require('../out/src/core/util/mapLimit.js');
const { llamaTensorShapes } = require('../out/test/helpers/models.js');

const { values: opt } = parseArgs({
  options: { count: { type: 'string', default: '1000' }, dir: { type: 'string', default: '.bench/discovery' } },
});
const count = Number(opt.count);
const root = path.resolve(opt.dir);

/** A header-only-realistic safetensors file: real tensor names of a 2-layer Llama, tiny shapes. */
function safetensors(names) {
  const header = { __metadata__: { format: 'pt' } };
  let off = 0;
  for (const n of names) {
    header[n] = { dtype: 'BF16', shape: [4, 4], data_offsets: [off, off + 32] };
    off += 32;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8) json += ' ';
  const p = Buffer.alloc(8);
  p.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([p, Buffer.from(json), Buffer.alloc(off)]);
}

const layerNames = (prefix = '') =>
  llamaTensorShapes({ layers: 2, hidden: 8, intermediate: 16, vocab: 32 }).map((t) => `${prefix}${t.name}`);
const config = JSON.stringify({ architectures: ['LlamaForCausalLM'], model_type: 'llama', num_hidden_layers: 2 });

rmSync(root, { recursive: true, force: true });
const t0 = performance.now();
for (let i = 0; i < count; i++) {
  const dir = path.join(root, `project-${i % 20}`, `ckpt-${i}`);
  mkdirSync(dir, { recursive: true });
  const kind = i % 4;
  if (kind === 3) {
    const lora = layerNames('base_model.model.')
      .filter((n) => n.includes('_proj'))
      .flatMap((n) => [n.replace('.weight', '.lora_A.weight'), n.replace('.weight', '.lora_B.weight')]);
    writeFileSync(path.join(dir, 'adapter_model.safetensors'), safetensors(lora));
    writeFileSync(
      path.join(dir, 'adapter_config.json'),
      JSON.stringify({
        peft_type: 'LORA',
        r: 4,
        lora_alpha: 8,
        target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
      }),
    );
  } else {
    writeFileSync(path.join(dir, 'config.json'), config);
    writeFileSync(path.join(dir, 'model.safetensors'), safetensors(layerNames()));
    if (kind === 2)
      writeFileSync(
        path.join(dir, 'taia_merge.json'),
        JSON.stringify({ recipe: { name: 'taia' }, scale: 1, inputs: [] }),
      );
  }
  // Noise the walk must get through: tokenizer files and a nested non-checkpoint folder.
  writeFileSync(path.join(dir, 'tokenizer_config.json'), '{}');
  mkdirSync(path.join(root, `project-${i % 20}`, 'notes', `n${i}`), { recursive: true });
}
console.log(`generated ${count} checkpoint folders in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const times = [];
let found;
for (let run = 0; run < 5; run++) {
  const start = performance.now();
  const scan = await scanWorkspace(root);
  const summaries = [];
  await mapLimit(scan.checkpoints, 16, async (c) => summaries.push(await inspectCheckpoint(c.dir)));
  times.push(performance.now() - start);
  found = summaries;
}
const byKind = found.reduce((m, s) => ((m[s.kind] = (m[s.kind] ?? 0) + 1), m), {});
times.sort((a, b) => a - b);
console.log(
  `listed ${found.length} checkpoints (${JSON.stringify(byKind)}): median ${times[2].toFixed(0)} ms, best ${times[0].toFixed(0)} ms over 5 runs (target < 1000 ms)`,
);
rmSync(root, { recursive: true, force: true });
