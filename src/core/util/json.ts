import { CheckpointError } from '../errors';
import { readRegularText } from './files';

/** Config, index and adapter JSON files are small; a larger one is refused before it is read. */
const MAX_JSON_BYTES = 512 * 2 ** 20;

/** Reads a JSON object from a file; every failure names the file. */
export async function readJsonObject(file: string): Promise<Record<string, unknown>> {
  const text = await readRegularText(file, MAX_JSON_BYTES);
  return parseJsonObject(text, (problem) => new CheckpointError(file, problem));
}

/** Parses text that must hold a JSON object; `fail` makes the error for a problem (each module has its error class). */
export function parseJsonObject(text: string, fail: (problem: string) => Error): Record<string, unknown> {
  const deep = scanJson(text, MAX_DEPTH);
  if (deep !== undefined) throw fail(`nests deeper than ${MAX_DEPTH} levels at character ${deep}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw fail(`invalid JSON (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('is not a JSON object');
  return value as Record<string, unknown>;
}

/** Deeper JSON is refused: the files read here nest a few levels, and JSON.stringify recurses. */
const MAX_DEPTH = 64;

/**
 * Scans JSON text outside strings without parsing it: returns the offset where nesting first exceeds
 * `maxDepth` (or undefined), and hands every number token to `onNumber` (which may throw).
 */
export function scanJson(text: string, maxDepth: number, onNumber?: (token: string) => void): number | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c /* \ */) i++;
    } else if (c === 0x7b || c === 0x5b /* { [ */) {
      if (++depth > maxDepth) return i;
    } else if (c === 0x7d || c === 0x5d /* } ] */) {
      depth--;
    } else if (onNumber && (c === 0x2d || (c >= 0x30 && c <= 0x39)) /* - digit */) {
      let j = i + 1;
      while (j < text.length && NUMBER_CHAR.test(text[j])) j++;
      onNumber(text.slice(i, j));
      i = j - 1;
    }
  }
  return undefined;
}

const NUMBER_CHAR = /[-+.eE0-9]/;
