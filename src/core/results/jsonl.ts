import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { CheckpointError } from '../errors';
import { checkRealInside, openRegular } from '../util/files';
import { createInterface } from 'node:readline';
import { parseJsonObject } from '../util/json';
import { ResultsError } from './types';

/**
 * Calls `onRecord` with each JSON object of a JSONL file and its 1-based line number. Streamed: an
 * lm-eval samples file carries every prompt and can run to hundreds of megabytes. A line that is not
 * a JSON object stops the read with an error naming the file and line.
 */
export async function readJsonl(
  file: string,
  onRecord: (record: Record<string, unknown>, line: number) => void,
): Promise<void> {
  let handle: FileHandle;
  try {
    // Beside its result file, after links too, and a regular file (a FIFO would block the read for ever).
    await checkRealInside(path.dirname(file), file, file);
    handle = await openRegular(file);
  } catch (e) {
    throw new ResultsError(file, e instanceof CheckpointError ? e.problem : (e as Error).message);
  }
  const stream = handle.createReadStream({ encoding: 'utf-8' });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const text of lines) {
      n++;
      if (!text.trim()) continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        // Not the parser's message: it quotes the line, and a file must not echo its content into errors.
        throw new ResultsError(file, 'invalid JSON', n);
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw new ResultsError(file, 'expected a JSON object per line', n);
      onRecord(value as Record<string, unknown>, n);
    }
  } finally {
    lines.close();
    stream.destroy();
  }
}

/** Parses a whole JSON file that must hold an object; errors name the file. */
export function parseResultsJson(file: string, text: string): Record<string, unknown> {
  return parseJsonObject(text, (problem) => new ResultsError(file, problem));
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
