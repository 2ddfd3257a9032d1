import { strict as assert } from 'node:assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ExperimentError, loadExperiment, locate } from '../../src/core/experiment/load';
import { parseExperiment } from '../../src/core/experiment/validate';
import { EXPERIMENT_SCHEMA } from '../../src/core/experiment/schema';
import { parseParentMessage, parseTrainerMessage, PROTOCOL_VERSION } from '../../src/trainer/protocol';
import { learningRate } from '../../src/trainer/schedule';
import { DataOrder, tokenizeConversation } from '../../src/trainer/data/examples';
import { ChatTokenizer } from '../../src/trainer/data/tokenizer';
import { tempDir } from '../helpers/tmp';
import { writeTinyModel } from '../helpers/training';

describe('experiment files', () => {
  it('fills defaults from the schema and keeps valid values', () => {
    const { config, problems } = parseExperiment(
      'base: m\ndataset: d.jsonl\ntrain:\n  learning_rate: 0.001\nlora:\n  r: 8\n',
      '/w/alpaca.taia.yaml',
    );
    assert.deepEqual(problems, []);
    assert.equal(config.name, 'alpaca');
    assert.equal(config.train.learning_rate, 0.001);
    assert.equal(config.train.batch_size, EXPERIMENT_SCHEMA.train.fields.batch_size.default);
    assert.equal(config.lora.r, 8);
    assert.deepEqual(config.lora.target_modules, [
      'q_proj',
      'k_proj',
      'v_proj',
      'o_proj',
      'gate_proj',
      'up_proj',
      'down_proj',
    ]);
  });

  it('reports unknown keys with a suggestion, wrong types and out-of-range values, each at its line', () => {
    const text =
      'base: m\ndataset: d.jsonl\ntrain:\n  learning_rat: 0.1\n  batch_size: many\n  warmup_ratio: 2\nengine: tfsj\n';
    const { problems } = parseExperiment(text, 'x.taia.yaml');
    const byPath = new Map(problems.map((p) => [p.path.join('.'), p]));
    assert.match(byPath.get('train.learning_rat')!.message, /did you mean 'learning_rate'/);
    assert.equal(byPath.get('train.learning_rat')!.suggestion, 'learning_rate');
    assert.match(byPath.get('train.batch_size')!.message, /expected an integer, got "many"/);
    assert.match(byPath.get('train.warmup_ratio')!.message, /at most 1, got 2/);
    assert.match(byPath.get('engine')!.message, /did you mean 'tfjs'/);
    assert.deepEqual(locate(text, byPath.get('train.batch_size')!), { line: 5, column: 3 });
    assert.deepEqual(locate(text, byPath.get('engine')!), { line: 7, column: 1 });
  });

  it('reports YAML syntax errors and missing required keys', () => {
    assert.ok(parseExperiment('base: [unclosed\n', 'x').problems.some((p) => p.range && p.severity === 'error'));
    const { problems } = parseExperiment('train: {}\n', 'x');
    assert.deepEqual(problems.map((p) => p.message).sort(), [
      "'base': is required with engine tfjs",
      "'dataset': is required with engine tfjs",
    ]);
  });

  it('is documented key by key in the README (the schema is the one source)', () => {
    const readme = readFileSync(path.resolve(__dirname, '../../../README.md'), 'utf-8');
    for (const [key, spec] of Object.entries(EXPERIMENT_SCHEMA)) {
      const keys = spec.type === 'section' ? Object.keys(spec.fields).map((k) => `${key}.${k}`) : [key];
      for (const k of keys) assert.ok(readme.includes(`| \`${k}\` |`), `README lacks ${k}`);
    }
  });

  it('loads with paths resolved and refuses a base that is not a model or a missing dataset', async () => {
    const root = tempDir();
    writeTinyModel(path.join(root, 'model'));
    mkdirSync(path.join(root, 'exp'));
    writeFileSync(path.join(root, 'exp', 'a.taia.yaml'), 'base: ../model\ndataset: ../nowhere.jsonl\n');
    await assert.rejects(loadExperiment(path.join(root, 'exp', 'a.taia.yaml')), (e: ExperimentError) =>
      /a\.taia\.yaml:2:1: 'dataset': .*nowhere\.jsonl does not exist/.test(e.message),
    );
    writeFileSync(path.join(root, 'd.jsonl'), '{"text": "x"}\n');
    writeFileSync(path.join(root, 'exp', 'b.taia.yaml'), 'base: ..\ndataset: ../d.jsonl\n');
    await assert.rejects(loadExperiment(path.join(root, 'exp', 'b.taia.yaml')), /'base': .* is not a model folder/);
    writeFileSync(path.join(root, 'exp', 'c.taia.yaml'), 'base: ../model\ndataset: ../d.jsonl\n');
    const config = await loadExperiment(path.join(root, 'exp', 'c.taia.yaml'));
    assert.equal(config.base, path.join(root, 'model'));
    assert.equal(config.dataset, path.join(root, 'd.jsonl'));
  });
});

