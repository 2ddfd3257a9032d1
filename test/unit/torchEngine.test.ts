// The PyTorch engine's plumbing, with the Python side wherever it can run here: the environment check
// of the real script, run bookkeeping through a stand-in interpreter that speaks the engine protocol,
// and a real transformers run only where transformers and peft are installed (never in CI).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { loadExperiment } from '../../src/core/experiment/load';
import { createRun, readMetrics, readStatus } from '../../src/core/runs/store';
import { launchTrainer } from '../../src/trainer/client';
import { DataOrder } from '../../src/trainer/data/examples';
import { ChatTokenizer } from '../../src/trainer/data/tokenizer';
import type { EvaluateJob } from '../../src/trainer/protocol';
import { tempDir } from '../helpers/tmp';
import { writeAlpacaDataset, writeExperiment, writeTinyModel } from '../helpers/training';

const TRAINER = path.resolve(__dirname, '../../../dist/trainer.js');
const SCRIPT = path.resolve(__dirname, '../../../dist/torch/taia_torch_trainer.py');

async function torchRun(python: string, overrides: Record<string, unknown> = {}) {
  const root = tempDir('taia-torch-');
  writeTinyModel(path.join(root, 'model'));
  writeAlpacaDataset(path.join(root, 'data/train.jsonl'), 16);
  writeExperiment(path.join(root, 'exp.taia.yaml'), { engine: 'torch', ...overrides });
  const { dir } = await createRun(root, await loadExperiment(path.join(root, 'exp.taia.yaml')));
  const outcome = await launchTrainer({
    script: TRAINER,
    job: { runDir: dir, resume: false },
    onMessage: () => undefined,
    env: { TAIA_PYTHON: python },
  }).outcome;
  return { root, dir, outcome };
}

