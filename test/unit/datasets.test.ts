import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import { CancelledError } from '../../src/core/errors';
import { detectDataset } from '../../src/core/datasets/detect';
import { DatasetError } from '../../src/core/datasets/error';
import { readDatasetRows } from '../../src/core/datasets/rows';
import { tempDir } from '../helpers/tmp';

const dir = tempDir();
const file = (name: string, text: string): string => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};
const jsonl = (rows: unknown[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const isDatasetError = (p: string, line: number | undefined, text: string) => (e: unknown) =>
  e instanceof DatasetError &&
  e.where.line === line &&
  e.message.startsWith(`${p}: ${line === undefined ? '' : `line ${line}: `}${text}`);

test('Alpaca JSONL: format, rows, columns and conversations, with offset and limit', async () => {
  const p = file(
    'alpaca.jsonl',
    jsonl([
      { instruction: 'Translate', input: 'chat', output: 'cat' },
      { instruction: 'Say hi', input: '  ', output: 'hi', system: 'Be kind.' },
      { instruction: 'Go on', output: 'fine', history: [['first', 'reply']] },
    ]),
  );
  assert.deepEqual(await detectDataset(p), {
    file: p,
    container: 'jsonl',
    format: 'alpaca',
    rows: 3,
    columns: ['instruction', 'input', 'output', 'system', 'history'],
    problems: [],
  });
  const rows = await readDatasetRows(p, { limit: 10 });
  assert.deepEqual(
    rows.map((r) => r.messages),
    [
      [
        { role: 'user', content: 'Translate\n\nchat' },
        { role: 'assistant', content: 'cat' },
      ],
      [
        { role: 'system', content: 'Be kind.' },
        { role: 'user', content: 'Say hi' },
        { role: 'assistant', content: 'hi' },
      ],
      [
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'reply' },
        { role: 'user', content: 'Go on' },
        { role: 'assistant', content: 'fine' },
      ],
    ],
  );
  assert.deepEqual(rows[0].raw, { instruction: 'Translate', input: 'chat', output: 'cat' });
  assert.deepEqual(
    (await readDatasetRows(p, { offset: 1, limit: 1 })).map((r) => r.messages.at(-1)?.content),
    ['hi'],
  );
  assert.deepEqual(await readDatasetRows(p, { offset: 3, limit: 5 }), []);
});

test('ShareGPT JSON array: speakers become chat roles, a system field leads', async () => {
  const p = file(
    'share.json',
    JSON.stringify(
      [
        {
          conversations: [
            { from: 'system', value: 'be brief' },
            { from: 'human', value: 'hi' },
            { from: 'gpt', value: 'hello' },
          ],
        },
        {
          system: 'You are a calculator.',
          conversations: [
            { from: 'human', value: '1+1' },
            { from: 'function_call', value: '{"name":"add"}' },
            { from: 'observation', value: '2' },
            { from: 'gpt', value: '2' },
          ],
        },
      ],
      null,
      2,
    ),
  );
  assert.deepEqual(await detectDataset(p), {
    file: p,
    container: 'json',
    format: 'sharegpt',
    rows: 2,
    columns: ['conversations', 'system'],
    problems: [],
  });
  const rows = await readDatasetRows(p, { limit: 2 });
  assert.deepEqual(rows[0].messages, [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'hi' },
    { role: 'assistant', content: 'hello' },
  ]);
  assert.deepEqual(
    rows[1].messages.map((t) => t.role),
    ['system', 'user', 'function_call', 'tool', 'assistant'],
  );
});

test('chat messages JSONL: roles kept, text parts joined, a tool-calling turn with null content', async () => {
  const p = file(
    'chat.jsonl',
    jsonl([
      {
        messages: [
          { role: 'user', content: 'a' },
          { role: 'assistant', content: 'b' },
        ],
      },
      {
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'look ' },
              { type: 'text', text: 'here' },
            ],
          },
          { role: 'assistant', content: null, tool_calls: [] },
          { role: 'tool', content: '42' },
        ],
      },
    ]),
  );
  const s = await detectDataset(p);
  assert.deepEqual([s.container, s.format, s.rows, s.columns, s.problems], ['jsonl', 'messages', 2, ['messages'], []]);
  assert.deepEqual((await readDatasetRows(p, { offset: 1, limit: 1 }))[0].messages, [
    { role: 'user', content: 'look here' },
    { role: 'assistant', content: '' },
    { role: 'tool', content: '42' },
  ]);
});

