// The built-in evaluator: scoring rules, task files, and a real evaluation in the trainer child process
// of a tiny model that was trained (in the test) to know the answers.
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { exactMatch, extractAnswer, normalizeAnswer } from '../../src/core/eval/scoring';
import { readTaskFile } from '../../src/core/eval/tasks';
import { loadExperiment } from '../../src/core/experiment/load';
import { executeMerge } from '../../src/core/merge/execute';
import { planMerge } from '../../src/core/merge/plan';
import { builtinRecipe } from '../../src/core/merge/recipes';
import { createRun } from '../../src/core/runs/store';
import { launchTrainer } from '../../src/trainer/client';
import { EvaluateJob } from '../../src/trainer/protocol';
import { tempDir } from '../helpers/tmp';
import { writeExperiment, writeTinyModel } from '../helpers/training';

const TRAINER = path.resolve(__dirname, '../../../dist/trainer.js');
const QA = [
  ['capital of France', 'Paris'],
  ['2 plus 2', '4'],
  ['color of grass', 'green'],
  ['opposite of hot', 'cold'],
];

describe('answer scoring', () => {
  it('extracts the stated answer, else the last number for numeric answers, else the first line', () => {
    assert.equal(extractAnswer('Let me think. The answer is: 42.\nmore', true), '42.');
    assert.equal(extractAnswer('3 apples and 4 pears make 7', true), '7');
    assert.equal(extractAnswer('\n  Paris\nbecause', false), 'Paris');
  });
  it('normalises case, punctuation, articles and number formats', () => {
    assert.equal(normalizeAnswer(' The Eiffel Tower. '), 'eiffel tower');
    assert.equal(normalizeAnswer('1,000.0'), '1000');
    assert.equal(exactMatch('The answer is 1,000.', ['1000']).correct, true);
    assert.equal(exactMatch('green!', ['Green', 'lime']).correct, true);
    assert.equal(exactMatch('blue', ['green']).correct, false);
  });
});

describe('task files', () => {
  it('reads generation and multiple-choice tasks and names bad lines', async () => {
    const dir = tempDir();
    const mc = path.join(dir, 'mc.jsonl');
    writeFileSync(
      mc,
      [
        '{"prompt":"a?","choices":["x","y"],"answer":"B"}',
        '{"prompt":"b?","choices":["x","y"],"answer":0}',
        '{"prompt":"c?","choices":["x","y"],"answer":"y"}',
      ].join('\n'),
    );
    const task = await readTaskFile(mc);
    assert.equal(task.name, 'mc');
    assert.equal(task.kind, 'multiple_choice');
    assert.deepEqual(
      task.examples.map((e) => e.correct),
      [1, 0, 1],
    );
    const bad = path.join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"prompt":"a","answer":"1"}\n{"prompt":"b","choices":["x"],"answer":3}\n');
    await assert.rejects(
      readTaskFile(bad),
      /bad\.jsonl: line 2: "answer" 3 is not an index, letter or text of one of the 1 choices/,
    );
    writeFileSync(bad, '{"prompt":"a","answer":"1"}\n{"question":"b"}\n');
    await assert.rejects(readTaskFile(bad), /line 2: needs "prompt"/);
  });
  it('reads "template": false as a raw prompt and refuses it without a prompt string', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'raw.jsonl');
    writeFileSync(file, '{"prompt":"Q: a?\\nA:","answer":"1","template":false}\n{"prompt":"b?","answer":"2"}\n');
    const task = await readTaskFile(file);
    assert.deepEqual(
      task.examples.map((e) => [e.template, e.prompt]),
      [
        [false, 'Q: a?\nA:'],
        [true, 'b?'],
      ],
    );
    writeFileSync(file, '{"messages":[{"role":"user","content":"a"}],"answer":"1","template":false}\n');
    await assert.rejects(readTaskFile(file), /raw\.jsonl: line 1: "template": false needs "prompt"/);
    writeFileSync(file, '{"prompt":"a","answer":"1","template":"no"}\n');
    await assert.rejects(readTaskFile(file), /line 1: "template" must be true or false, got "no"/);
  });
});

