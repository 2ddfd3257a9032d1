import { throwIfAborted } from '../errors';
import { containerOf } from './container';
import { DatasetError } from './error';
import { parseJsonLine, readJsonDocument } from './json';
import { lineText, scanLines } from './lines';
import { withParquet } from './parquet';
import { describeRecord, toConversation, Turn } from './records';

/** A row in the one shape previews and trainers use, with the record it came from. */
export interface DatasetRow {
  messages: Turn[];
  /** The parsed record (Parquet: as plain JSON values); for plain text, the line. */
  raw: unknown;
}

export interface ReadRowsOptions {
  /** 0-based index of the first row (default 0). */
  offset?: number;
  limit: number;
  signal?: AbortSignal;
}

/**
 * Rows [offset, offset + limit) normalised to conversations (see toConversation in records.ts). Plain text
 * gives one row per non-blank line, a single turn of role 'text', as Hugging Face's `text` loader splits
 * by line. Line-based files are read only up to the last row wanted. A malformed row or one of no known
 * format is a DatasetError naming the file and line (or row): a silently skipped row would be training
 * data lost without anyone noticing.
 */
export async function readDatasetRows(file: string, opts: ReadRowsOptions): Promise<DatasetRow[]> {
  const offset = opts.offset ?? 0;
  throwIfAborted(opts.signal);
  const container = await containerOf(file);
  if (container === 'parquet') {
    return withParquet(file, async (pq) => {
      const end = Math.min(pq.rows, offset + opts.limit);
      return offset < end ? (await pq.read(offset, end)).map((r, i) => toRow(file, r, { row: offset + i + 1 })) : [];
    });
  }
  if (container === 'json') {
    return (await readJsonDocument(file))
      .slice(offset, offset + opts.limit)
      .map((r, i) => toRow(file, r, { row: offset + i + 1 }));
  }
  const { kept } = await scanLines(file, { offset, limit: opts.limit, countAll: false, signal: opts.signal });
  return kept.map((l) => {
    if (container === 'jsonl') return toRow(file, parseJsonLine(file, l), { line: l.line });
    const text = lineText(file, l);
    return { messages: [{ role: 'text', content: text }], raw: text };
  });
}

function toRow(file: string, raw: unknown, where: { line: number } | { row: number }): DatasetRow {
  const conversation = toConversation(raw);
  if (!conversation)
    throw new DatasetError(
      file,
      `no known format (Alpaca, ShareGPT, messages, prompt/completion, text): ${describeRecord(raw)}`,
      where,
    );
  return { messages: conversation.messages, raw };
}