test('prompt/completion, as strings or as turn lists', async () => {
  const p = file(
    'pc.jsonl',
    jsonl([
      { prompt: 'The sky is', completion: ' blue.' },
      { prompt: [{ role: 'user', content: 'Sky?' }], completion: [{ role: 'assistant', content: 'Blue.' }] },
    ]),
  );
  assert.equal((await detectDataset(p)).format, 'prompt-completion');
  assert.deepEqual(
    (await readDatasetRows(p, { limit: 2 })).map((r) => r.messages),
    [
      [
        { role: 'user', content: 'The sky is' },
        { role: 'assistant', content: ' blue.' },
      ],
      [
        { role: 'user', content: 'Sky?' },
        { role: 'assistant', content: 'Blue.' },
      ],
    ],
  );
});

test('a .json file is parsed as JSON Lines or as a document by its content', async () => {
  // First lines longer than any fixed-size head: the whole line decides.
  const long = 'x'.repeat(10_000);
  const lines = file('lines.json', jsonl([{ text: long }, { text: 'short' }]));
  const l = await detectDataset(lines);
  assert.deepEqual([l.container, l.format, l.rows], ['jsonl', 'text', 2]);
  assert.equal((await readDatasetRows(lines, { limit: 1 }))[0].messages[0].content, long);
  const wrapped = file(
    'wrapped.json',
    JSON.stringify({
      version: '1',
      train: [
        { prompt: 'p', completion: 'c' },
        { prompt: 'q', completion: 'd' },
      ],
    }),
  );
  const w = await detectDataset(wrapped);
  assert.deepEqual([w.container, w.format, w.rows], ['json', 'prompt-completion', 2]);
  const single = file('single.json', JSON.stringify({ instruction: 'i', output: 'o' }));
  assert.deepEqual([(await detectDataset(single)).container, (await detectDataset(single)).rows], ['json', 1]);
});

test('plain text: one row per non-blank line; CRLF and a BOM are not content; short notes are not a corpus', async () => {
  const p = file(
    'corpus.txt',
    '\uFEFF' + Array.from({ length: 30 }, (_, i) => `sentence ${i}`).join('\r\n\r\n') + '\r\n',
  );
  assert.deepEqual(await detectDataset(p), { file: p, container: 'text', format: 'text', rows: 30, problems: [] });
  assert.deepEqual(await readDatasetRows(p, { offset: 0, limit: 1 }), [
    { messages: [{ role: 'text', content: 'sentence 0' }], raw: 'sentence 0' },
  ]);
  assert.deepEqual(
    (await readDatasetRows(p, { offset: 28, limit: 5 })).map((r) => r.raw),
    ['sentence 28', 'sentence 29'],
  );
  const notes = await detectDataset(file('notes.txt', 'todo\nmore\n'));
  assert.deepEqual([notes.format, notes.rows], ['unknown', 2]);
});

test('Parquet with flat Alpaca columns: row count from the footer, columns, rows normalised', async () => {
  const p = path.join(dir, 'alpaca.parquet');
  await parquetWriteFile({
    filename: p,
    columnData: [
      { name: 'instruction', data: ['q1', 'q2', 'q3'], type: 'STRING' },
      { name: 'input', data: ['', 'ctx', null], type: 'STRING' },
      { name: 'output', data: ['a1', 'a2', 'a3'], type: 'STRING' },
    ],
  });
  assert.deepEqual(await detectDataset(p), {
    file: p,
    container: 'parquet',
    format: 'alpaca',
    rows: 3,
    columns: ['instruction', 'input', 'output'],
    problems: [],
  });
  const rows = await readDatasetRows(p, { offset: 1, limit: 5 });
  assert.deepEqual(
    rows.map((r) => r.messages),
    [
      [
        { role: 'user', content: 'q2\n\nctx' },
        { role: 'assistant', content: 'a2' },
      ],
      [
        { role: 'user', content: 'q3' },
        { role: 'assistant', content: 'a3' },
      ],
    ],
  );
});

