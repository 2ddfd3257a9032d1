// Drives the real bundled `taia` command (dist/cli.js, built before the tests) as a child process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync, copyFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { LlamaShape, llamaTensorShapes, writeAdapter, writeLlama } from '../helpers/models';
import { readRefHeader, RefTensor } from '../helpers/safetensorsRef';
import { tempDir } from '../helpers/tmp';
import { TINY, writeTinyModel } from '../helpers/training';

// out/test/unit -> repository root (the tests are also run from there).
const repo = path.resolve(__dirname, '../../..');
const cli = path.join(repo, 'dist', 'cli.js');
const root = tempDir();
const shape: LlamaShape = { layers: 2, hidden: 8, intermediate: 16, vocab: 16, heads: 2 };
const shapes = llamaTensorShapes(shape);
const parameters = shapes.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
const ffnMatrices = shapes.filter((t) => /\.mlp\.(gate|up|down)_proj\./.test(t.name)).length;
const base = path.join(root, 'base');
const ft = path.join(root, 'ft');
const baseTensors = new Map(writeLlama(base, shape, { seed: 1, tokenizer: true }).map((t) => [t.name, t]));
const ftTensors = new Map(writeLlama(ft, shape, { seed: 2, tokenizer: true }).map((t) => [t.name, t]));
const lora = path.join(root, 'lora');
writeAdapter(lora, shapes, { r: 2, alpha: 4, targets: ['q_proj', 'up_proj'] });

