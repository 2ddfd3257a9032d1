// Hostile and broken inputs, one guarantee per test (the fuzz campaign in test/fuzz/ draws many more):
// no hang, no stack trace, nothing the format forbids accepted, nothing lost.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { inspectCheckpoint } from '../../src/core/checkpoint/discover';
import { CheckpointWeights } from '../../src/core/checkpoint/weights';
import { parseExperiment } from '../../src/core/experiment/validate';
import { openLoraAdapter, patternValue } from '../../src/core/lora/adapter';
import { parseRecipe, RecipeError } from '../../src/core/merge/recipes';
import { planMerge, closeInputs } from '../../src/core/merge/plan';
import { builtinRecipe } from '../../src/core/merge/recipes';
import { encodeHeader, parseHeader } from '../../src/core/safetensors/header';
import { terminalSafe } from '../../src/core/util/format';
import { llamaTensorShapes, writeAdapter, writeLlama } from '../helpers/models';
import { encodeSafetensors, f32Bytes, readRefHeader } from '../helpers/safetensorsRef';
import { tempDir } from '../helpers/tmp';
import { writeAlpacaDataset, writeExperiment, writeTinyModel } from '../helpers/training';
import { createRun, readStatus, updateStatus } from '../../src/core/runs/store';
import { CHECKPOINTS_DIR, LOG_FILE } from '../../src/core/runs/types';
import { hostname } from 'node:os';
import { ChatTokenizer } from '../../src/trainer/data/tokenizer';
import { loadExamples } from '../../src/trainer/data/examples';
import { loadResults } from '../../src/core/results/load';
import { loadExperiment } from '../../src/core/experiment/load';

const root = tempDir();
const cli = path.resolve(__dirname, '../../../dist/cli.js');
const shape = { layers: 1, hidden: 8, intermediate: 16, vocab: 16 };
let n = 0;
const fresh = (name: string) => path.join(root, `${name}-${n++}`);

function model(extra: Record<string, unknown> = {}): string {
  const dir = fresh('model');
  writeLlama(dir, shape, { dtype: 'F32', tokenizer: true, ...extra });
  return dir;
}

function adapter(config: Record<string, unknown>): string {
  const dir = fresh('adapter');
  writeAdapter(dir, llamaTensorShapes(shape), { r: 2, alpha: 4, targets: ['q_proj'] });
  const file = path.join(dir, 'adapter_config.json');
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf-8')), ...config }));
  return dir;
}

function taia(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf-8', timeout: 120_000 });
}

const header = (text: string) => parseHeader('h.safetensors', Buffer.from(text), 8 + Buffer.byteLength(text) + 8);

test('a FIFO or a folder where a file is expected is refused, saying what was found', async () => {
  for (const [file, kind, want] of [
    ['config.json', 'fifo', /config\.json: is a named pipe \(FIFO\), not a regular file/],
    ['model.safetensors', 'fifo', /model\.safetensors: is a named pipe/],
    ['model.safetensors', 'folder', /model\.safetensors: is a folder, not a regular file/],
  ] as const) {
    const dir = model();
    rmSync(path.join(dir, file));
    if (kind === 'fifo') execFileSync('mkfifo', [path.join(dir, file)]);
    else mkdirSync(path.join(dir, file));
    await assert.rejects(inspectCheckpoint(dir), want);
  }
  const dir = model();
  rmSync(path.join(dir, 'tokenizer.json'));
  execFileSync('mkfifo', [path.join(dir, 'tokenizer.json')]);
  await assert.rejects(
    planMerge({ base: model(), finetuned: dir, out: fresh('out'), recipe: builtinRecipe('full')!, dryRun: true }),
    /tokenizer\.json: is a named pipe/,
  );
});

