import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { throwIfAborted } from '../errors';

export type Container = 'jsonl' | 'json' | 'text' | 'parquet';

/** A malformed dataset: the message names the file and, for line-based files, the 1-based line. */
export class DatasetError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly line?: number,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${problem}`);
    this.name = 'DatasetError';
  }
}

/** A whole JSON document is parsed in memory only below this size; larger data belongs in JSONL. */
export const MAX_JSON_DOCUMENT = 256 * 2 ** 20;

/** The container from the extension, except that a .json file holding JSON Lines is read as such. */
export async function containerOf(file: string): Promise<Container> {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.parquet') return 'parquet';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext !== '.json') return 'text';
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const text = head.subarray(0, bytesRead).toString('utf-8').trimStart();
    // A JSON array or a single pretty-printed object is a document; `{...}\n{...}` is JSON Lines.
    if (text.startsWith('[')) return 'json';
    const firstLine = text.split('\n', 1)[0].trim();
    return firstLine.startsWith('{') && firstLine.endsWith('}') && safeParse(firstLine) !== undefined ? 'jsonl' : 'json';
  } finally {
    await handle.close();
  }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Lines of a file, streamed, with 1-based numbers. */
export async function* lines(file: string, signal?: AbortSignal): AsyncGenerator<{ line: number; text: string }> {
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf-8' }), crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const text of rl) {
      n++;
      if (n % 65536 === 0) throwIfAborted(signal);
      yield { line: n, text };
    }
  } finally {
    rl.close();
  }
}

/** Parses one JSONL line, or throws a DatasetError naming the line. */
export function parseJsonLine(file: string, line: number, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DatasetError(file, `invalid JSON (${(e as Error).message})`, line);
  }
}

/** Parses a whole JSON document (bounded in size) as a list of records. */
export async function readJsonDocument(file: string): Promise<unknown[]> {
  const { size } = await stat(file);
  if (size > MAX_JSON_DOCUMENT) throw new DatasetError(file, `a ${Math.round(size / 2 ** 20)} MB JSON document is too large to read whole; store large datasets as JSON Lines`);
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, 'utf-8'));
  } catch (e) {
    throw new DatasetError(file, `invalid JSON (${(e as Error).message})`);
  }
  if (Array.isArray(doc)) return doc;
  // `{"data": [...]}` / `{"train": [...]}` wrappers hold the rows in their only list.
  if (typeof doc === 'object' && doc !== null) {
    const lists = Object.values(doc).filter(Array.isArray);
    if (lists.length === 1) return lists[0] as unknown[];
  }
  return [doc];
}

/** Parquet: row count and columns from the footer, rows on demand. */
export async function parquetInfo(file: string): Promise<{ rows: number; columns: string[] }> {
  const buffer = await asyncBufferFromFile(file);
  try {
    const meta = await parquetMetadataAsync(buffer);
    return { rows: Number(meta.num_rows), columns: topLevelColumns(meta.schema) };
  } catch (e) {
    throw new DatasetError(file, `not a readable Parquet file (${(e as Error).message})`);
  }
}

/** Names of the schema's top-level fields (nested lists and structs flatten into several schema elements). */
function topLevelColumns(schema: { name: string; num_children?: number }[]): string[] {
  const names: string[] = [];
  let i = 1;
  const skip = (): void => {
    const children = schema[i].num_children ?? 0;
    i++;
    for (let c = 0; c < children; c++) skip();
  };
  while (i < schema.length) {
    names.push(schema[i].name);
    skip();
  }
  return names;
}

export async function parquetRows(file: string, rowStart: number, rowEnd: number): Promise<Record<string, unknown>[]> {
  const buffer = await asyncBufferFromFile(file);
  try {
    return (await parquetReadObjects({ file: buffer, rowStart, rowEnd })) as Record<string, unknown>[];
  } catch (e) {
    throw new DatasetError(file, `cannot read Parquet rows (${(e as Error).message})`);
  }
}