function taia(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf-8', cwd: repo });
  assert.equal(r.error, undefined);
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Folder listing of the temporary root, to show a command wrote nothing (no output, no temporary folder). */
const listing = () => readdirSync(root).sort();

test('the bundle under test exists', () => {
  assert.ok(existsSync(cli), `${cli} missing: run 'node esbuild.mjs' first`);
});

test('--help lists the commands and exits 0; no arguments exits 2', () => {
  const help = taia('--help');
  assert.equal(help.code, 0);
  assert.equal(help.err, '');
  assert.match(help.out, /^usage: taia <command>/m);
  for (const c of ['merge', 'inspect', 'recipes']) assert.match(help.out, new RegExp(`^  ${c} +\\S`, 'm'), c);
  const none = taia();
  assert.equal(none.code, 2);
  assert.match(none.out + none.err, /usage: taia <command>/);
});

test('an unknown command exits 2 with a message naming it', () => {
  const r = taia('frobnicate');
  assert.equal(r.code, 2);
  assert.equal(r.out, '');
  assert.match(r.err, /unknown command 'frobnicate'/);
  assert.match(r.err, /taia --help/);
});

test('<command> --help shows its usage', () => {
  const merge = taia('merge', '--help');
  assert.equal(merge.code, 0);
  assert.match(merge.out, /^usage: taia merge --base DIR --finetuned DIR --out DIR/m);
  for (const o of [
    '--recipe',
    '--scale',
    '--layers',
    '--dtype',
    '--max-shard-size',
    '--dry-run',
    '--json',
    '--force',
    '--quiet',
  ])
    assert.ok(merge.out.includes(o), o);
  const inspect = taia('inspect', '-h');
  assert.equal(inspect.code, 0);
  assert.match(inspect.out, /^usage: taia inspect DIR \[--json\]/m);
  assert.match(taia('recipes', '--help').out, /^usage: taia recipes/m);
});

test('--version (via bin/taia.js) prints the version from package.json', () => {
  const want = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf-8')).version;
  for (const flag of ['--version', '-V']) {
    const r = spawnSync(process.execPath, [path.join(repo, 'bin', 'taia.js'), flag], { encoding: 'utf-8', cwd: repo });
    assert.equal(r.status, 0);
    assert.equal(r.stdout, `${want}\n`);
  }
});

test("recipes lists the five built-ins and says which is the paper's", () => {
  const r = taia('recipes');
  assert.equal(r.code, 0);
  const names = [...r.out.matchAll(/^(\S+) /gm)].map((m) => m[1]);
  assert.deepEqual(names, ['taia', 'taia-strict', 'taif', 'full', 'base']);
  assert.match(r.out, /^taia +the paper's rule/m);
  assert.match(r.out, /not the paper's code/, "taia-strict is marked as not the paper's");
  const json = JSON.parse(taia('recipes', '--json').out) as { name: string; default: string }[];
  assert.deepEqual(
    json.map((x) => x.name),
    names,
  );
  assert.equal(json.find((x) => x.name === 'taia')!.default, 'finetuned');
});

test('inspect prints architecture and parameter lines; --json has the exact count', () => {
  const text = taia('inspect', base);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /^kind\s+Hugging Face model$/m);
  assert.match(text.out, /^architecture\s+LlamaForCausalLM \(llama\)$/m);
  assert.match(text.out, new RegExp(`^parameters\\s+\\S+ \\(${parameters.toLocaleString('en-US')}\\)$`, 'm'));
  assert.match(text.out, /^layers\s+2$/m);
  assert.match(text.out, new RegExp(`^tensors\\s+${shapes.length}$`, 'm'));
  const json = taia('inspect', base, '--json');
  assert.equal(json.code, 0);
  const s = JSON.parse(json.out);
  assert.equal(s.kind, 'model');
  assert.equal(s.parameters, parameters);
  assert.deepEqual(s.dtypes, { BF16: parameters });
  assert.equal(s.sizeBytes, statSync(path.join(base, 'model.safetensors')).size);

  const adapter = taia('inspect', lora);
  assert.equal(adapter.code, 0);
  assert.match(adapter.out, /^kind\s+PEFT LoRA adapter$/m);
  assert.match(adapter.out, /^r \/ alpha\s+2 \/ 4 \(scaling alpha\/r\)$/m);
  assert.match(adapter.out, /^LoRA on\s+q_proj, up_proj$/m);
});

test('inspect: a folder that is no checkpoint exits 1 naming it; wrong use exits 2', () => {
  const none = taia('inspect', root);
  assert.equal(none.code, 1);
  assert.ok(none.err.includes(`${root}: not a checkpoint folder`), none.err);
  assert.equal(taia('inspect').code, 2);
  assert.equal(taia('inspect', base, ft).code, 2);
});

test('merge --dry-run prints source and operation per tensor and counts per block, and writes nothing', () => {
  const before = listing();
  const out = path.join(root, 'dry');
  const r = taia('merge', '--base', base, '--finetuned', ft, '--out', out, '--dry-run');
  assert.equal(r.code, 0, r.err);
  const rows = r.out.split('\n').filter((l) => /^(base|finetuned)\s+(copy|convert|scale|lora|replace)\s/.test(l));
  assert.equal(rows.length, shapes.length, 'one line per tensor');
  for (const { name } of shapes) {
    const row = rows.find((l) => l.endsWith(` ${name}`));
    assert.ok(row, name);
    assert.match(row!, /\.mlp\.(gate|up|down)_proj\./.test(name) ? /^base\s+copy\s/ : /^finetuned\s+copy\s/, row);
  }
  assert.match(r.out, /^base\s+copy\s+BF16\s+ffn\s+0 model\.layers\.0\.mlp\.gate_proj\.weight$/m);
  assert.match(r.out, /^finetuned\s+copy\s+BF16\s+attention\s+1 model\.layers\.1\.self_attn\.q_proj\.weight$/m);
  assert.match(r.out, /^counts per block:$/m);
  assert.match(r.out, new RegExp(`^  ffn\\s+from fine-tune\\s+0\\s+from base\\s+${ffnMatrices}$`, 'm'));
  assert.match(r.out, /^ {2}attention\s+from fine-tune\s+8\s+from base\s+0$/m);
  assert.match(r.out, /nothing written/);
  assert.ok(!existsSync(out));
  assert.deepEqual(listing(), before);
});

test('merge --dry-run --json parses, with counts per block and one entry per tensor', () => {
  const before = listing();
  const out = path.join(root, 'dry-json');
  const r = taia('merge', '--base', base, '--finetuned', ft, '--out', out, '--dry-run', '--json', '--dtype', 'f16');
  assert.equal(r.code, 0, r.err);
  const plan = JSON.parse(r.out);
  assert.equal(plan.recipe, 'taia');
  assert.equal(plan.finetunedKind, 'model');
  assert.deepEqual(plan.counts.ffn, { base: ffnMatrices, finetuned: 0 });
  assert.equal(plan.counts.attention.finetuned, 8);
  assert.equal(plan.tensors.length, shapes.length);
  const up = plan.tensors.find((t: { name: string }) => t.name === 'model.layers.1.mlp.up_proj.weight');
  assert.deepEqual([up.source, up.op, up.dtype, up.block, up.layer], ['base', 'convert', 'F16', 'ffn', 1]);
  assert.ok(!existsSync(out));
  assert.deepEqual(listing(), before);
});

/** Every tensor of a single-file output as raw bytes, parsed with the reference header reader. */
function readOutput(file: string): Map<string, RefTensor> {
  const buf = readFileSync(file);
  const { headerLength, header } = readRefHeader(buf);
  const start = 8 + headerLength;
  const out = new Map<string, RefTensor>();
  for (const [name, h] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    out.set(name, {
      name,
      dtype: h.dtype,
      shape: h.shape,
      data: new Uint8Array(buf.subarray(start + h.data_offsets[0], start + h.data_offsets[1])),
    });
  }
  return out;
}

test('merge writes the folder: FFN from base, the rest from the fine-tune; --json reports peak RSS', () => {
  const out = path.join(root, 'merged');
  const r = taia('merge', '--base', base, '--finetuned', ft, '--out', out);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`^wrote ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(`));
  assert.match(r.err, /^recipe taia: the paper's rule/m);
  for (const f of ['config.json', 'tokenizer.json', 'model.safetensors', 'taia_merge.json'])
    assert.ok(existsSync(path.join(out, f)), f);
  const got = readOutput(path.join(out, 'model.safetensors'));
  assert.equal(got.size, shapes.length);
  for (const [name, t] of got) {
    const fromBase = /\.mlp\.(gate|up|down)_proj\./.test(name);
    const want = (fromBase ? baseTensors : ftTensors).get(name)!;
    assert.deepEqual(t.data, want.data, `${name} from ${fromBase ? 'base' : 'the fine-tune'}`);
  }
  assert.equal(JSON.parse(readFileSync(path.join(out, 'taia_merge.json'), 'utf-8')).recipe.name, 'taia');
  const inspected = JSON.parse(taia('inspect', out, '--json').out);
  assert.equal(inspected.kind, 'merged');
  assert.equal(inspected.merge.recipe, 'taia');

  const jsonOut = path.join(root, 'merged-json');
  const j = taia('merge', '--base', base, '--finetuned', ft, '--out', jsonOut, '--json');
  assert.equal(j.code, 0, j.err);
  const result = JSON.parse(j.out);
  assert.equal(typeof result.peakRssBytes, 'number');
  assert.ok(result.peakRssBytes > 1e6, `peak RSS ${result.peakRssBytes}`);
  assert.ok(result.bytes > 0);
  assert.ok(existsSync(path.join(jsonOut, 'model.safetensors')));
  assert.deepEqual(
    readdirSync(root).filter((n) => n.includes('taia-tmp')),
    [],
  );
});

test('merge of a LoRA adapter under taia says which modules it leaves out', () => {
  const out = path.join(root, 'merged-lora');
  const r = taia('merge', '--base', base, '--finetuned', lora, '--out', out, '--quiet');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^wrote /);
  const got = readOutput(path.join(out, 'model.safetensors'));
  // up_proj's LoRA is not applied (FFN); q_proj's is.
  assert.deepEqual(
    got.get('model.layers.0.mlp.up_proj.weight')!.data,
    baseTensors.get('model.layers.0.mlp.up_proj.weight')!.data,
  );
  assert.notDeepEqual(
    got.get('model.layers.0.self_attn.q_proj.weight')!.data,
    baseTensors.get('model.layers.0.self_attn.q_proj.weight')!.data,
  );
  const plan = JSON.parse(
    taia('merge', '--base', base, '--finetuned', lora, '--out', path.join(root, 'x'), '--dry-run', '--json').out,
  );
  assert.equal(plan.finetunedKind, 'adapter');
  assert.match(plan.notes.join('\n'), /not applied under recipe 'taia': up_proj/);
});

