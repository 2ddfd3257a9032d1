import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, createWriteStream } from 'node:fs';
import * as path from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import { detectDataset } from '../../src/core/datasets/detect';
import { readDatasetRows } from '../../src/core/datasets/rows';
import { DatasetError } from '../../src/core/datasets/files';
import { tempDir } from '../helpers/tmp';

const dir = tempDir();
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};
const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

test('Alpaca JSONL: format, row count, columns and normalised conversation', async () => {
  const p = file('alpaca.jsonl', jsonl([{ instruction: 'Translate', input: 'chat', output: 'cat' }, { instruction: 'Say hi', input: '', output: 'hi' }, { instruction: 'x', output: 'y' }]));
  const s = await detectDataset(p);
  assert.deepEqual([s.container, s.format, s.rows, s.problems.length], ['jsonl', 'alpaca', 3, 0]);
  assert.deepEqual(s.columns, ['instruction', 'input', 'output']);
  const rows = await readDatasetRows(p, { limit: 2 });
  assert.deepEqual(rows[0].messages, [{ role: 'user', content: 'Translate\n\nchat' }, { role: 'assistant', content: 'cat' }]);
  assert.deepEqual(rows[1].messages, [{ role: 'user', content: 'Say hi' }, { role: 'assistant', content: 'hi' }]);
  assert.deepEqual((await readDatasetRows(p, { offset: 2, limit: 5 })).map((r) => r.messages[1].content), ['y']);
});

test('ShareGPT JSON array and chat-messages JSON Lines in a .json file', async () => {
  const share = file('share.json', JSON.stringify([{ conversations: [{ from: 'system', value: 'be brief' }, { from: 'human', value: 'hi' }, { from: 'gpt', value: 'hello' }] }]));
  const s = await detectDataset(share);
  assert.deepEqual([s.container, s.format, s.rows], ['json', 'sharegpt', 1]);
  assert.deepEqual((await readDatasetRows(share, { limit: 1 }))[0].messages.map((t) => t.role), ['system', 'user', 'assistant']);
  const msgs = file('msgs.json', jsonl([{ messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] }, { messages: [{ role: 'user', content: 'c' }, { role: 'assistant', content: 'd' }] }]));
  const m = await detectDataset(msgs);
  assert.deepEqual([m.container, m.format, m.rows], ['jsonl', 'messages', 2]);
});

test('a corrupt line is reported with its line number, and reading it is an error', async () => {
  const p = file('corrupt.jsonl', `${JSON.stringify({ prompt: 'a', completion: 'b' })}\n\n{"prompt": "broken\n${JSON.stringify({ prompt: 'c', completion: 'd' })}\n`);
  const s = await detectDataset(p);
  assert.equal(s.format, 'prompt-completion');
  assert.equal(s.rows, 3);
  assert.equal(s.problems.length, 1);
  assert.equal(s.problems[0].line, 3);
  await assert.rejects(readDatasetRows(p, { limit: 10 }), (e: unknown) => e instanceof DatasetError && e.line === 3 && e.message.startsWith(`${p}:3: invalid JSON`));
});

test('files that are not datasets: a config, an empty file, short notes', async () => {
  assert.equal((await detectDataset(file('config.json', JSON.stringify({ model_type: 'llama', hidden_size: 8 })))).format, 'unknown');
  const empty = await detectDataset(file('empty.jsonl', ''));
  assert.deepEqual([empty.format, empty.rows], ['unknown', 0]);
  assert.equal((await detectDataset(file('notes.txt', 'todo\nmore\n'))).format, 'unknown');
  const corpus = file('corpus.txt', Array.from({ length: 30 }, (_, i) => `sentence ${i}`).join('\n'));
  assert.deepEqual([(await detectDataset(corpus)).format, (await detectDataset(corpus)).rows], ['text', 30]);
  assert.deepEqual((await readDatasetRows(corpus, { offset: 29, limit: 1 }))[0].messages, [{ role: 'text', content: 'sentence 29' }]);
});

test('Parquet: rows from the footer, columns, and rows normalised', async () => {
  const p = path.join(dir, 'train.parquet');
  await parquetWriteFile({
    filename: p,
    columnData: [
      { name: 'instruction', data: ['q1', 'q2', 'q3'], type: 'STRING' },
      { name: 'input', data: ['', 'ctx', ''], type: 'STRING' },
      { name: 'output', data: ['a1', 'a2', 'a3'], type: 'STRING' },
    ],
  });
  const s = await detectDataset(p);
  assert.deepEqual([s.container, s.format, s.rows], ['parquet', 'alpaca', 3]);
  assert.deepEqual(s.columns, ['instruction', 'input', 'output']);
  const rows = await readDatasetRows(p, { offset: 1, limit: 1 });
  assert.deepEqual(rows[0].messages, [{ role: 'user', content: 'q2\n\nctx' }, { role: 'assistant', content: 'a2' }]);
});

test('a large JSONL is counted by streaming', async () => {
  const p = path.join(dir, 'big.jsonl');
  const out = createWriteStream(p);
  const line = JSON.stringify({ instruction: 'add', input: '1 2', output: '3' }) + '\n';
  for (let i = 0; i < 200_000; i++) if (!out.write(line)) await new Promise<void>((r) => out.once('drain', () => r()));
  await new Promise<void>((r) => out.end(() => r()));
  const s = await detectDataset(p);
  assert.deepEqual([s.format, s.rows], ['alpaca', 200_000]);
});
