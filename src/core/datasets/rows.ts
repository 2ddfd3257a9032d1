import { containerOf, DatasetError, lines, parquetInfo, parquetRows, parseJsonLine, readJsonDocument } from './files';
import { DatasetRow, toConversation } from './records';

export interface ReadRowsOptions {
  offset?: number;
  limit: number;
  signal?: AbortSignal;
}

/**
 * Rows [offset, offset + limit) as conversations. A row that is malformed or of no known format is an
 * error naming the file and line (or row): training on silently skipped rows hides data problems.
 * Plain text gives one row per non-empty line.
 */
export async function readDatasetRows(file: string, opts: ReadRowsOptions): Promise<DatasetRow[]> {
  const offset = opts.offset ?? 0;
  const end = offset + opts.limit;
  const container = await containerOf(file);
  const out: DatasetRow[] = [];
  const add = (raw: unknown, where: { line?: number; row: number }) => {
    const messages = toConversation(raw);
    if (!messages) throw new DatasetError(file, `row ${where.row + 1} is not in a known format (Alpaca, ShareGPT, messages, prompt/completion, text)`, where.line);
    out.push({ messages, raw });
  };
  if (container === 'parquet') {
    const { rows } = await parquetInfo(file);
    const records = offset < rows ? await parquetRows(file, offset, Math.min(rows, end)) : [];
    records.forEach((r, i) => add(r, { row: offset + i }));
    return out;
  }
  if (container === 'json') {
    (await readJsonDocument(file)).slice(offset, end).forEach((r, i) => add(r, { row: offset + i }));
    return out;
  }
  let row = 0;
  for await (const { line, text } of lines(file, opts.signal)) {
    if (text.trim() === '') continue;
    if (row >= end) break;
    if (row >= offset) add(container === 'text' ? text : parseJsonLine(file, line, text), { line, row });
    row++;
  }
  return out;
}