test('usage errors exit 2 and write nothing', () => {
  const before = listing();
  const out = path.join(root, 'never');
  const cases: [string[], RegExp][] = [
    [['merge', '--finetuned', ft, '--out', out], /--base is required/],
    [['merge', '--base', base, '--out', out], /--finetuned is required/],
    [
      ['merge', '--base', base, '--finetuned', ft, '--out', out, '--dtype', 'f8'],
      /--dtype must be one of keep, bf16, f16, f32/,
    ],
    [
      ['merge', '--base', base, '--finetuned', ft, '--out', out, '--max-shard-size', 'nonsense'],
      /invalid size 'nonsense'/,
    ],
    [
      ['merge', '--base', base, '--finetuned', ft, '--out', out, '--scale', 'abc'],
      /--scale must be a number, got 'abc'/,
    ],
    // An empty value is not 0 (Number('') is 0: that would silently write the base model).
    [['merge', '--base', base, '--finetuned', ft, '--out', out, '--scale='], /--scale must be a number/],
    [['merge', '--base', base, '--finetuned', ft, '--out', out, '--layers', '3-1'], /invalid layer range '3-1'/],
    [['merge', '--base', base, '--finetuned', ft, '--out', out, '--bogus'], /Unknown option '--bogus'/],
    [
      ['merge', '--base', base, '--finetuned', ft, '--out', out, '--recipe='],
      /--recipe needs a built-in recipe's name \(taia, taia-strict, taif, full, base\) or a recipe file/,
    ],
  ];
  for (const [args, re] of cases) {
    const r = taia(...args);
    assert.equal(r.code, 2, `${args.slice(-2).join(' ')}: ${r.err}`);
    assert.match(r.err, re);
    assert.match(r.err, /taia --help/);
    assert.equal(r.out, '');
  }
  assert.deepEqual(listing(), before);
});

