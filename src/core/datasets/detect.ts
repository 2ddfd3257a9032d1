import { stat } from 'node:fs/promises';
import { Container, containerOf, DatasetError, lines, parquetInfo, parquetRows, parseJsonLine, readJsonDocument } from './files';
import { DatasetFormat, majorityFormat } from './records';

export interface DatasetProblem {
  line?: number;
  row?: number;
  message: string;
}

export interface DatasetSummary {
  file: string;
  container: Container;
  format: DatasetFormat;
  rows: number;
  columns?: string[];
  problems: DatasetProblem[];
}

export interface DetectOptions {
  /** How many leading rows are parsed to decide the format (the rest are only counted). */
  sampleRows?: number;
  signal?: AbortSignal;
}

/** Below this many lines a .txt file is notes, not a corpus. */
const MIN_TEXT_LINES = 20;

/**
 * Decides whether a file is a fine-tuning dataset and in which format, by its content: the leading
 * rows are parsed, the rest streamed and counted, so a file of any size is summarised in bounded memory.
 */
export async function detectDataset(file: string, opts: DetectOptions = {}): Promise<DatasetSummary> {
  const sample = opts.sampleRows ?? 50;
  const container = await containerOf(file);
  const problems: DatasetProblem[] = [];
  if (container === 'parquet') {
    const { rows, columns } = await parquetInfo(file);
    const head = rows > 0 ? await parquetRows(file, 0, Math.min(rows, sample)) : [];
    return { file, container, format: majorityFormat(head), rows, columns, problems };
  }
  if (container === 'json') {
    const records = await readJsonDocument(file);
    return { file, container, format: majorityFormat(records.slice(0, sample)), rows: records.length, columns: columnsOf(records.slice(0, sample)), problems };
  }
  if (container === 'text') {
    let rows = 0;
    for await (const { text } of lines(file, opts.signal)) if (text.trim() !== '') rows++;
    const { size } = await stat(file);
    return { file, container, format: rows >= MIN_TEXT_LINES && size > 0 ? 'text' : 'unknown', rows, problems };
  }
  const records: unknown[] = [];
  let rows = 0;
  for await (const { line, text } of lines(file, opts.signal)) {
    if (text.trim() === '') continue;
    rows++;
    if (records.length + problems.length >= sample) continue;
    try {
      records.push(parseJsonLine(file, line, text));
    } catch (e) {
      problems.push({ line, message: (e as DatasetError).problem });
    }
  }
  return { file, container, format: majorityFormat(records), rows, columns: columnsOf(records), problems };
}

function columnsOf(records: unknown[]): string[] {
  const keys = new Set<string>();
  for (const r of records) if (typeof r === 'object' && r !== null && !Array.isArray(r)) for (const k of Object.keys(r)) keys.add(k);
  return [...keys];
}
