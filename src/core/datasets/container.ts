import { open } from 'node:fs/promises';
import * as path from 'node:path';
import { scanLines } from './lines';

export type Container = 'jsonl' | 'json' | 'text' | 'parquet';

/**
 * The parser a file needs. The extension decides, except that a .json file is either one JSON document or
 * JSON Lines (both are common on the Hugging Face hub): it is JSON Lines when its first line is a whole
 * object and another line follows. A pretty-printed document's first line is `{` alone, a minified one has
 * no second line, and an array starts with `[`.
 */
export async function containerOf(file: string): Promise<Container> {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.parquet') return 'parquet';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext !== '.json') return 'text';
  if ((await firstCharacter(file)) !== '{') return 'json';
  const { kept } = await scanLines(file, { limit: 2, countAll: false });
  return kept.length === 2 && 'text' in kept[0] && isJsonObject(kept[0].text) ? 'jsonl' : 'json';
}

/** The first character of a text file after any BOM and leading whitespace ('' when there is none in its head). */
export async function firstCharacter(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return head
      .subarray(0, bytesRead)
      .toString('utf-8')
      .replace(/^\uFEFF/, '')
      .trimStart()
      .charAt(0);
  } finally {
    await handle.close();
  }
}

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}
