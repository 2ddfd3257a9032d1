// readAppended follows metrics.jsonl while the trainer appends to it (lines written by the store's
// own appendMetric, as the trainer writes them).
import { strict as assert } from 'node:assert';
import { appendFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { it } from 'node:test';
import { readAppended } from '../../src/core/runs/metrics';
import { appendMetric } from '../../src/core/runs/store';
import { METRICS_FILE } from '../../src/core/runs/types';
import { tempDir } from '../helpers/tmp';

const record = (step: number) => ({ step, loss: 2 / step, lr: 1e-4, elapsed: step * 0.5 });

it('returns complete lines only, and leaves a partial last line for the next read', async () => {
  const dir = tempDir('taia-metrics-');
  const file = path.join(dir, METRICS_FILE);
  assert.deepEqual(await readAppended(file, 0), { records: [], offset: 0 }, 'no file yet: nothing, from the start');
  await appendMetric(dir, record(1));
  await appendMetric(dir, record(2));
  const first = await readAppended(file, 0);
  assert.deepEqual(first?.records, [record(1), record(2)]);
  const line3 = JSON.stringify(record(3)) + '\n';
  appendFileSync(file, line3.slice(0, 10));
  const partial = await readAppended(file, first!.offset);
  assert.deepEqual(partial, { records: [], offset: first!.offset }, 'a line being written is not read yet');
  appendFileSync(file, line3.slice(10));
  await appendMetric(dir, record(4));
  const rest = await readAppended(file, partial!.offset);
  assert.deepEqual(rest?.records, [record(3), record(4)]);
  assert.equal(await readAppended(file, rest!.offset).then((r) => r?.records.length), 0, 'nothing new: nothing read');
});

it('returns undefined for a file rewritten shorter than the offset, or removed after a read', async () => {
  const dir = tempDir('taia-metrics-');
  const file = path.join(dir, METRICS_FILE);
  for (let s = 1; s <= 3; s++) await appendMetric(dir, record(s));
  const read = await readAppended(file, 0);
  writeFileSync(file, JSON.stringify(record(1)) + '\n');
  assert.equal(await readAppended(file, read!.offset), undefined);
  assert.deepEqual((await readAppended(file, 0))?.records, [record(1)], 'read again from the start');
  assert.equal(await readAppended(path.join(dir, 'gone.jsonl'), read!.offset), undefined);
});

it('skips a corrupt line and keeps the points around it', async () => {
  const dir = tempDir('taia-metrics-');
  const file = path.join(dir, METRICS_FILE);
  await appendMetric(dir, record(1));
  appendFileSync(file, '{"step": 2, "loss": 0.\n');
  await appendMetric(dir, record(3));
  assert.deepEqual((await readAppended(file, 0))?.records, [record(1), record(3)]);
});