test('a PEFT pattern key that backtracks catastrophically in a backtracking engine is matched in linear time', () => {
  const long = 'a'.repeat(100_000);
  assert.equal(patternValue({ '(a+)+$': 4 }, `${long}b`), undefined);
  assert.equal(patternValue({ '(a+)+$': 4 }, long), 4);
  assert.equal(patternValue({ q_proj: 2 }, 'model.layers.0.self_attn.q_proj'), 2);
  // A recipe's name rule too.
  const recipe = parseRecipe('name: r\ndefault: base\nrules:\n  - { name: "(x+x+)+y", source: finetuned }\n', 'r.yaml');
  assert.equal(recipe.rules[0].name!.test('x'.repeat(50_000)), false);
});

test('adapter config fields written as null, an empty pattern key or an unsupported pattern are refused naming the field', async () => {
  for (const [config, field] of [
    [{ lora_alpha: null }, /"lora_alpha" is null/],
    [{ peft_type: null }, /"peft_type" is null/],
    [{ target_modules: null }, /"target_modules" is null/],
    [{ rank_pattern: { '': 4 } }, /"rank_pattern" has an empty key/],
    [
      { alpha_pattern: { '(?<=x)q_proj': 4 } },
      /"alpha_pattern" key "\(\?<=x\)q_proj" is not a regular expression the linear-time matcher accepts/,
    ],
  ] as const) {
    await assert.rejects(openLoraAdapter(adapter(config)), field);
  }
  // PEFT writes modules_to_save: null by default; that stays accepted.
  const ok = await openLoraAdapter(adapter({ modules_to_save: null }));
  await ok.weights.close();
});

test('a LoRA pair stored in an integer dtype is refused when the adapter is opened, so the dry run refuses it too', async () => {
  const dir = fresh('int-adapter');
  mkdirSync(dir);
  writeFileSync(
    path.join(dir, 'adapter_config.json'),
    JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['q_proj'] }),
  );
  writeFileSync(
    path.join(dir, 'adapter_model.safetensors'),
    encodeSafetensors([
      {
        name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight',
        dtype: 'I32',
        shape: [2, 8],
        data: new Uint8Array(64),
      },
      {
        name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight',
        dtype: 'I32',
        shape: [8, 2],
        data: new Uint8Array(64),
      },
    ]),
  );
  const r = taia('merge', '--base', model(), '--finetuned', dir, '--out', fresh('out'), '--dry-run');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /LoRA weights must be F32, F16 or BF16, not I32/);
});

test('the header holds unsigned integers only, nests at most three deep, and has no lone surrogates', () => {
  const entry = (offsets: string) => `{"w":{"dtype":"F32","shape":[2],"data_offsets":${offsets}}}`;
  assert.equal(header(entry('[0,8]')).tensors[0].end, 8);
  for (const bad of ['[0,8.0]', '[0,8e0]', '[0,0.8e1]', '[0,8E+0]', '[-0,8]'])
    assert.throws(() => header(entry(bad)), /is not an unsigned integer/, bad);
  assert.throws(
    () => header(`{"x":${'['.repeat(100_000)}${']'.repeat(100_000)},${entry('[0,8]').slice(1)}`),
    /nests deeper than the format allows/,
  );
  assert.throws(() => header('{"w\\ud800":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'), /lone UTF-16 surrogate/);
  assert.throws(() => header(`{"__metadata__":{"k":"\\udc00"},${entry('[0,8]').slice(1)}`), /lone UTF-16 surrogate/);
  // A surrogate pair is a character like any other.
  assert.equal(
    header('{"w\\ud83d\\ude00":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}').tensors[0].name,
    'w\u{1f600}',
  );
});

