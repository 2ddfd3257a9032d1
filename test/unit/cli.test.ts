// Drives the real bundled `taia` command (dist/cli.js, built before the tests) as a child process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { LlamaShape, writeLlama } from '../helpers/models';
import { tempDir } from '../helpers/tmp';

const repo = path.resolve(__dirname, '../../..');
const cli = path.join(repo, 'dist', 'cli.js');
const root = tempDir();
const shape: LlamaShape = { layers: 2, hidden: 8, intermediate: 16, vocab: 16, heads: 2 };
const base = path.join(root, 'base');
const ft = path.join(root, 'ft');
writeLlama(base, shape, { seed: 1 });
writeLlama(ft, shape, { seed: 2 });
const parameters = 2 * 16 * 8 + 8 + 2 * (4 * 8 * 8 + 3 * 16 * 8 + 2 * 8);

function taia(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf-8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('help, version and usage errors', () => {
  const help = taia('--help');
  assert.equal(help.code, 0);
  for (const c of ['merge', 'inspect', 'recipes']) assert.match(help.out, new RegExp(`^  ${c} `, 'm'));
  assert.equal(taia().code, 2);
  const unknown = taia('frobnicate');
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /unknown command 'frobnicate'/);
  assert.match(taia('merge', '--help').out, /usage: taia merge --base DIR --finetuned DIR --out DIR/);
  const version = spawnSync(process.execPath, [path.join(repo, 'bin', 'taia.js'), '--version'], { encoding: 'utf-8' });
  assert.equal(version.stdout.trim(), JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf-8')).version);
});

test('recipes lists the built-ins and names the paper\'s rule', () => {
  const r = taia('recipes');
  assert.equal(r.code, 0);
  for (const name of ['taia', 'taia-strict', 'taif', 'full', 'base']) assert.match(r.out, new RegExp(`^${name} `, 'm'));
  assert.match(r.out, /^taia .*the paper's rule/m);
});

test('inspect prints a summary and JSON with the exact parameter count', () => {
  const text = taia('inspect', base);
  assert.equal(text.code, 0);
  assert.match(text.out, /^architecture\s+LlamaForCausalLM \(llama\)$/m);
  assert.match(text.out, /^layers\s+2$/m);
  const json = taia('inspect', base, '--json');
  const s = JSON.parse(json.out);
  assert.equal(s.parameters, parameters);
  assert.equal(s.kind, 'model');
  const none = taia('inspect', root);
  assert.equal(none.code, 1);
  assert.match(none.err, /not a checkpoint folder/);
});

test('merge --dry-run prints the plan and writes nothing', () => {
  const out = path.join(root, 'dry');
  const r = taia('merge', '--base', base, '--finetuned', ft, '--out', out, '--dry-run');
  assert.equal(r.code, 0);
  assert.match(r.out, /^base\s+copy\s+BF16\s+ffn\s+0 model\.layers\.0\.mlp\.gate_proj\.weight$/m);
  assert.match(r.out, /^finetuned\s+copy\s+BF16\s+attention\s+1 model\.layers\.1\.self_attn\.q_proj\.weight$/m);
  assert.match(r.out, /ffn\s+from fine-tune\s+0\s+from base\s+6/);
  const json = JSON.parse(taia('merge', '--base', base, '--finetuned', ft, '--out', out, '--dry-run', '--json').out);
  assert.equal(json.counts.ffn.base, 6);
  assert.equal(json.tensors.length, 2 * 9 + 3);
  assert.ok(!existsSync(out));
});

test('merge writes a checkpoint and reports it', () => {
  const out = path.join(root, 'merged');
  const r = taia('merge', '--base', base, '--finetuned', ft, '--out', out, '--quiet');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^wrote .*merged \(/);
  assert.ok(existsSync(path.join(out, 'model.safetensors')));
  const again = taia('merge', '--base', base, '--finetuned', ft, '--out', out);
  assert.equal(again.code, 1);
  assert.match(again.err, /output folder exists \(use --force/);
  const json = JSON.parse(taia('merge', '--base', base, '--finetuned', ft, '--out', out, '--force', '--json').out);
  assert.ok(json.peakRssBytes > 0 && json.bytes > 0);
});

test('bad input: exit 1 naming the file; bad usage: exit 2', () => {
  const broken = path.join(root, 'broken');
  mkdirSync(broken);
  writeFileSync(path.join(broken, 'config.json'), readFileSync(path.join(ft, 'config.json')));
  const bytes = readFileSync(path.join(ft, 'model.safetensors'));
  writeFileSync(path.join(broken, 'model.safetensors'), bytes.subarray(0, bytes.length - 10));
  const out = path.join(root, 'never');
  const r = taia('merge', '--base', base, '--finetuned', broken, '--out', out);
  assert.equal(r.code, 1);
  assert.ok(r.err.includes(path.join(broken, 'model.safetensors')), r.err);
  assert.match(r.err, /truncated|past the end/);
  assert.ok(!existsSync(out));
  assert.equal(taia('merge', '--finetuned', ft, '--out', out).code, 2);
  assert.equal(taia('merge', '--base', base, '--finetuned', ft, '--out', out, '--dtype', 'f8').code, 2);
  assert.equal(taia('merge', '--base', base, '--finetuned', ft, '--out', out, '--max-shard-size', 'nonsense').code, 2);
  assert.equal(taia('merge', '--base', base, '--finetuned', ft, '--out', out, '--bogus').code, 2);
});
