import { readFile, stat } from 'node:fs/promises';
import { DatasetError } from './error';
import { lineText, NumberedLine } from './lines';
import { isObject } from './records';

/** A JSON document is parsed whole, so only below this size; larger data belongs in JSON Lines. */
const MAX_JSON_DOCUMENT = 256 * 2 ** 20;

/**
 * The records of a JSON document: an array's items, the one list of objects in a `{"train": [...]}`-style
 * wrapper, or else the document itself as a single record. An empty document has no records.
 */
export async function readJsonDocument(file: string): Promise<unknown[]> {
  const { size } = await stat(file);
  if (size > MAX_JSON_DOCUMENT)
    throw new DatasetError(
      file,
      `a ${Math.round(size / 2 ** 20)} MB JSON document is too large to read whole; store large datasets as JSON Lines`,
    );
  const text = (await readFile(file, 'utf-8')).replace(/^\uFEFF/, '');
  if (text.trim() === '') return [];
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    const line = errorLine(text, e as Error);
    throw new DatasetError(file, `invalid JSON (${(e as Error).message})`, line === undefined ? {} : { line });
  }
  if (Array.isArray(doc)) return doc;
  if (isObject(doc)) {
    const lists = Object.values(doc).filter((v): v is unknown[] => Array.isArray(v));
    if (lists.length === 1 && lists[0].length > 0 && lists[0].every(isObject)) return lists[0];
  }
  return [doc];
}

/** One JSON Lines record, or a DatasetError naming its line. */
export function parseJsonLine(file: string, l: NumberedLine): unknown {
  const text = lineText(file, l);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DatasetError(file, `invalid JSON (${(e as Error).message})`, { line: l.line });
  }
}

/** V8 reports where JSON.parse failed as a character position; people look for a line. */
function errorLine(text: string, e: Error): number | undefined {
  const at = /at position (\d+)/.exec(e.message);
  if (!at) return undefined;
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < Number(at[1]); i = text.indexOf('\n', i + 1)) line++;
  return line;
}