describe('trainer protocol', () => {
  it('accepts well-formed messages and names what is wrong otherwise', () => {
    assert.equal(
      parseTrainerMessage({ v: PROTOCOL_VERSION, type: 'checkpoint', step: 3, path: '/x' }).type,
      'checkpoint',
    );
    assert.equal(parseParentMessage({ v: PROTOCOL_VERSION, type: 'cancel' }).type, 'cancel');
    assert.throws(
      () => parseTrainerMessage({ v: 1, type: 'hello', pid: 1, engine: 'x' }),
      new RegExp(`version 1 received, this side speaks ${PROTOCOL_VERSION}`),
    );
    assert.throws(
      () => parseTrainerMessage({ v: PROTOCOL_VERSION, type: 'progress', step: '3' }),
      /'progress' message: 'step' should be a number, got "3"/,
    );
    assert.throws(() => parseTrainerMessage({ v: PROTOCOL_VERSION, type: 'shout' }), /unknown message type "shout"/);
    assert.throws(() => parseParentMessage('start'), /expected a message object/);
    // A diverged loss is a number too: it must reach the parent, not be dropped as malformed.
    assert.equal(
      parseTrainerMessage({ v: PROTOCOL_VERSION, type: 'done', state: 'done', step: 1, finalLoss: NaN }).type,
      'done',
    );
  });
});

describe('learning-rate schedules (transformers lambdas)', () => {
  const train = (over: Record<string, unknown>) => ({
    ...parseExperiment('base: m\ndataset: d\n', 'x').config.train,
    learning_rate: 1,
    ...over,
  });
  it('warms up linearly, then decays by cosine or linearly', () => {
    const cos = train({ warmup_steps: 4, lr_scheduler_type: 'cosine' });
    assert.deepEqual(
      [0, 1, 2, 3].map((s) => learningRate(cos, s, 14)),
      [0, 0.25, 0.5, 0.75],
    );
    assert.equal(learningRate(cos, 4, 14), 1);
    assert.ok(Math.abs(learningRate(cos, 9, 14) - 0.5) < 1e-12); // halfway through the decay
    assert.ok(Math.abs(learningRate(cos, 14, 14)) < 1e-12);
    const lin = train({ warmup_ratio: 0.1, lr_scheduler_type: 'linear' });
    assert.equal(learningRate(lin, 0, 20), 0); // ceil(0.1 · 20) = 2 warm-up steps
    assert.equal(learningRate(lin, 1, 20), 0.5);
    assert.equal(learningRate(lin, 11, 20), 0.5);
  });
});

describe('training data', () => {
  it('trains only on the response tokens, and a byte tokenizer makes them exactly the answer and EOS', async () => {
    const dir = tempDir();
    writeTinyModel(dir);
    const tok = await ChatTokenizer.load(dir);
    const messages = [
      { role: 'user', content: 'add 2 and 3' },
      { role: 'assistant', content: '5' },
    ];
    const e = tokenizeConversation(tok, messages, 'responses', 1000);
    const text = tok.render(messages, false);
    assert.equal(text, '<|bos|>### Instruction:\nadd 2 and 3\n\n### Response:\n5<|eos|>');
    const trained = [...e.ids].filter((_, i) => e.train[i] === 1);
    assert.deepEqual(trained, ['5'.charCodeAt(0), tok.ids.eos]);
    assert.equal(e.ids.length, Buffer.byteLength(text) - '<|bos|><|eos|>'.length + 2);
    assert.ok(tokenizeConversation(tok, messages, 'all', 1000).train.every((t) => t === 1));
  });

  it('names the tokenizer file that tokenizers.js cannot read', async () => {
    const dir = tempDir();
    writeTinyModel(dir);
    const file = path.join(dir, 'tokenizer.json');
    const json = JSON.parse(readFileSync(file, 'utf-8'));
    delete json.decoder;
    writeFileSync(file, JSON.stringify(json));
    await assert.rejects(ChatTokenizer.load(dir), (e: Error) =>
      e.message.startsWith(`${file}: not a tokenizer that tokenizers.js reads (`),
    );
  });

  it('orders data by a seeded permutation per epoch, so any micro-batch can be rebuilt', () => {
    const examples = Array.from({ length: 10 }, (_, i) => ({
      ids: Int32Array.from([i, i, i]),
      train: Uint8Array.from([0, 1, 1]),
    }));
    const order = new DataOrder(examples, 3, 2, 5, 0);
    assert.equal(order.microBatchesPerEpoch, 3);
    const firstOf = (b: number) => new DataOrder(examples, 3, 2, 5, 0).batch(b).inputs[0];
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((b) => order.batch(b).inputs[0]),
      [0, 1, 2, 3, 4].map(firstOf),
    );
    const epoch0 = [0, 1, 2].flatMap((b) => [0, 2, 4].map((k) => order.batch(b).inputs[k]));
    assert.equal(new Set(epoch0).size, 9, 'an epoch repeats an example');
    const b = order.batch(0);
    assert.deepEqual([...b.weights], [1, 1, 1, 1, 1, 1]);
    assert.equal(b.tokens, 6);
  });
});
