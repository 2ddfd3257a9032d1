import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseJsonObject } from '../util/json';
import { ResultsError } from './types';

/**
 * Calls `onRecord` with each JSON object of a JSONL file and its 1-based line number. Streamed: an
 * lm-eval samples file carries every prompt and can run to hundreds of megabytes. A line that is not
 * a JSON object stops the read with an error naming the file and line.
 */
export async function readJsonl(file: string, onRecord: (record: Record<string, unknown>, line: number) => void): Promise<void> {
  const stream = createReadStream(file, { encoding: 'utf-8' });
  const opened = new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', reject);
  });
  try {
    await opened;
  } catch (e) {
    throw new ResultsError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const text of lines) {
      n++;
      if (!text.trim()) continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (e) {
        throw new ResultsError(file, `invalid JSON (${(e as Error).message})`, n);
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ResultsError(file, 'expected a JSON object per line', n);
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

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