describe('built-in evaluator (child process)', () => {
  /** A tiny model trained until it knows the four answers; returns the workspace and the checkpoint. */
  async function trained(method: 'full' | 'lora'): Promise<{ root: string; checkpoint: string }> {
    const root = tempDir('taia-eval-');
    writeTinyModel(path.join(root, 'model'));
    const rows = Array.from({ length: 40 }, (_, i) =>
      JSON.stringify({ instruction: QA[i % 4][0], output: QA[i % 4][1] }),
    );
    writeFileSync(path.join(root, 'train.jsonl'), rows.join('\n') + '\n');
    writeExperiment(path.join(root, 'exp.taia.yaml'), {
      dataset: 'train.jsonl',
      train: { method, max_steps: 60, max_seq_length: 96, learning_rate: method === 'full' ? 0.01 : 0.03 },
      lora: { r: 8, lora_alpha: 16 },
    });
    const { dir } = await createRun(root, await loadExperiment(path.join(root, 'exp.taia.yaml')));
    assert.deepEqual(
      await launchTrainer({ script: TRAINER, job: { runDir: dir, resume: false }, onMessage: () => undefined }).outcome,
      { state: 'done' },
    );
    writeFileSync(
      path.join(root, 'gen.jsonl'),
      QA.map(([q, a], i) => JSON.stringify({ id: `g${i}`, prompt: q, answer: a })).join('\n') + '\n',
    );
    writeFileSync(
      path.join(root, 'mc.jsonl'),
      QA.map(([q, a], i) => JSON.stringify({ id: `m${i}`, prompt: q, choices: ['blue', a, 'seven'], answer: 1 })).join(
        '\n',
      ) + '\n',
    );
    return { root, checkpoint: path.join(dir, 'checkpoints', 'checkpoint-60') };
  }

  async function evaluate(
    root: string,
    checkpoint: string,
    name: string,
  ): Promise<{ results: Record<string, any>; samples: Record<string, any>[] }> {
    const job: EvaluateJob = {
      checkpoint,
      tasks: [path.join(root, 'gen.jsonl'), path.join(root, 'mc.jsonl')],
      out: path.join(root, 'results', `${name}.taia-results.json`),
      name,
      maxNewTokens: 16,
      limit: 0,
      engine: 'tfjs',
      device: 'cpu',
      backend: 'wasm',
    };
    const progress: number[] = [];
    const outcome = await launchTrainer({
      script: TRAINER,
      job: { evaluate: job },
      onMessage: (m) => m.type === 'evalProgress' && progress.push(m.done),
    }).outcome;
    assert.deepEqual(outcome, { state: 'done' });
    assert.deepEqual(progress, [1, 2, 3, 4, 5, 6, 7, 8]);
    const results = JSON.parse(readFileSync(job.out, 'utf-8'));
    const samples = readFileSync(path.join(root, 'results', `${name}.samples.jsonl`), 'utf-8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    return { results, samples };
  }

  it('scores a model that knows the answers at 100%, greedy generation and log-likelihood alike', async () => {
    const { root, checkpoint } = await trained('full');
    const { results, samples } = await evaluate(root, checkpoint, 'tiny-ft');
    assert.equal(results.format, 'taia-results');
    assert.equal(results.model.name, 'tiny-ft');
    assert.deepEqual(results.tasks.gen.metrics.exact_match, {
      value: 1,
      stderr: 0,
      higher_is_better: true,
      scale: 'fraction',
    });
    assert.equal(results.tasks.mc.metrics.acc.value, 1);
    assert.equal(results.tasks.gen.n, 4);
    assert.deepEqual(
      samples.filter((s) => s.task === 'gen').map((s) => s.prediction),
      QA.map(([, a]) => a),
    );
    // The untrained base does not know them: the scores come from the weights, not the scorer.
    const base = await evaluate(root, path.join(root, 'model'), 'tiny-base');
    assert.equal(base.results.tasks.gen.metrics.exact_match.value, 0);
  });

  it('scores raw prompts ("template": false, or noTemplate for every row) as the model saw raw text, not in the chat template', async () => {
    const root = tempDir('taia-eval-raw-');
    writeTinyModel(path.join(root, 'model'));
    // Pretraining-style raw text only: the model never sees the chat template.
    writeFileSync(
      path.join(root, 'text.jsonl'),
      Array.from({ length: 40 }, (_, i) => JSON.stringify({ text: `Q: ${QA[i % 4][0]}\nA: ${QA[i % 4][1]}` })).join(
        '\n',
      ) + '\n',
    );
    writeExperiment(path.join(root, 'exp.taia.yaml'), {
      dataset: 'text.jsonl',
      train: { method: 'full', max_steps: 60, max_seq_length: 96, learning_rate: 0.01 },
    });
    const { dir } = await createRun(root, await loadExperiment(path.join(root, 'exp.taia.yaml')));
    assert.deepEqual(
      await launchTrainer({ script: TRAINER, job: { runDir: dir, resume: false }, onMessage: () => undefined }).outcome,
      { state: 'done' },
    );
    const rows = (template?: false) =>
      QA.map(([q, a], i) =>
        JSON.stringify({ id: `r${i}`, prompt: `Q: ${q}\nA:`, answer: a, ...(template === false ? { template } : {}) }),
      ).join('\n') + '\n';
    writeFileSync(path.join(root, 'raw.jsonl'), rows(false));
    writeFileSync(path.join(root, 'chat.jsonl'), rows());
    const score = async (task: string, noTemplate: boolean) => {
      const job: EvaluateJob = {
        checkpoint: path.join(dir, 'checkpoints', 'checkpoint-60'),
        tasks: [path.join(root, task)],
        out: path.join(root, `${task}-${noTemplate}.taia-results.json`),
        name: task,
        maxNewTokens: 16,
        limit: 0,
        engine: 'tfjs',
        device: 'cpu',
        backend: 'wasm',
        ...(noTemplate ? { noTemplate } : {}),
      };
      assert.deepEqual(
        await launchTrainer({ script: TRAINER, job: { evaluate: job }, onMessage: () => undefined }).outcome,
        { state: 'done' },
      );
      return JSON.parse(readFileSync(job.out, 'utf-8')).tasks[task.replace('.jsonl', '')].metrics.exact_match
        .value as number;
    };
    assert.equal(await score('raw.jsonl', false), 1);
    assert.equal(await score('chat.jsonl', true), 1);
    assert.ok(
      (await score('chat.jsonl', false)) < 1,
      'wrapped in the chat template the raw-text model does not answer',
    );
  });

  it('evaluates a LoRA adapter folded into its base exactly as its merged model', async () => {
    const { root, checkpoint } = await trained('lora');
    const adapter = await evaluate(root, checkpoint, 'tiny-lora');
    await executeMerge(
      await planMerge({
        base: path.join(root, 'model'),
        finetuned: checkpoint,
        out: path.join(root, 'merged'),
        recipe: builtinRecipe('full')!,
      }),
    );
    const merged = await evaluate(root, path.join(root, 'merged'), 'tiny-merged');
    assert.deepEqual(
      adapter.samples.map((s) => s.prediction),
      merged.samples.map((s) => s.prediction),
    );
    const metrics = (r: Record<string, any>) =>
      Object.fromEntries(Object.entries(r.tasks).map(([t, v]) => [t, (v as { metrics: unknown }).metrics]));
    assert.deepEqual(metrics(adapter.results), metrics(merged.results));
  });
});
