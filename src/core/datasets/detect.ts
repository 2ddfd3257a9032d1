import { throwIfAborted } from '../errors';
import { Container, containerOf, firstCharacter } from './container';
import { DatasetError } from './error';
import { parseJsonLine, readJsonDocument } from './json';
import { scanLines, TOO_LONG } from './lines';
import { withParquet } from './parquet';
import { DatasetFormat, describeRecord, FORMAT_FIELDS, isObject, toConversation } from './records';

/** Something wrong in a sampled row: `line` (1-based) in line-based files, `row` (1-based) in JSON documents and Parquet. */
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
  /** How many leading rows are parsed to decide the format (default 50); the rest are only counted. */
  sampleRows?: number;
  signal?: AbortSignal;
}

/** Below this many non-blank lines a text file is notes or a requirements list, not a corpus. */
const MIN_TEXT_ROWS = 20;

type Where = { line: number } | { row: number };
type Sampled = { record: unknown; where: Where } | { problem: DatasetProblem };

/**
 * Decides by content whether a file is a fine-tuning dataset and in which format: the first rows are
 * parsed, the rest only counted while streaming (Parquet: counted in the footer), so any size is
 * summarised in bounded memory. The format is the one most sampled rows have; sampled rows that are
 * corrupt or of another format are problems. Throws a DatasetError only for a file that is evidently
 * data but unreadable (a broken Parquet file or JSON array, a JSON document too large to parse).
 */
export async function detectDataset(file: string, opts: DetectOptions = {}): Promise<DatasetSummary> {
  const sampleRows = opts.sampleRows ?? 50;
  throwIfAborted(opts.signal);
  const container = await containerOf(file);
  switch (container) {
    case 'parquet':
      return withParquet(file, async (pq) => {
        throwIfAborted(opts.signal);
        const fields = pq.columns.filter((c) => FORMAT_FIELDS.includes(c));
        const head = fields.length > 0 && pq.rows > 0 ? await pq.read(0, Math.min(pq.rows, sampleRows), fields) : [];
        return {
          file,
          container,
          rows: pq.rows,
          columns: pq.columns,
          ...judge(head.map((record, i) => ({ record, where: { row: i + 1 } }))),
        };
      });
    case 'json': {
      let records: unknown[];
      try {
        records = await readJsonDocument(file);
      } catch (e) {
        // A broken list is a damaged dataset to report; a broken object is usually a JSONC config (tsconfig.json).
        if (!(e instanceof DatasetError) || (await firstCharacter(file)) === '[') throw e;
        return { file, container, format: 'unknown', rows: 0, problems: [{ ...e.where, message: e.problem }] };
      }
      const sample = records.slice(0, sampleRows).map((record, i) => ({ record, where: { row: i + 1 } }));
      return { file, container, rows: records.length, columns: columnsOf(sample), ...judge(sample) };
    }
    case 'jsonl': {
      const { rows, kept } = await scanLines(file, { limit: sampleRows, countAll: true, signal: opts.signal });
      const sample = kept.map((l): Sampled => {
        try {
          return { record: parseJsonLine(file, l), where: { line: l.line } };
        } catch (e) {
          if (!(e instanceof DatasetError)) throw e;
          return { problem: { line: l.line, message: e.problem } };
        }
      });
      return { file, container, rows, columns: columnsOf(sample), ...judge(sample) };
    }
    case 'text': {
      const { rows, kept } = await scanLines(file, { limit: sampleRows, countAll: true, signal: opts.signal });
      const problems = kept.filter((l) => !('text' in l)).map((l) => ({ line: l.line, message: TOO_LONG }));
      return { file, container, format: rows >= MIN_TEXT_ROWS ? 'text' : 'unknown', rows, problems };
    }
  }
}

/** The format most sampled records have, and a problem for each sampled row that does not fit it. */
function judge(sample: Sampled[]): { format: DatasetFormat; problems: DatasetProblem[] } {
  const formats = sample.map((s) => ('record' in s ? (toConversation(s.record)?.format ?? 'unknown') : 'unknown'));
  const counts = new Map<DatasetFormat, number>();
  for (const f of formats) if (f !== 'unknown') counts.set(f, (counts.get(f) ?? 0) + 1);
  const format = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'unknown';
  const problems = sample.flatMap((s, i): DatasetProblem[] => {
    if ('problem' in s) return [s.problem];
    if (format === 'unknown' || formats[i] === format) return [];
    const what = formats[i] === 'unknown' ? `no known format (${describeRecord(s.record)})` : `a ${formats[i]} record`;
    return [{ ...s.where, message: `${what} among ${format} rows` }];
  });
  return { format, problems };
}

/** Field names of the sampled records, in order of first appearance. */
function columnsOf(sample: Sampled[]): string[] {
  const keys = new Set<string>();
  for (const s of sample) if ('record' in s && isObject(s.record)) for (const k of Object.keys(s.record)) keys.add(k);
  return [...keys];
}