test('a tensor named __proto__ or constructor is a tensor like any other, in the header and through a merge', async () => {
  const names = ['__proto__', 'constructor', 'toString'];
  const encoded = encodeHeader(
    names.map((name, i) => ({ name, dtype: 'F32', shape: [1], begin: i * 4, end: i * 4 + 4 })),
  );
  assert.deepEqual(Object.keys(readRefHeader(encoded).header).sort(), [...names].sort());
  const withExtra = (dir: string, seed: number) => {
    writeLlama(dir, shape, { dtype: 'F32', seed });
    const file = path.join(dir, 'model.safetensors');
    const buf = readFileSync(file);
    const { headerLength, header: h } = readRefHeader(buf);
    const tensors = Object.entries(h)
      .filter(([k]) => k !== '__metadata__')
      .map(([name, v]) => ({
        name,
        dtype: v.dtype as string,
        shape: v.shape as number[],
        data: buf.subarray(8 + headerLength + v.data_offsets[0], 8 + headerLength + v.data_offsets[1]),
      }));
    writeFileSync(
      file,
      encodeSafetensors([
        ...tensors,
        ...names.map((name, i) => ({ name, dtype: 'F32', shape: [1], data: f32Bytes([seed * 10 + i]) })),
      ]),
    );
  };
  const base = fresh('proto-base');
  const ft = fresh('proto-ft');
  withExtra(base, 1);
  withExtra(ft, 2);
  const out = fresh('proto-out');
  const r = taia('merge', '--base', base, '--finetuned', ft, '--out', out, '--recipe', 'full', '--quiet');
  assert.equal(r.status, 0, r.stderr);
  const buf = readFileSync(path.join(out, 'model.safetensors'));
  const { headerLength, header: h } = readRefHeader(buf);
  for (const [i, name] of names.entries()) {
    assert.ok(Object.hasOwn(h, name), name);
    const [b] = h[name].data_offsets;
    assert.equal(buf.readFloatLE(8 + headerLength + b), 20 + i, name);
  }
});

test('links out of the checkpoint folder are refused; the Hugging Face cache layout (snapshots → blobs) is not', async () => {
  const dir = model({ shards: 2 });
  const outside = fresh('outside');
  mkdirSync(outside);
  const shard = 'model-00001-of-00002.safetensors';
  renameSync(path.join(dir, shard), path.join(outside, shard));
  symlinkSync(path.join(outside, shard), path.join(dir, shard));
  await assert.rejects(CheckpointWeights.open(dir), /is a link to .* outside its folder .*: refused/);

  const repo = fresh('hub');
  const snapshot = path.join(repo, 'models--org--tiny', 'snapshots', 'abc123');
  const blobs = path.join(repo, 'models--org--tiny', 'blobs');
  mkdirSync(blobs, { recursive: true });
  writeLlama(snapshot, shape, { dtype: 'F32' });
  for (const f of readdirSync(snapshot)) {
    renameSync(path.join(snapshot, f), path.join(blobs, `sha-${f}`));
    symlinkSync(path.join('..', '..', 'blobs', `sha-${f}`), path.join(snapshot, f));
  }
  const summary = await inspectCheckpoint(snapshot);
  assert.equal(summary.kind, 'model');
});

test('control characters of tensor names are escaped before they reach a terminal', () => {
  assert.equal(terminalSafe('a\x1b]0;owned\x07b\n\tc\x9b'), 'a\\x1b]0;owned\\x07b\n\tc\\x9b');
});

