import { readFile } from 'node:fs/promises';
import { CheckpointError } from '../errors';

/** Reads a JSON object from a file; every failure names the file. */
export async function readJsonObject(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf-8');
  } catch (e) {
    throw new CheckpointError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseJsonObject(text, (problem) => new CheckpointError(file, problem));
}

/** Parses text that must hold a JSON object; `fail` makes the error for a problem (each module has its error class). */
export function parseJsonObject(text: string, fail: (problem: string) => Error): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw fail(`invalid JSON (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('is not a JSON object');
  return value as Record<string, unknown>;
}
