import { CheckpointError, throwIfAborted } from '../errors';
import { openRegular } from '../util/files';
import { DatasetError } from './error';

/**
 * A non-blank line: its 1-based line number, its 0-based row (index among non-blank lines) and its text,
 * or `tooLong` when it exceeds MAX_LINE_BYTES and was not kept.
 */
export type NumberedLine = { line: number; row: number; text: string } | { line: number; row: number; tooLong: true };

export interface ScanOptions {
  /** First row whose text is kept. */
  offset?: number;
  /** How many rows from `offset` are kept. */
  limit: number;
  /** Count every row of the file, or stop once the kept rows are read. */
  countAll: boolean;
  signal?: AbortSignal;
}

/** A row longer than this is not decoded: one runaway line must not exhaust memory. */
const MAX_LINE_BYTES = 64 * 2 ** 20;

const NEWLINE = 0x0a;
const BOM = [0xef, 0xbb, 0xbf];

/**
 * Streams a file once, counting its non-blank lines and decoding only the kept ones. Newlines are found
 * in the raw bytes, so lines outside the window never become strings: counting a multi-gigabyte JSONL
 * costs about a read of it, in constant memory.
 */
export async function scanLines(file: string, opts: ScanOptions): Promise<{ rows: number; kept: NumberedLine[] }> {
  const from = opts.offset ?? 0;
  const to = from + opts.limit;
  const kept: NumberedLine[] = [];
  let line = 1;
  let row = 0;
  let blank = true;
  let pieces: Buffer[] = [];
  let bytes = 0;
  let firstChunk = true;

  const endLine = (): void => {
    if (!blank) {
      if (row >= from && row < to)
        kept.push(bytes > MAX_LINE_BYTES ? { line, row, tooLong: true } : { line, row, text: decode(pieces) });
      row++;
    }
    line++;
    blank = true;
    pieces = [];
    bytes = 0;
  };

  // A regular file only: a FIFO would block the read for ever.
  const handle = await openRegular(file).catch((e: Error) => {
    throw new DatasetError(file, e instanceof CheckpointError ? e.problem : e.message);
  });
  const stream = handle.createReadStream({ highWaterMark: 2 ** 20 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    throwIfAborted(opts.signal);
    let start = firstChunk && BOM.every((b, i) => chunk[i] === b) ? BOM.length : 0;
    firstChunk = false;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const stop = newline === -1 ? chunk.length : newline;
      if (blank) blank = isBlank(chunk, start, stop);
      if (row >= from && row < to) {
        bytes += stop - start;
        if (bytes <= MAX_LINE_BYTES) pieces.push(chunk.subarray(start, stop));
      }
      if (newline === -1) break;
      endLine();
      start = newline + 1;
      // Leaving the loop destroys the stream, so a preview of a huge file reads only its head.
      if (!opts.countAll && row >= to) return { rows: row, kept };
    }
  }
  endLine();
  return { rows: row, kept };
}

export const TOO_LONG = `longer than the ${MAX_LINE_BYTES / 2 ** 20} MiB a row may have`;

/** A kept line's text, or a DatasetError when it was too long to keep. */
export function lineText(file: string, l: NumberedLine): string {
  if ('text' in l) return l.text;
  throw new DatasetError(file, TOO_LONG, { line: l.line });
}

function isBlank(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const b = buf[i];
    if (b !== 0x20 && b !== 0x09 && b !== 0x0d) return false;
  }
  return true;
}

function decode(pieces: Buffer[]): string {
  const text = Buffer.concat(pieces).toString('utf-8');
  return text.endsWith('\r') ? text.slice(0, -1) : text;
}