test('Parquet with a nested messages column (list of structs) and an int64 id', async () => {
  const p = path.join(dir, 'chat.parquet');
  const messages = [
    [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
    ],
    [
      { role: 'system', content: 's' },
      { role: 'user', content: 'q' },
      { role: 'assistant', content: 'a' },
    ],
  ];
  await parquetWriteFile({
    filename: p,
    columnData: [
      { name: 'id', data: [7n, 8n] },
      { name: 'messages', data: messages },
    ],
    schema: [
      { name: 'root', num_children: 2 },
      { name: 'id', type: 'INT64', repetition_type: 'REQUIRED' },
      { name: 'messages', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', repetition_type: 'OPTIONAL', num_children: 2 },
      { name: 'role', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      { name: 'content', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    ],
  });
  assert.deepEqual(await detectDataset(p), {
    file: p,
    container: 'parquet',
    format: 'messages',
    rows: 2,
    columns: ['id', 'messages'],
    problems: [],
  });
  const rows = await readDatasetRows(p, { limit: 2 });
  assert.deepEqual(
    rows.map((r) => r.messages),
    messages,
  );
  assert.deepEqual(rows[1].raw, { id: 8, messages: messages[1] }, 'raw records are plain JSON values');
});

test('a corrupt line 3 is a problem in the summary and an error when read', async () => {
  const p = file(
    'corrupt.jsonl',
    `${JSON.stringify({ instruction: 'a', output: 'b' })}\n\n{"instruction": "broken\n${JSON.stringify({ instruction: 'c', output: 'd' })}\n`,
  );
  const s = await detectDataset(p);
  assert.deepEqual([s.format, s.rows, s.problems.length, s.problems[0].line], ['alpaca', 3, 1, 3]);
  assert.match(s.problems[0].message, /^invalid JSON/);
  await assert.rejects(readDatasetRows(p, { limit: 10 }), isDatasetError(p, 3, 'invalid JSON'));
  assert.equal(
    (await readDatasetRows(p, { limit: 1 })).length,
    1,
    'rows before the corrupt line read, nothing after them parsed',
  );
});

test('a row of another format is a problem, and an error when read', async () => {
  const p = file(
    'mixed.jsonl',
    jsonl([
      { instruction: 'a', output: 'b' },
      { instruction: 'c', output: 'd' },
      { question: 'e' },
      { prompt: 'f', completion: 'g' },
    ]),
  );
  assert.deepEqual((await detectDataset(p)).problems, [
    { line: 3, message: 'no known format (an object with fields question) among alpaca rows' },
    { line: 4, message: 'a prompt-completion record among alpaca rows' },
  ]);
  await assert.rejects(readDatasetRows(p, { offset: 2, limit: 1 }), isDatasetError(p, 3, 'no known format'));
  assert.equal(
    (await readDatasetRows(p, { offset: 3, limit: 1 }))[0].messages[0].content,
    'f',
    'each row is read by its own format',
  );
});

test('empty files are no dataset and have no rows', async () => {
  for (const name of ['empty.jsonl', 'empty.json', 'empty.txt']) {
    const p = file(name, name.endsWith('.json') ? '  \n' : '');
    const s = await detectDataset(p);
    assert.deepEqual([s.format, s.rows, s.problems], ['unknown', 0, []], name);
    assert.deepEqual(await readDatasetRows(p, { limit: 5 }), [], name);
  }
});

test('JSON that is not a dataset: a model config, a JSONC config; a broken array is an error', async () => {
  const config = await detectDataset(
    file(
      'config.json',
      JSON.stringify({ architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 8 }, null, 2),
    ),
  );
  assert.deepEqual([config.container, config.format, config.rows, config.problems], ['json', 'unknown', 1, []]);
  const jsonc = await detectDataset(file('tsconfig.json', '{\n  // comments\n  "compilerOptions": {}\n}\n'));
  assert.deepEqual([jsonc.format, jsonc.rows, jsonc.problems.length], ['unknown', 0, 1]);
  assert.match(jsonc.problems[0].message, /^invalid JSON/);
  const broken = file('broken.json', '[\n  {"instruction": "a", "output": "b"},\n  {"instruction": \n');
  await assert.rejects(
    detectDataset(broken),
    (e: unknown) => e instanceof DatasetError && e.message.startsWith(`${broken}: `) && /invalid JSON/.test(e.message),
  );
  await assert.rejects(
    detectDataset(file('broken.parquet', 'not parquet')),
    (e: unknown) => e instanceof DatasetError && /not a readable Parquet file/.test(e.message),
  );
});

test('a 200,000-line JSONL is counted by streaming, and its last rows read', async () => {
  const p = path.join(dir, 'big.jsonl');
  const out = createWriteStream(p);
  for (let i = 0; i < 200_000; i++) {
    if (!out.write(JSON.stringify({ instruction: `add ${i} 1`, input: '', output: String(i + 1) }) + '\n'))
      await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => out.end(() => r()));
  const s = await detectDataset(p);
  assert.deepEqual([s.format, s.rows, s.problems], ['alpaca', 200_000, []]);
  assert.deepEqual(
    (await readDatasetRows(p, { offset: 199_998, limit: 10 })).map((r) => r.messages[1].content),
    ['199999', '200000'],
  );
  // Aborted once detection has started: the streaming count stops at its next chunk.
  const controller = new AbortController();
  const detecting = detectDataset(p, { signal: controller.signal });
  controller.abort();
  await assert.rejects(detecting, CancelledError);
  await assert.rejects(readDatasetRows(p, { limit: 1, signal: controller.signal }), CancelledError);
});