test('--layers beyond the last layer: none selected is an error, a range running past the end a note', () => {
  const none = taia(
    'merge',
    '--base',
    base,
    '--finetuned',
    ft,
    '--out',
    path.join(root, 'l1'),
    '--layers',
    '5-9',
    '--dry-run',
  );
  // A usage error (exit 2, no stack trace): core says "layer range 5-9", the CLI names its flag.
  assert.equal(none.code, 2);
  assert.match(none.err, /--layers 5-9 selects no layer: the model's layers are 0-1/);
  assert.doesNotMatch(none.err, /\n\s+at /);
  const past = taia(
    'merge',
    '--base',
    base,
    '--finetuned',
    ft,
    '--out',
    path.join(root, 'l2'),
    '--layers',
    '1-9',
    '--dry-run',
  );
  assert.equal(past.code, 0, past.err);
  assert.match(past.out, /note: layer range 1-9 reaches past the last layer \(1\): layers 1-1 come from the fine-tune/);
  assert.ok(!existsSync(path.join(root, 'l1')) && !existsSync(path.join(root, 'l2')));
});

test('a truncated fine-tune: exit 1 naming the file, and no output folder', () => {
  const broken = path.join(root, 'broken');
  mkdirSync(broken);
  copyFileSync(path.join(ft, 'config.json'), path.join(broken, 'config.json'));
  const bytes = readFileSync(path.join(ft, 'model.safetensors'));
  writeFileSync(path.join(broken, 'model.safetensors'), bytes.subarray(0, bytes.length - 10));
  const before = listing();
  const out = path.join(root, 'never-broken');
  const r = taia('merge', '--base', base, '--finetuned', broken, '--out', out);
  assert.equal(r.code, 1);
  assert.ok(r.err.includes(path.join(broken, 'model.safetensors')), r.err);
  assert.match(r.err, /truncated|past the end/);
  assert.doesNotMatch(r.err, /^\s+at /m, 'no stack trace for a bad input');
  assert.ok(!existsSync(out));
  assert.deepEqual(listing(), before);
  const inspect = taia('inspect', broken);
  assert.equal(inspect.code, 1);
  assert.ok(inspect.err.includes(path.join(broken, 'model.safetensors')), inspect.err);
});

test('an existing output folder without --force: exit 1 mentioning --force, folder untouched; --force replaces', () => {
  const out = path.join(root, 'existing');
  mkdirSync(out);
  writeFileSync(path.join(out, 'keep.txt'), 'x');
  const r = taia('merge', '--base', base, '--finetuned', ft, '--out', out, '--quiet');
  assert.equal(r.code, 1);
  assert.match(r.err, /exists \(use --force/);
  assert.ok(r.err.includes(out));
  assert.deepEqual(readdirSync(out), ['keep.txt']);
  // Without the plan's headline first, and a dry run says the same as the real run would.
  const withHeadline = taia('merge', '--base', base, '--finetuned', ft, '--out', out);
  assert.ok(!/recipe taia/.test(withHeadline.err), withHeadline.err);
  const dry = taia('merge', '--base', base, '--finetuned', ft, '--out', out, '--dry-run');
  assert.equal(dry.code, 1);
  assert.match(dry.err, /exists \(use --force/);
  const forced = taia('merge', '--base', base, '--finetuned', ft, '--out', out, '--quiet', '--force');
  assert.equal(forced.code, 0, forced.err);
  assert.ok(!existsSync(path.join(out, 'keep.txt')));
  assert.ok(existsSync(path.join(out, 'model.safetensors')));
});

test('an unknown recipe or a missing fine-tune folder exits 1 naming it', () => {
  const recipe = taia('merge', '--base', base, '--finetuned', ft, '--out', path.join(root, 'n1'), '--recipe', 'nope');
  assert.equal(recipe.code, 1);
  assert.match(recipe.err, /nope: not a built-in recipe \(taia, taia-strict, taif, full, base\)/);
  const missing = path.join(root, 'no-such-ft');
  const r = taia('merge', '--base', base, '--finetuned', missing, '--out', path.join(root, 'n2'));
  assert.equal(r.code, 1);
  assert.ok(r.err.includes(missing), r.err);
  assert.ok(!existsSync(path.join(root, 'n1')) && !existsSync(path.join(root, 'n2')));
});

test('taia eval: a bad --engine is a usage error; --engine torch checks Python for peft when it folds an adapter', () => {
  const tasks = path.join(root, 'qa.jsonl');
  writeFileSync(tasks, '{"prompt":"a?","answer":"b"}\n');
  const bad = taia('eval', base, '--tasks', tasks, '--engine', 'jax');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--engine must be one of tfjs, torch/);
  // python3 -S hides site-packages: the environment check fails the same way on every machine.
  const python = path.join(root, 'python-bare');
  writeFileSync(python, '#!/bin/sh\nexec python3 -S "$@"\n', { mode: 0o755 });
  const out = path.join(root, 'lora-eval.taia-results.json');
  const evalBase = path.join(root, 'eval-base');
  const adapter = path.join(root, 'eval-lora');
  writeTinyModel(evalBase);
  writeAdapter(adapter, llamaTensorShapes(TINY), { r: 2, alpha: 4, targets: ['q_proj'] });
  const r = spawnSync(
    process.execPath,
    [cli, 'eval', adapter, '--base', evalBase, '--tasks', tasks, '--engine', 'torch', '--out', out, '--quiet'],
    { encoding: 'utf-8', env: { ...process.env, TAIA_PYTHON: python } },
  );
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /taia: evaluation failed: the PyTorch engine cannot start: .*peft is not importable/);
  assert.ok(!existsSync(out));
});
