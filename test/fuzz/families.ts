// Hostile checkpoint folders, one family of faults at a time. Each case is a folder `root` with a
// clean `base/` model, the faulty `ft/` (a model or a PEFT adapter) and sometimes `outside/`, plus
// what each command must do with it: refuse, accept, or let the oracle decide from the bytes.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { encodeSafetensors, f32Bytes, RefTensor } from '../helpers/safetensorsRef';

export type Command = 'inspect' | 'dry-run' | 'merge';
export type Expect = 'refuse' | 'accept' | 'either' | 'oracle';

export interface Case {
  family: string;
  variant: string;
  root: string;
  /** What each command must do. */
  expect: (cmd: Command) => Expect;
  /** With 'oracle': the safetensors file whose validity decides. */
  oracleFile?: string;
  /** What an accepted merge must write: tensor name to its bytes (undefined: only the names are checked). */
  output?: Map<string, Uint8Array | undefined>;
  /** Accepted text output must not hold raw control characters. */
  noControls?: boolean;
  /** A big case (200,000 tensors): its time limit is four times the others'. */
  big?: boolean;
}

type Rng = () => number;

const HIDDEN = 8;
const INTER = 16;
const VOCAB = 16;

function llamaTensors(seed: number, layers: number): RefTensor[] {
  const shapes: [string, number[]][] = [['model.embed_tokens.weight', [VOCAB, HIDDEN]]];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`;
    shapes.push(
      [`${p}input_layernorm.weight`, [HIDDEN]],
      [`${p}self_attn.q_proj.weight`, [HIDDEN, HIDDEN]],
      [`${p}self_attn.k_proj.weight`, [HIDDEN, HIDDEN]],
      [`${p}self_attn.v_proj.weight`, [HIDDEN, HIDDEN]],
      [`${p}self_attn.o_proj.weight`, [HIDDEN, HIDDEN]],
      [`${p}post_attention_layernorm.weight`, [HIDDEN]],
      [`${p}mlp.gate_proj.weight`, [INTER, HIDDEN]],
      [`${p}mlp.up_proj.weight`, [INTER, HIDDEN]],
      [`${p}mlp.down_proj.weight`, [HIDDEN, INTER]],
    );
  }
  shapes.push(['model.norm.weight', [HIDDEN]], ['lm_head.weight', [VOCAB, HIDDEN]]);
  return shapes.map(([name, shape], k) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return {
      name,
      dtype: 'F32',
      shape,
      data: f32Bytes(Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + k * 31 + i) / 10)),
    };
  });
}

function config(layers: number): string {
  return JSON.stringify({
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: HIDDEN,
    intermediate_size: INTER,
    num_hidden_layers: layers,
    num_attention_heads: 2,
    num_key_value_heads: 2,
    vocab_size: VOCAB,
    tie_word_embeddings: false,
    torch_dtype: 'float32',
  });
}

/** A model folder: config, generation config, optionally a tokenizer, and one file or `shards` shards. */
function writeModel(
  dir: string,
  tensors: RefTensor[],
  layers: number,
  opts: { shards?: number; tokenizer?: boolean } = {},
): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.json'), config(layers));
  writeFileSync(path.join(dir, 'generation_config.json'), '{"bos_token_id":1,"eos_token_id":2}');
  if (opts.tokenizer)
    writeFileSync(path.join(dir, 'tokenizer.json'), '{"version":"1.0","model":{"type":"BPE","vocab":{},"merges":[]}}');
  const shards = opts.shards ?? 1;
  if (shards === 1) {
    writeFileSync(path.join(dir, 'model.safetensors'), encodeSafetensors(tensors, { format: 'pt' }));
    return;
  }
  const per = Math.ceil(tensors.length / shards);
  const map: Record<string, string> = Object.create(null);
  for (let i = 0; i < shards; i++) {
    const file = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const part = tensors.slice(i * per, (i + 1) * per);
    for (const t of part) map[t.name] = file;
    writeFileSync(path.join(dir, file), encodeSafetensors(part, { format: 'pt' }));
  }
  writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: map }));
}

interface AdapterOpts {
  dtype?: string;
  config?: Record<string, unknown>;
  modules?: string[];
}

/** A PEFT LoRA adapter on q_proj and v_proj of every layer, r = 2. */
function writeAdapter(dir: string, layers: number, opts: AdapterOpts = {}): void {
  mkdirSync(dir, { recursive: true });
  const r = 2;
  const modules =
    opts.modules ??
    Array.from({ length: layers }, (_, l) =>
      ['q_proj', 'v_proj'].map((m) => `model.layers.${l}.self_attn.${m}`),
    ).flat();
  const dtype = opts.dtype ?? 'F32';
  const width = dtype === 'F32' || dtype === 'I32' ? 4 : dtype === 'I8' || dtype === 'U8' ? 1 : 2;
  const tensors: RefTensor[] = modules.flatMap((m, k) => [
    {
      name: `base_model.model.${m}.lora_A.weight`,
      dtype,
      shape: [r, HIDDEN],
      data:
        dtype === 'F32'
          ? f32Bytes(Array.from({ length: r * HIDDEN }, (_, i) => Math.cos(k + i) / 10))
          : new Uint8Array(r * HIDDEN * width),
    },
    {
      name: `base_model.model.${m}.lora_B.weight`,
      dtype,
      shape: [HIDDEN, r],
      data:
        dtype === 'F32'
          ? f32Bytes(Array.from({ length: r * HIDDEN }, (_, i) => Math.sin(k - i) / 10))
          : new Uint8Array(r * HIDDEN * width),
    },
  ]);
  writeFileSync(path.join(dir, 'adapter_model.safetensors'), encodeSafetensors(tensors));
  writeFileSync(
    path.join(dir, 'adapter_config.json'),
    JSON.stringify({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      r,
      lora_alpha: 4,
      target_modules: ['q_proj', 'v_proj'],
      modules_to_save: null,
      base_model_name_or_path: 'base',
      ...opts.config,
    }),
  );
}

const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)];
const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));

/** A safetensors file from raw header text and data (for headers the reference encoder cannot write). */
function rawFile(header: string, data: Uint8Array): Buffer {
  const json = Buffer.from(header, 'utf-8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([prefix, json, data]);
}

function headerText(tensors: RefTensor[]): { text: string; data: Buffer } {
  const buf = encodeSafetensors(tensors, { format: 'pt' });
  const n = Number(buf.readBigUInt64LE(0));
  return { text: buf.subarray(8, 8 + n).toString('utf-8'), data: buf.subarray(8 + n) };
}

const all = (e: Expect) => () => e;
const fullOutput = (tensors: RefTensor[]) => new Map(tensors.map((t) => [t.name, t.data]));

/** Writes base/ and a clean model ft/; returns the fine-tune's tensors. */
function baseAndModel(
  root: string,
  seed: number,
  opts: { shards?: number; tokenizer?: boolean; layers?: number } = {},
): RefTensor[] {
  const layers = opts.layers ?? 1;
  writeModel(path.join(root, 'base'), llamaTensors(1, layers), layers, { tokenizer: opts.tokenizer });
  const ft = llamaTensors(seed + 2, layers);
  writeModel(path.join(root, 'ft'), ft, layers, opts);
  return ft;
}

/** Replaces a file by a FIFO or a folder. */
function replaceBySpecial(file: string, kind: 'fifo' | 'folder'): void {
  rmSync(file, { force: true });
  if (kind === 'folder') mkdirSync(file);
  else execFileSync('mkfifo', [file]);
}

type Builder = (root: string, rng: Rng, seed: number) => Omit<Case, 'family' | 'root'>;

/** Which commands read a file of the fine-tune: inspect reads config and weights; a merge reads everything it copies too. */
function readers(file: string): (cmd: Command) => Expect {
  const copiedOnly = file === 'generation_config.json' || file === 'tokenizer.json';
  return (cmd) => (copiedOnly && cmd === 'inspect' ? 'accept' : 'refuse');
}

export const FAMILIES: Record<string, Builder> = {
  valid(root, rng, seed) {
    const kind = pick(rng, ['single', 'sharded', 'tokenizer', 'adapter'] as const);
    if (kind === 'adapter') {
      writeModel(path.join(root, 'base'), llamaTensors(1, 1), 1);
      writeAdapter(path.join(root, 'ft'), 1);
      return {
        variant: kind,
        expect: all('accept'),
        output: new Map(llamaTensors(1, 1).map((t) => [t.name, undefined])),
      };
    }
    const ft = baseAndModel(root, seed, {
      shards: kind === 'sharded' ? int(rng, 2, 4) : 1,
      tokenizer: kind === 'tokenizer',
    });
    return { variant: kind, expect: all('accept'), output: fullOutput(ft) };
  },
  truncated(root, rng, seed) {
    baseAndModel(root, seed);
    const file = path.join(root, 'ft', 'model.safetensors');
    const buf = readFileSync(file);
    const at = int(rng, 0, buf.length - 1);
    writeFileSync(file, buf.subarray(0, at));
    return { variant: `at ${at}/${buf.length}`, expect: all('refuse') };
  },
  prefix(root, rng, seed) {
    baseAndModel(root, seed);
    const file = path.join(root, 'ft', 'model.safetensors');
    const buf = readFileSync(file);
    const value = pick(rng, [
      0n,
      1n,
      7n,
      BigInt(buf.length),
      2n ** 63n,
      2n ** 64n - 1n,
      100_000_001n,
      BigInt(int(rng, 0, buf.length)),
    ]);
    buf.writeBigUInt64LE(value, 0);
    writeFileSync(file, buf);
    return { variant: `length ${value}`, expect: all('oracle'), oracleFile: file };
  },
  'byte-flip'(root, rng, seed) {
    baseAndModel(root, seed);
    const file = path.join(root, 'ft', 'model.safetensors');
    const buf = readFileSync(file);
    const n = Number(buf.readBigUInt64LE(0));
    const flips = int(rng, 1, 4);
    for (let k = 0; k < flips; k++) buf[int(rng, 8, 8 + n - 1)] = int(rng, 0, 255);
    writeFileSync(file, buf);
    return { variant: `${flips} header byte(s)`, expect: all('oracle'), oracleFile: file };
  },
  'float-token'(root, rng, seed) {
    const ft = baseAndModel(root, seed);
    const { text, data } = headerText(ft);
    const numbers = [...text.matchAll(/(?<=[[,])(\d+)(?=[\],])/g)];
    const m = pick(rng, numbers);
    const v = Number(m[1]);
    const spelled = pick(rng, [
      `${v}.0`,
      `${v}e0`,
      `${v}E+0`,
      v === 0 ? '0.0e1' : `${v / 10}e1`,
      `${v}.00`,
      `-0`,
      `${v}0e-1`,
    ]);
    writeFileSync(
      path.join(root, 'ft', 'model.safetensors'),
      rawFile(text.slice(0, m.index) + spelled + text.slice(m.index! + m[1].length), data),
    );
    return { variant: spelled, expect: all('refuse') };
  },
  'deep-nesting'(root, rng, seed) {
    const ft = baseAndModel(root, seed);
    const { text, data } = headerText(ft);
    const depth = pick(rng, [4, 100, 5000, 100_000]);
    const nest = '['.repeat(depth) + ']'.repeat(depth);
    const where = pick(rng, ['entry', 'metadata', 'shape'] as const);
    const header =
      where === 'entry'
        ? `{"deep":${nest},${text.slice(1)}`
        : where === 'metadata'
          ? text.replace('"__metadata__":{', `"__metadata__":{"x":${nest},`)
          : text.replace('"shape":[', `"shape":[${nest},`);
    writeFileSync(path.join(root, 'ft', 'model.safetensors'), rawFile(header, data));
    const configToo = rng() < 0.3;
    if (configToo) writeFileSync(path.join(root, 'ft', 'config.json'), config(1).replace('{', `{"deep":${nest},`));
    return { variant: `${where} depth ${depth}${configToo ? ' + config.json' : ''}`, expect: all('refuse') };
  },
  surrogate(root, rng, seed) {
    const ft = baseAndModel(root, seed);
    const { text, data } = headerText(ft);
    const esc = pick(rng, ['\\ud800', '\\udfff', '\\ud800x', '\\udc00\\ud800']);
    const header =
      rng() < 0.5
        ? text.replace('"model.norm.weight"', `"model.norm.weight${esc}"`)
        : text.replace('"format":"pt"', `"format":"pt${esc}"`);
    writeFileSync(path.join(root, 'ft', 'model.safetensors'), rawFile(header, data));
    return { variant: esc, expect: all('refuse') };
  },
  'special-file'(root, rng, seed) {
    const kind = pick(rng, ['fifo', 'folder'] as const);
    const adapter = rng() < 0.3;
    if (adapter) {
      writeModel(path.join(root, 'base'), llamaTensors(1, 1), 1);
      writeAdapter(path.join(root, 'ft'), 1);
      const file = pick(rng, ['adapter_config.json', 'adapter_model.safetensors']);
      replaceBySpecial(path.join(root, 'ft', file), kind);
      return { variant: `${kind} ${file}`, expect: all('refuse') };
    }
    const sharded = rng() < 0.4;
    baseAndModel(root, seed, { shards: sharded ? 2 : 1, tokenizer: true });
    const file = pick(rng, [
      'config.json',
      'generation_config.json',
      'tokenizer.json',
      sharded ? 'model-00002-of-00002.safetensors' : 'model.safetensors',
    ]);
    replaceBySpecial(path.join(root, 'ft', file), kind);
    return { variant: `${kind} ${file}`, expect: readers(file) };
  },
  'symlink-outside'(root, rng, seed) {
    const inside = rng() < 0.25;
    const adapter = rng() < 0.3;
    let ftTensors: RefTensor[] | undefined;
    if (adapter) {
      writeModel(path.join(root, 'base'), llamaTensors(1, 1), 1);
      writeAdapter(path.join(root, 'ft'), 1);
    } else ftTensors = baseAndModel(root, seed, { shards: 2, tokenizer: true });
    const file = adapter
      ? pick(rng, ['adapter_model.safetensors', 'adapter_config.json'])
      : pick(rng, ['model-00001-of-00002.safetensors', 'tokenizer.json', 'config.json']);
    const target = inside ? path.join(root, 'ft', 'sub', file) : path.join(root, 'outside', file);
    mkdirSync(path.dirname(target), { recursive: true });
    renameSync(path.join(root, 'ft', file), target);
    symlinkSync(inside ? path.join('sub', file) : target, path.join(root, 'ft', file));
    const output = adapter ? new Map(llamaTensors(1, 1).map((t) => [t.name, undefined])) : fullOutput(ftTensors!);
    if (inside) return { variant: `inside ${file}`, expect: all('accept'), output };
    return { variant: `outside ${file}`, expect: file === 'tokenizer.json' ? readers(file) : all('refuse') };
  },
  'weight-map'(root, rng, seed) {
    baseAndModel(root, seed, { shards: 2 });
    const index = path.join(root, 'ft', 'model.safetensors.index.json');
    const json = JSON.parse(readFileSync(index, 'utf-8'));
    const names = Object.keys(json.weight_map);
    const fault = pick(rng, [
      'escape',
      'absolute',
      'empty',
      'missing',
      'extra',
      'wrong-shard',
      'not-string',
      'no-map',
      'array',
    ] as const);
    const victim = pick(rng, names);
    mkdirSync(path.join(root, 'outside'), { recursive: true });
    writeFileSync(
      path.join(root, 'outside', 'x.safetensors'),
      readFileSync(path.join(root, 'ft', json.weight_map[victim])),
    );
    if (fault === 'escape') json.weight_map[victim] = '../outside/x.safetensors';
    if (fault === 'absolute') json.weight_map[victim] = path.join(root, 'outside', 'x.safetensors');
    if (fault === 'empty') json.weight_map[victim] = '';
    if (fault === 'missing') delete json.weight_map[victim];
    if (fault === 'extra') json.weight_map['model.extra.weight'] = json.weight_map[victim];
    if (fault === 'wrong-shard')
      json.weight_map[victim] = json.weight_map[victim].includes('00001')
        ? 'model-00002-of-00002.safetensors'
        : 'model-00001-of-00002.safetensors';
    if (fault === 'not-string') json.weight_map[victim] = 7;
    if (fault === 'no-map') delete json.weight_map;
    if (fault === 'array') json.weight_map = [];
    writeFileSync(index, JSON.stringify(json));
    return { variant: fault, expect: all('refuse') };
  },
  'proto-names'(root, rng, seed) {
    const names = [
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      '__defineGetter__',
      'valueOf',
      'prototype',
    ];
    const chosen = names.filter(() => rng() < 0.5);
    if (chosen.length === 0) chosen.push(pick(rng, names));
    const extra = (s: number): RefTensor[] =>
      chosen.map((name, k) => ({ name, dtype: 'F32', shape: [2], data: f32Bytes([s + k, -s - k]) }));
    const layers = 1;
    writeModel(path.join(root, 'base'), [...llamaTensors(1, layers), ...extra(1)], layers);
    const ft = [...llamaTensors(seed + 2, layers), ...extra(seed + 5)];
    writeModel(path.join(root, 'ft'), ft, layers, { shards: rng() < 0.5 ? 2 : 1 });
    return { variant: chosen.join(','), expect: all('accept'), output: fullOutput(ft) };
  },
  'control-chars'(root, rng, seed) {
    const name = pick(rng, ['\x1b]0;owned\x07', '\x1b[31mred\x1b[0m', 'a\rb', '\x9b31m', 'x\x1b]8;;http://e/\x1b\\y']);
    const layers = 1;
    const extra = (s: number): RefTensor[] => [{ name, dtype: 'F32', shape: [1], data: f32Bytes([s]) }];
    writeModel(path.join(root, 'base'), [...llamaTensors(1, layers), ...extra(1)], layers);
    const ft = [...llamaTensors(seed + 2, layers), ...extra(seed)];
    writeModel(path.join(root, 'ft'), ft, layers);
    return { variant: JSON.stringify(name), expect: all('accept'), output: fullOutput(ft), noControls: true };
  },
  'adapter-config'(root, rng) {
    writeModel(path.join(root, 'base'), llamaTensors(1, 1), 1);
    const fault = pick(rng, [
      'lora_alpha null',
      'peft_type null',
      'target_modules null',
      'r null',
      'rank_pattern ""',
      'alpha_pattern ""',
      'r string',
      'alpha NaN-ish',
      'rank_pattern lookbehind',
      'modules_to_save number',
    ] as const);
    const c: Record<string, unknown> = {
      'lora_alpha null': { lora_alpha: null },
      'peft_type null': { peft_type: null },
      'target_modules null': { target_modules: null },
      'r null': { r: null },
      'rank_pattern ""': { rank_pattern: { '': 2 } },
      'alpha_pattern ""': { alpha_pattern: { '': 4 } },
      'r string': { r: '2' },
      'alpha NaN-ish': { lora_alpha: -1 },
      'rank_pattern lookbehind': { rank_pattern: { '(?<=x)q_proj': 2 } },
      'modules_to_save number': { modules_to_save: 3 },
    }[fault] as Record<string, unknown>;
    writeAdapter(path.join(root, 'ft'), 1, { config: c });
    return { variant: fault, expect: all('refuse') };
  },
  'adapter-dtype'(root, rng) {
    writeModel(path.join(root, 'base'), llamaTensors(1, 1), 1);
    const dtype = pick(rng, ['I32', 'I8', 'U8', 'I16', 'BOOL']);
    writeAdapter(path.join(root, 'ft'), 1, { dtype: dtype === 'BOOL' ? 'U8' : dtype });
    return { variant: dtype, expect: (cmd) => (cmd === 'inspect' ? 'either' : 'refuse') };
  },
  redos(root, rng) {
    writeModel(path.join(root, 'base'), llamaTensors(1, 1), 1);
    const key = pick(rng, ['(a+)+$', '(a|aa)+$', '(a*)*b', '(x+x+)+y', '(.*a){20}']);
    const module = 'a'.repeat(int(rng, 30, 5000));
    writeAdapter(path.join(root, 'ft'), 1, {
      config: { rank_pattern: { [key]: 2 }, alpha_pattern: { [key]: 4 } },
      modules: [`model.layers.0.${module}`],
    });
    return { variant: `${key} on ${module.length} chars`, expect: (cmd) => (cmd === 'inspect' ? 'either' : 'refuse') };
  },
  dtype(root, rng, seed) {
    const ft = baseAndModel(root, seed);
    const { text, data } = headerText(ft);
    const bad = pick(rng, ['F17', 'f32', 'float32', '', 'F32 ', '__proto__', 'constructor']);
    writeFileSync(
      path.join(root, 'ft', 'model.safetensors'),
      rawFile(text.replace('"dtype":"F32"', `"dtype":${JSON.stringify(bad)}`), data),
    );
    return { variant: JSON.stringify(bad), expect: all('refuse') };
  },
  'many-tensors'(root, rng, seed) {
    const n = pick(rng, [20_000, 200_000]);
    const extra: RefTensor[] = Array.from({ length: n }, (_, i) => ({
      name: `extra.${i}`,
      dtype: 'F32',
      shape: [0],
      data: new Uint8Array(0),
    }));
    const layers = 1;
    writeModel(path.join(root, 'base'), [...llamaTensors(1, layers), ...extra], layers);
    const ft = [...llamaTensors(seed + 2, layers), ...extra];
    writeModel(path.join(root, 'ft'), ft, layers);
    return { variant: `${n} tensors`, expect: all('accept'), output: fullOutput(ft), big: true };
  },
};

/** Relative weights: the slow family is drawn rarely. */
export const WEIGHTS: Record<string, number> = { 'many-tensors': 0.05 };

export function buildCase(family: string, root: string, rng: Rng, seed: number): Case {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  return { family, root, ...FAMILIES[family](root, rng, seed) };
}