/** An executable wrapper in `dir` that runs `command`, for TAIA_PYTHON (which names one program). */
function wrapper(dir: string, name: string, body: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

/** Evaluates `root`/model on a generation and a multiple-choice task with the PyTorch engine, run by `python`. */
async function torchEval(root: string, python: string, device: EvaluateJob['device'] = 'auto') {
  const job: EvaluateJob = {
    checkpoint: path.join(root, 'model'),
    tasks: [path.join(root, 'gen.jsonl'), path.join(root, 'mc.jsonl')],
    out: path.join(root, 'results', 'm.taia-results.json'),
    name: 'm',
    maxNewTokens: 8,
    limit: 0,
    engine: 'torch',
    device,
    backend: 'auto',
  };
  const progress: number[] = [];
  const outcome = await launchTrainer({
    script: TRAINER,
    job: { evaluate: job },
    onMessage: (m) => m.type === 'evalProgress' && progress.push(m.done),
    env: { TAIA_PYTHON: python },
  }).outcome;
  return { job, outcome, progress };
}

const GEN = [
  ['capital of France', 'Paris'],
  ['2 plus 2', '4'],
  ['color of grass', 'green'],
];
const MC = [
  ['opposite of hot', ['cold', 'warm'], 0],
  ['color of the sky', ['green', 'blue', 'red'], 1],
] as const;

function writeTasks(root: string): void {
  writeFileSync(
    path.join(root, 'gen.jsonl'),
    GEN.map(([q, a]) => JSON.stringify({ prompt: q, answer: a })).join('\n') + '\n',
  );
  writeFileSync(
    path.join(root, 'mc.jsonl'),
    MC.map(([q, choices, answer]) => JSON.stringify({ prompt: q, choices, answer })).join('\n') + '\n',
  );
}

/**
 * A stand-in for taia_torch_eval.py that speaks its protocol and answers from a table the test made
 * with the project's tokenizer: it knows two of the three generation answers, and scores the right
 * choice of each multiple-choice question highest. It logs its arguments and every request.
 */
const ORACLE = `const fs = require('fs'), readline = require('readline');
const table = JSON.parse(fs.readFileSync(process.env.ORACLE, 'utf-8'));
const out = fs.createWriteStream(null, { fd: 3 });
const emit = (m) => out.write(JSON.stringify({ v: 2, ...m }) + '\\n');
fs.appendFileSync(table.log, JSON.stringify({ args: process.argv.slice(2) }) + '\\n');
emit({ type: 'env', python: 'fake', executable: 'fake', modules: { torch: '2.4' }, cuda: true, gpus: [{ name: 'Fake GPU' }], problems: [] });
emit({ type: 'ready', device: 'cuda', dtype: 'bfloat16', parameters: 1 });
let answered = 0;
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const r = JSON.parse(line);
  fs.appendFileSync(table.log, line + '\\n');
  if (answered++ === table.crashAfter) process.exit(9);
  const values = r.type === 'generate'
    ? r.prompts.map((p) => table.generate[p.join(',')] ?? [])
    : r.requests.map((q) => table.loglikelihood[q.context.join(',') + '|' + q.continuation.join(',')] ?? -5);
  emit({ type: 'result', id: r.id, values: table.dropOne ? values.slice(1) : values });
});
`;

async function writeOracle(root: string, crashAfter = -1, dropOne = false): Promise<string> {
  const tok = await ChatTokenizer.load(path.join(root, 'model'));
  const prompt = (q: string) => tok.encode(tok.render([{ role: 'user', content: q }], true)).join(',');
  const table = {
    log: path.join(root, 'oracle.log'),
    crashAfter,
    dropOne,
    generate: Object.fromEntries(GEN.slice(0, 2).map(([q, a]) => [prompt(q), tok.encode(a)])),
    loglikelihood: Object.fromEntries(
      MC.map(([q, choices, answer]) => [`${prompt(q)}|${tok.encode(choices[answer]).join(',')}`, -1]),
    ),
  };
  writeFileSync(path.join(root, 'oracle.json'), JSON.stringify(table));
  writeFileSync(path.join(root, 'oracle.js'), ORACLE);
  return wrapper(
    root,
    'python-oracle',
    `ORACLE=${JSON.stringify(path.join(root, 'oracle.json'))} exec ${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(root, 'oracle.js'))} "$@"`,
  );
}

describe('PyTorch engine', () => {
  it('checks the environment first and names what is missing, with what to install', async () => {
    // python3 -S hides site-packages, so the check fails the same way on every machine.
    const python = wrapper(tempDir(), 'python-bare', 'exec python3 -S "$@"');
    const { dir, outcome } = await torchRun(python);
    assert.equal(outcome.state, 'failed');
    const status = await readStatus(dir);
    assert.equal(status.state, 'failed');
    assert.match(
      status.error!,
      /the PyTorch engine cannot start: torch is not importable by .*pip install 'torch>=2\.0'/,
    );
    assert.match(status.error!, /transformers is not importable/);
    assert.match(status.error!, /peft is not importable/);
    // The same report from the script's own --check, as JSON.
    const check = spawnSync(python, [SCRIPT, '--check', '--device', 'gpu'], { encoding: 'utf-8' });
    assert.equal(check.status, 3);
    const report = JSON.parse(check.stdout);
    assert.equal(report.modules.torch, null);
    assert.ok(report.problems.length >= 4);
  });

  it('keeps the run folder from what the engine reports: metrics, checkpoints, status', async () => {
    // A stand-in for Python that speaks the engine protocol on fd 3 and writes a checkpoint where told.
    const dir = tempDir();
    const fake = path.join(dir, 'fake-engine.js');
    writeFileSync(
      fake,
      `const fs = require('fs'), path = require('path');
const args = process.argv.slice(2); const runDir = args[args.indexOf('--run-dir') + 1];
const tokens = fs.readFileSync(args[args.indexOf('--data') + 1], 'utf-8').trim().split('\\n').map(JSON.parse);
const out = fs.createWriteStream(null, { fd: 3 });
const emit = (m) => out.write(JSON.stringify({ v: 2, ...m }) + '\\n');
emit({ type: 'env', python: 'fake', executable: 'fake', modules: { torch: '2.4' }, cuda: true, gpus: [{ name: 'Fake GPU' }], problems: [] });
emit({ type: 'started', totalSteps: 3, startStep: 0, parameters: 100, trainableParameters: 10, examples: tokens.length, device: 'cuda:0', dtype: 'bfloat16', world: 1 });
for (let s = 1; s <= 3; s++) emit({ type: 'step', step: s, totalSteps: 3, epoch: s / 3, loss: 2 / s, lr: 1e-4, gradNorm: 1, tokensPerSecond: 1000, gpuMemory: 5e9 });
const ck = path.join(runDir, 'checkpoints', 'checkpoint-3'); fs.mkdirSync(ck, { recursive: true });
emit({ type: 'checkpoint', step: 3, path: ck });
emit({ type: 'done', state: 'done', step: 3, checkpoint: ck });
out.end();
`,
    );
    const python = wrapper(dir, 'python-fake', `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(fake)} "$@"`);
    const { dir: runDir, outcome } = await torchRun(python);
    assert.deepEqual(outcome, { state: 'done' });
    const status = await readStatus(runDir);
    assert.equal(status.state, 'done');
    assert.equal(status.backend, 'torch on cuda:0 (bfloat16)');
    assert.equal(status.lastCheckpoint, 'checkpoints/checkpoint-3');
    assert.equal(status.finalLoss, 2 / 3);
    const metrics = await readMetrics(runDir);
    assert.deepEqual(
      metrics.map((m) => m.loss),
      [2, 1, 2 / 3],
    );
    assert.equal(metrics[0].gpuMemory, 5e9);
    // The dataset reached the engine tokenized by the same pipeline as the built-in engine.
    assert.ok(existsSync(path.join(runDir, 'data.tokens.jsonl')));
  });

  it('evaluates task files through the engine on the token ids the built-in evaluator makes', async () => {
    const root = tempDir('taia-torch-eval-');
    writeTinyModel(path.join(root, 'model'));
    writeTasks(root);
    const { job, outcome, progress } = await torchEval(root, await writeOracle(root));
    assert.deepEqual(outcome, { state: 'done' });
    assert.deepEqual(progress, [3, 5]); // one request per task: 3 generation examples, then 2 multiple-choice
    const results = JSON.parse(readFileSync(job.out, 'utf-8'));
    assert.match(results.tool, /\(torch on cuda \(bfloat16\)\)$/);
    assert.equal(results.tasks.gen.metrics.exact_match.value, 2 / 3);
    assert.equal(results.tasks.mc.metrics.acc.value, 1);
    const samples = readFileSync(job.out.replace('.taia-results.json', '.samples.jsonl'), 'utf-8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      samples.map((r) => r.prediction),
      ['Paris', '4', '', 'cold', 'blue'],
    );
    // What the engine was asked: the model folder, then generation with the tokenizer's eos as stop, then every choice.
    const log = readFileSync(path.join(root, 'oracle.log'), 'utf-8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(log[0].args.slice(1), ['--model', path.join(root, 'model'), '--device', 'auto']);
    const tok = await ChatTokenizer.load(path.join(root, 'model'));
    assert.equal(log[1].type, 'generate');
    assert.equal(log[1].stop, tok.ids.eos);
    assert.equal(log[1].maxNewTokens, 8);
    assert.deepEqual(
      log[2].requests.map((q: { continuation: number[] }) => tok.decode(q.continuation)),
      ['cold', 'warm', 'green', 'blue', 'red'],
    );
  });

  it('reports an engine that dies mid-evaluation and writes no result file', async () => {
    const root = tempDir('taia-torch-eval-');
    writeTinyModel(path.join(root, 'model'));
    writeTasks(root);
    const { job, outcome } = await torchEval(root, await writeOracle(root, 1));
    assert.equal(outcome.state, 'failed');
    assert.match(outcome.error!, /taia_torch_eval\.py exited before answering/);
    assert.ok(!existsSync(job.out));
  });

  it('an answer with the wrong number of values is a protocol error, not a misaligned score', async () => {
    const root = tempDir('taia-torch-eval-');
    writeTinyModel(path.join(root, 'model'));
    writeTasks(root);
    const { job, outcome } = await torchEval(root, await writeOracle(root, -1, true));
    assert.equal(outcome.state, 'failed');
    assert.match(outcome.error!, /taia_torch_eval\.py answered request 0 with 2 values for 3 questions/);
    assert.ok(!existsSync(job.out));
  });

  it('evaluates a merge variant from a merge written to a temporary folder, removed afterwards', async () => {
    const root = tempDir('taia-torch-eval-');
    writeTinyModel(path.join(root, 'model'));
    writeTinyModel(path.join(root, 'ft'), undefined, 2);
    writeTasks(root);
    const oracle = await writeOracle(root);
    // What transformers would load: the folder the engine is given, listed while it runs.
    const python = wrapper(
      root,
      'python-listing',
      `ls "$3" > ${JSON.stringify(path.join(root, 'listing'))}; exec ${JSON.stringify(oracle)} "$@"`,
    );
    const job: EvaluateJob = {
      checkpoint: path.join(root, 'ft'),
      base: path.join(root, 'model'),
      tasks: [path.join(root, 'mc.jsonl')],
      out: path.join(root, 'results', 'v.taia-results.json'),
      name: 'v',
      maxNewTokens: 8,
      limit: 0,
      engine: 'torch',
      device: 'auto',
      backend: 'auto',
      variant: { recipe: 'taia' },
    };
    assert.deepEqual(
      await launchTrainer({
        script: TRAINER,
        job: { evaluate: job },
        onMessage: () => undefined,
        env: { TAIA_PYTHON: python },
      }).outcome,
      { state: 'done' },
    );
    const model = JSON.parse(readFileSync(path.join(root, 'oracle.log'), 'utf-8').split('\n')[0]).args[2] as string;
    assert.notEqual(model, path.join(root, 'ft'));
    assert.deepEqual(
      readFileSync(path.join(root, 'listing'), 'utf-8')
        .trim()
        .split('\n')
        .filter((f) => /safetensors$|taia_merge/.test(f)),
      ['model.safetensors', 'taia_merge.json'],
    );
    assert.equal(existsSync(model), false, 'the written merge is removed after the evaluation');
    assert.equal(JSON.parse(readFileSync(job.out, 'utf-8')).model.recipe, 'taia');
  });

  it('checks the environment before evaluating, asking for peft only for an adapter', async () => {
    const root = tempDir('taia-torch-eval-');
    writeTinyModel(path.join(root, 'model'));
    writeTasks(root);
    const { outcome } = await torchEval(root, wrapper(root, 'python-bare', 'exec python3 -S "$@"'));
    assert.equal(outcome.state, 'failed');
    assert.match(
      outcome.error!,
      /the PyTorch engine cannot start: torch is not importable .*transformers is not importable/,
    );
    assert.doesNotMatch(outcome.error!, /peft/);
  });

  it('visits the data in the same order as the built-in engine (the same seeded shuffle, ported)', () => {
    // The trainer script imports torch only inside train(): its DataOrder runs on any python3.
    const program = `
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("trainer", sys.argv[1])
trainer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(trainer)
order = trainer.DataOrder([([1, 2], [0, 1])] * 37, 5, 8, 11, 0)
print(json.dumps([order.order(epoch) for epoch in range(4)]))`;
    const run = spawnSync('python3', ['-c', program, SCRIPT], {
      encoding: 'utf-8',
      env: { ...process.env, PYTHONPATH: path.dirname(SCRIPT) },
    });
    assert.equal(run.status, 0, run.stderr);
    const examples = Array.from({ length: 37 }, () => ({
      ids: Int32Array.from([1, 2]),
      train: Uint8Array.from([0, 1]),
    }));
    const order = new DataOrder(examples, 5, 8, 11, 0);
    assert.deepEqual(
      JSON.parse(run.stdout),
      [0, 1, 2, 3].map((epoch) => Array.from(order.permutation(epoch))),
    );
  });

  it('sweeps the temporaries of saves whose process died, and keeps live ones and checkpoints', () => {
    const dir = tempDir();
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf-8',
    }).stdout;
    for (const name of [`checkpoint-5.tmp-${dead}`, `checkpoint-6.tmp-${process.pid}`, 'checkpoint-7'])
      mkdirSync(path.join(dir, name), { recursive: true });
    const program = `
import importlib.util, sys
spec = importlib.util.spec_from_file_location("trainer", sys.argv[1])
trainer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(trainer)
trainer.remove_dead_temporaries(sys.argv[2])`;
    const run = spawnSync('python3', ['-c', program, SCRIPT, dir], {
      encoding: 'utf-8',
      env: { ...process.env, PYTHONPATH: path.dirname(SCRIPT) },
    });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(readdirSync(dir).sort(), ['checkpoint-6.tmp-' + process.pid, 'checkpoint-7']);
  });

  const hasTransformers =
    spawnSync('python3', ['-c', 'import torch, transformers, peft, safetensors'], { encoding: 'utf-8' }).status === 0;
  const withTransformers = {
    skip: hasTransformers
      ? false
      : 'python3 has no torch/transformers/peft here (CI has neither GPU nor transformers); run on a machine that has them',
  };
  it('fine-tunes a model with transformers and PEFT', withTransformers, async () => {
    const { dir, outcome } = await torchRun('python3', { device: 'cpu', train: { method: 'lora', max_steps: 4 } });
    assert.deepEqual(outcome, { state: 'done' });
    assert.ok(existsSync(path.join(dir, 'checkpoints', 'checkpoint-4', 'adapter_model.safetensors')));
  });

  it(
    'trains like the built-in engine: the same batches in the same order, the same losses (float32 on the CPU)',
    withTransformers,
    async () => {
      const train = { max_steps: 3, batch_size: 4, learning_rate: 0.001, weight_decay: 0 };
      const torch = await torchRun('python3', { device: 'cpu', train });
      assert.deepEqual(torch.outcome, { state: 'done' });
      const tfjs = await torchRun('python3', { engine: 'tfjs', device: 'cpu', train });
      assert.deepEqual(tfjs.outcome, { state: 'done' });
      const losses = async (dir: string) => (await readMetrics(dir)).map((m) => m.loss);
      const [a, b] = [await losses(torch.dir), await losses(tfjs.dir)];
      assert.equal(a.length, 3);
      a.forEach((loss, i) => assert.ok(Math.abs(loss - b[i]) < 1e-4, `step ${i + 1}: torch ${loss} vs tfjs ${b[i]}`));
    },
  );

  it('evaluates like the built-in engine (float32 on the CPU)', withTransformers, async () => {
    const root = tempDir('taia-torch-eval-');
    writeTinyModel(path.join(root, 'model'));
    writeTasks(root);
    const { job: torch, outcome } = await torchEval(root, 'python3', 'cpu');
    assert.deepEqual(outcome, { state: 'done' });
    const tfjs: EvaluateJob = {
      ...torch,
      engine: 'tfjs',
      device: 'cpu',
      backend: 'wasm',
      out: path.join(root, 'results', 'tfjs.taia-results.json'),
    };
    assert.deepEqual(
      await launchTrainer({ script: TRAINER, job: { evaluate: tfjs }, onMessage: () => undefined }).outcome,
      { state: 'done' },
    );
    const predictions = (job: EvaluateJob) =>
      readFileSync(job.out.replace('.taia-results.json', '.samples.jsonl'), 'utf-8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).prediction);
    assert.deepEqual(predictions(torch), predictions(tfjs));
  });
});