test('YAML alias bombs in experiment and recipe files are clean problems', () => {
  const bomb = [
    'a: &a ["x","x","x","x","x","x","x","x","x"]',
    ...Array.from(
      { length: 8 },
      (_, i) =>
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9)
          .fill(`*${String.fromCharCode(97 + i)}`)
          .join(',')}]`,
    ),
  ].join('\n');
  const parsed = parseExperiment(bomb, 'bomb.taia.yaml');
  assert.ok(
    parsed.problems.some((p) => p.severity === 'error' && /alias/i.test(p.message)),
    JSON.stringify(parsed.problems.slice(0, 3)),
  );
  assert.throws(
    () => parseRecipe(bomb, 'bomb.yaml'),
    (e: Error) => e instanceof RecipeError && /alias/i.test(e.message),
  );
});

test('a plan over 200,000 tensors and the text dry run work (no spread of a huge array)', async () => {
  const extra = Array.from({ length: 200_000 }, (_, i) => ({
    name: `extra.${i}`,
    dtype: 'F32',
    shape: [0],
    data: new Uint8Array(0),
  }));
  const dirs = [fresh('many-base'), fresh('many-ft')];
  for (const dir of dirs) {
    writeLlama(dir, shape, { dtype: 'F32' });
    writeFileSync(path.join(dir, 'model.safetensors'), encodeSafetensors(extra));
  }
  const plan = await planMerge({
    base: dirs[0],
    finetuned: dirs[1],
    out: fresh('out'),
    // 'full' moves no block: the guard that refuses a TAIA merge finding no FFN tensor stays out of the way.
    recipe: builtinRecipe('full')!,
    layers: [0, 0],
  });
  await closeInputs(plan);
  assert.equal(plan.tensors.length, 200_000);
});

/** The pid of a process that has exited: temporaries named after it belong to no one. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf-8' });
  return Number(r.stdout);
}

test('an interrupted --force replacement is rolled back on the next merge, which says so', () => {
  const base = model();
  const ft = model({ seed: 2 });
  const out = fresh('out');
  assert.equal(taia('merge', '--base', base, '--finetuned', ft, '--out', out, '--quiet').status, 0);
  // A kill between the two renames: the old output is aside, the new one not yet in place.
  const pid = deadPid();
  const aside = path.join(path.dirname(out), `.${path.basename(out)}.taia-tmp-${pid}-0badc0de-old`);
  const unfinished = path.join(path.dirname(out), `.${path.basename(out)}.taia-tmp-${pid}-0badc0de`);
  renameSync(out, aside);
  mkdirSync(unfinished);
  const dry = taia('merge', '--base', base, '--finetuned', ft, '--out', out, '--dry-run');
  assert.match(dry.stdout, /found .*a --force replacement by process \d+ was interrupted/);
  assert.ok(existsSync(aside), 'a dry run changes nothing');
  const r = taia('merge', '--base', base, '--finetuned', ft, '--out', out);
  assert.match(r.stderr, /restored .*the previous output is back/);
  assert.match(r.stderr, /removed .*an unfinished merge left by process/);
  assert.equal(r.status, 1, 'the restored output exists, so without --force the merge stops');
  assert.match(r.stderr, /output folder exists/);
  assert.ok(existsSync(path.join(out, 'model.safetensors')));
  assert.deepEqual(
    readdirSync(path.dirname(out)).filter((f) => f.includes(path.basename(out)) && f !== path.basename(out)),
    [],
  );
});

test('kill -9 during a merge leaves a temporary that the next merge removes, and inspect refuses it', async () => {
  const big = { layers: 2, hidden: 512, intermediate: 1536, vocab: 4096 };
  const base = fresh('big-base');
  const ft = fresh('big-ft');
  writeLlama(base, big, { dtype: 'F32' });
  writeLlama(ft, big, { dtype: 'F32', seed: 2 });
  const out = fresh('killed-out');
  const parent = path.dirname(out);
  const child = spawn(
    process.execPath,
    [cli, 'merge', '--base', base, '--finetuned', ft, '--out', out, '--dtype', 'bf16', '--quiet'],
    { stdio: 'ignore' },
  );
  const temp = await new Promise<string | undefined>((resolve) => {
    const poll = setInterval(() => {
      const t = readdirSync(parent).find((f) => f.startsWith(`.${path.basename(out)}.taia-tmp-`));
      if (t || child.exitCode !== null) {
        clearInterval(poll);
        child.kill('SIGKILL');
        resolve(t);
      }
    }, 5);
  });
  await new Promise((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('exit', resolve),
  );
  assert.ok(temp, 'the merge wrote its temporary folder (polled every 5 ms while it writes 40 MB)');
  assert.ok(!existsSync(out), 'a killed merge leaves no output that looks complete');
  await assert.rejects(inspectCheckpoint(path.join(parent, temp)), /temporary folder of a merge that did not finish/);
  const r = taia('merge', '--base', base, '--finetuned', ft, '--out', out, '--dtype', 'bf16');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /removed .*an unfinished merge left by process \d+, which is gone/);
  assert.deepEqual(
    readdirSync(parent).filter((f) => f.startsWith(`.${path.basename(out)}.`)),
    [],
  );
});

test('a full disk is "disk full while writing <file>", nothing is left on it, and the output is not half there', (t) => {
  const mnt = fresh('tmpfs');
  mkdirSync(mnt);
  const mounted =
    process.getuid?.() === 0 && spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]).status === 0;
  if (!mounted) return t.skip('needs root to mount a 1 MiB tmpfs (not root, or mounting is not allowed here)');
  try {
    const big = fresh('big');
    writeLlama(big, { layers: 2, hidden: 256, intermediate: 512, vocab: 1024 }, { dtype: 'F32' });
    const r = taia('merge', '--base', big, '--finetuned', big, '--out', path.join(mnt, 'out'), '--quiet');
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /^taia: error: disk full while writing .*\/\.out\.taia-tmp-\d+-[0-9a-f]+\/model\.safetensors\n$/,
    );
    assert.deepEqual(readdirSync(mnt), []);
  } finally {
    spawnSync('umount', [mnt]);
  }
});

test('a 50 MB dataset row is cut before tokenizing, with a warning', async () => {
  const dir = fresh('tiny');
  writeTinyModel(dir);
  const tok = await ChatTokenizer.load(dir);
  const data = path.join(dir, 'rows.jsonl');
  writeFileSync(
    data,
    `${JSON.stringify({ instruction: 'add 1 and 2', input: '', output: '3' })}\n${JSON.stringify({ text: 'a'.repeat(50 * 2 ** 20) })}\n`,
  );
  const warnings: string[] = [];
  const { examples, skipped } = await loadExamples(data, tok, 'responses', 256, (w) => warnings.push(w));
  assert.equal(examples.length + skipped, 2);
  assert.ok(examples.some((e) => e.ids.length === 256));
  assert.match(
    warnings.join('\n'),
    /1 row\(s\) of .*rows\.jsonl have a turn longer than 16384 characters; it is cut there/,
  );
});

test('paths from result files stay in their folder, and out-of-range values name their field', async () => {
  const dir = fresh('results');
  mkdirSync(dir);
  const taia = (samples: string) => ({
    format: 'taia-results',
    version: 1,
    model: { name: 'm' },
    created: '2026-01-01T00:00:00Z',
    tasks: { t: { metrics: { acc: { value: 0.5, higher_is_better: true } }, samples } },
  });
  for (const samples of ['/etc/passwd', '../x.jsonl', '..']) {
    const file = path.join(dir, 'a.taia-results.json');
    writeFileSync(file, JSON.stringify(taia(samples)));
    await assert.rejects(
      loadResults(file, { samples: true }),
      (e: Error) =>
        /tasks\.t\.samples must be the name of a file beside the result file/.test(e.message) &&
        !/root:/.test(e.message),
    );
  }
  // A samples file beside the result file that links elsewhere is refused, and its content is not echoed.
  symlinkSync('/etc/passwd', path.join(dir, 'b.samples.jsonl'));
  writeFileSync(path.join(dir, 'b.taia-results.json'), JSON.stringify(taia('b.samples.jsonl')));
  await assert.rejects(
    loadResults(path.join(dir, 'b.taia-results.json'), { samples: true }),
    (e: Error) => /outside its folder/.test(e.message) && !/root:/.test(e.message),
  );
  // lm-eval: a task named with ../ is not a samples file name; the results still load.
  const outside = fresh('lm-outside');
  mkdirSync(path.join(dir, 'lm'));
  mkdirSync(outside);
  writeFileSync(path.join(outside, 'x_1.jsonl'), 'not json\n');
  const lm = path.join(dir, 'lm', 'results_1.json');
  writeFileSync(
    lm,
    JSON.stringify({ results: { [`../../${path.basename(outside)}/x`]: { 'acc,none': 0.5 } }, date: 1.7e9 }),
  );
  const [loaded] = await loadResults(lm, { samples: true });
  assert.equal([...loaded.tasks.values()][0].samples, undefined);
  writeFileSync(lm, JSON.stringify({ results: { t: { 'acc,none': 0.5 } }, date: 1e300 }));
  await assert.rejects(loadResults(lm), /"date" 1e\+300 is out of range/);
  const log = path.join(dir, 'eval.log');
  writeFileSync(log, 'Acc in gsm8k: 1e999\n');
  await assert.rejects(loadResults(log), /eval\.log:1: accuracy 1e999 of 'gsm8k' is not a finite number/);
});

test("an experiment's base and dataset resolve inside the workspace unless the user allows otherwise", async () => {
  const ws = fresh('ws');
  writeTinyModel(path.join(ws, 'model'));
  mkdirSync(path.join(ws, 'data'));
  writeFileSync(path.join(ws, 'data', 'train.jsonl'), '{"text":"hello"}\n');
  const outside = fresh('elsewhere');
  mkdirSync(outside);
  writeFileSync(path.join(outside, 'secret.jsonl'), '{"text":"secret"}\n');
  const file = path.join(ws, 'exp.taia.yaml');
  writeFileSync(file, `base: model\ndataset: ${path.join(outside, 'secret.jsonl')}\n`);
  await assert.rejects(
    loadExperiment(file, { workspace: ws, allowHint: 'pass --allow-outside-workspace' }),
    /exp\.taia\.yaml:2:1: 'dataset': .*secret\.jsonl is outside the workspace .*; pass --allow-outside-workspace to use it/,
  );
  // A link inside the workspace that points out of it is outside too.
  symlinkSync(path.join(outside, 'secret.jsonl'), path.join(ws, 'data', 'link.jsonl'));
  writeFileSync(file, 'base: model\ndataset: data/link.jsonl\n');
  await assert.rejects(loadExperiment(file, { workspace: ws }), /'dataset': .*link\.jsonl is outside the workspace/);
  const config = await loadExperiment(file);
  assert.equal(config.dataset, path.join(ws, 'data', 'link.jsonl'));
  writeFileSync(file, 'base: model\ndataset: data/train.jsonl\n');
  assert.equal((await loadExperiment(file, { workspace: ws })).dataset, path.join(ws, 'data', 'train.jsonl'));
});

test('a run whose trainer is gone resumes: killed in its first save it starts from step 0, else from the newest complete checkpoint', async () => {
  const ws = fresh('run-ws');
  writeTinyModel(path.join(ws, 'model'));
  writeAlpacaDataset(path.join(ws, 'data/train.jsonl'), 16);
  writeExperiment(path.join(ws, 'exp.taia.yaml'), { train: { max_steps: 2, save_steps: 1 } });
  const { dir } = await createRun(ws, await loadExperiment(path.join(ws, 'exp.taia.yaml')));
  // Both `taia train` and the trainer killed during the first save: status says running, a save temporary is left.
  const pid = deadPid();
  await updateStatus(dir, { state: 'running', pid, host: hostname() });
  const leftover = path.join(dir, CHECKPOINTS_DIR, `.checkpoint-1.tmp-${pid}-abcdef`);
  mkdirSync(leftover, { recursive: true });
  let r = taia('train', '--resume', dir, '--quiet');
  assert.equal(r.status, 0, r.stderr);
  assert.match(readFileSync(path.join(dir, LOG_FILE), 'utf-8'), /no complete checkpoint: starting again from step 0/);
  assert.ok(!existsSync(leftover), 'the dead save temporary is removed');
  assert.equal((await readStatus(dir)).step, 2);
  // Killed later, with status.json naming an older checkpoint than the newest complete one.
  await updateStatus(dir, { state: 'running', pid: deadPid(), lastCheckpoint: 'checkpoints/checkpoint-1' });
  r = taia('train', '--resume', dir, '--quiet');
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    readFileSync(path.join(dir, LOG_FILE), 'utf-8'),
    /resuming from checkpoints\/checkpoint-2, the newest complete checkpoint/,
  );
  assert.equal((await readStatus(dir)).lastCheckpoint, 'checkpoints/checkpoint-2');
});
