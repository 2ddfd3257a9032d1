// Separate evaluations of one model add up in its result file (issue 18: the second overwrote the first).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { accumulateTaiaResults, resultFileFor } from '../../src/core/results/accumulate';
import { loadResults } from '../../src/core/results/load';
import { TaiaResultsFile, TaiaSampleRecord, writeTaiaResults } from '../../src/core/results/taiaFormat';
import { tempDir } from '../helpers/tmp';

const root = tempDir('taia-accumulate-');

const evaluation = (task: string, acc: number, modelPath = '/ckpt/a'): TaiaResultsFile => ({
  format: 'taia-results',
  version: 1,
  model: { name: 'ft', path: modelPath },
  created: new Date().toISOString(),
  tasks: {
    [task]: { n: 4, metrics: { exact_match: { value: acc, stderr: 0.1, higher_is_better: true, scale: 'fraction' } } },
  },
});
const records = (task: string, right: number): TaiaSampleRecord[] =>
  Array.from({ length: 4 }, (_, i) => ({
    task,
    id: `q${i}`,
    prompt: `question ${i}`,
    metrics: { exact_match: i < right ? 1 : 0 },
    prediction: 'p',
    target: 't',
  }));

/** What the evaluator does: add to the file, then write it. */
async function evaluate(file: string, task: string, right: number, modelPath?: string) {
  const all = await accumulateTaiaResults(file, evaluation(task, right / 4, modelPath), records(task, right));
  await writeTaiaResults(file, all.results, all.samples);
  return all;
}

test('a second evaluation on another task keeps the first, with its per-example records', async () => {
  const file = path.join(root, 'ft.taia-results.json');
  assert.deepEqual((await evaluate(file, 'capitals', 1)).kept, []);
  const second = await evaluate(file, 'sums', 3);
  assert.deepEqual(second.kept, ['capitals']);
  const [r] = await loadResults(file, { samples: true });
  assert.deepEqual([...r.tasks.keys()].sort(), ['capitals', 'sums']);
  assert.equal(r.tasks.get('capitals')!.metrics.get('exact_match')!.value, 0.25);
  assert.equal(r.tasks.get('sums')!.metrics.get('exact_match')!.value, 0.75);
  assert.equal(r.tasks.get('capitals')!.samples!.get('exact_match')!.size, 4);
  assert.equal(r.tasks.get('sums')!.samples!.get('exact_match')!.get('q2'), 1);
  // A task evaluated again replaces its scores and records; the other stays.
  const third = await evaluate(file, 'capitals', 4);
  assert.deepEqual([third.kept, third.replaced], [['sums'], ['capitals']]);
  const [again] = await loadResults(file, { samples: true });
  assert.equal(again.tasks.get('capitals')!.metrics.get('exact_match')!.value, 1);
  assert.equal(again.tasks.get('sums')!.metrics.get('exact_match')!.value, 0.75);
  const lines = readFileSync(file.replace('.taia-results.json', '.samples.jsonl'), 'utf-8').trim().split('\n');
  assert.equal(lines.length, 8, 'no stale records of the replaced task');
});

test('a file of another checkpoint is refused, and resultFileFor picks a name of its own', async () => {
  const file = path.join(root, 'other', 'ft.taia-results.json');
  await evaluate(file, 'capitals', 1, '/run1/checkpoint-100');
  await assert.rejects(
    accumulateTaiaResults(file, evaluation('sums', 1, '/run2/checkpoint-100'), []),
    /holds the results of ft \(\/run1\/checkpoint-100\), not of ft \(\/run2\/checkpoint-100\)/,
  );
  assert.deepEqual(await resultFileFor(path.dirname(file), 'ft', '/run1/checkpoint-100'), { file, name: 'ft' });
  assert.deepEqual(await resultFileFor(path.dirname(file), 'ft', '/run2/checkpoint-100'), {
    file: path.join(path.dirname(file), 'ft-2.taia-results.json'),
    name: 'ft-2',
  });
});

test('an unreadable earlier file stops the write with its name, and a samples name may not leave the folder', async () => {
  const bad = path.join(root, 'bad.taia-results.json');
  writeFileSync(bad, '{"format": "taia-results"');
  await assert.rejects(accumulateTaiaResults(bad, evaluation('sums', 1), []), (e: Error) => e.message.startsWith(bad));
  const escape = path.join(root, 'escape', 'ft.taia-results.json');
  await evaluate(escape, 'capitals', 1);
  const json = JSON.parse(readFileSync(escape, 'utf-8'));
  json.tasks.capitals.samples = '../ft.samples.jsonl';
  writeFileSync(escape, JSON.stringify(json));
  await assert.rejects(
    accumulateTaiaResults(escape, evaluation('sums', 1), []),
    /samples must be the name of a file beside the result file/,
  );
});
