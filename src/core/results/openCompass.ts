// OpenCompass summaries: `summary/summary_<YYYYmmdd_HHMMSS>.{csv,txt,md}`, one column per model.
import { canonicalMetric, defaultHigherIsBetter, ModelResults, ResultsError, TaskResult } from './types';

export const OPENCOMPASS_HEADER = ['dataset', 'version', 'metric', 'mode'];

/** RFC 4180 rows: quoted fields may hold commas, quotes ("") and line breaks. Each row keeps its first line number. */
export function parseCsv(text: string): { cells: string[]; line: number }[] {
  const rows: { cells: string[]; line: number }[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        cell += c;
      }
    } else if (c === '"' && cell === '') quoted = true;
    else if (c === ',') {
      cells.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      cells.push(cell);
      if (cells.some((x) => x !== '')) rows.push({ cells, line: start });
      cells = [];
      cell = '';
      start = ++line;
    } else cell += c;
  }
  cells.push(cell);
  if (cells.some((x) => x !== '')) rows.push({ cells, line: start });
  return rows;
}

/** The date in the file name (summary_20240501_120000.csv, .txt or .md), as ISO text. */
function dateOf(file: string): string | undefined {
  const m = /summary_(\d{4})(\d\d)(\d\d)_(\d\d)(\d\d)(\d\d)\.(csv|txt|md)$/i.exec(file);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}` : undefined;
}

type Row = { cells: string[]; line: number };

const TABULATE_HEADER = /^dataset\s+version\s+metric\s+mode(\s|$)/;
const MARKDOWN_HEADER = /^\|\s*dataset\s*\|\s*version\s*\|\s*metric\s*\|\s*mode\s*\|/;
/** The rule lines OpenCompass puts under and after each table of a `.txt` summary. */
const TABLE_END = /^(\$+|\^+|-+ THIS IS A DIVIDER -+)\s*$/;

/**
 * The table of a summary, whichever of OpenCompass's three files it is: `summary_*.csv`; `summary_*.txt`
 * (the time, then the same table as tabulate text, as CSV and raw: the CSV part is read, else the
 * tabulate part); `summary_*.md` (a Markdown table). Undefined when the text holds none of them.
 */
export function summaryTable(text: string): Row[] | undefined {
  const body = text.replace(/^\uFEFF/, '');
  const csvHeader = OPENCOMPASS_HEADER.join(',');
  if (body.startsWith(csvHeader)) return parseCsv(body);
  const lines = body.split(/\r?\n/);
  /** The lines of the table that starts at line index `from`: up to a blank line or a rule. */
  const table = (from: number) => {
    let to = from;
    while (to < lines.length && lines[to].trim() !== '' && !TABLE_END.test(lines[to])) to++;
    return lines.slice(from, to).map((l, k) => ({ l, line: from + k + 1 }));
  };
  const csvAt = lines.findIndex((l) => l.startsWith(csvHeader));
  if (csvAt >= 0)
    return parseCsv(
      table(csvAt)
        .map(({ l }) => l)
        .join('\n'),
    ).map((r) => ({ ...r, line: r.line + csvAt }));
  const mdAt = lines.findIndex((l) => MARKDOWN_HEADER.test(l));
  if (mdAt >= 0) {
    // "| a | b |" → ["a", "b"]; the "|----- | -----|" rule under the header is no row.
    return table(mdAt)
      .filter(({ l }) => !/^\|[\s|:-]+\|?\s*$/.test(l))
      .map(({ l, line }) => ({
        cells: l
          .trim()
          .replace(/^\||\|$/g, '')
          .split('|')
          .map((c) => c.trim()),
        line,
      }));
  }
  const tabAt = lines.findIndex((l) => TABULATE_HEADER.test(l));
  // Columns are at least two spaces apart; the dashes under the header are no row.
  if (tabAt >= 0)
    return table(tabAt)
      .filter(({ l }) => !/^[-\s]+$/.test(l))
      .map(({ l, line }) => ({ cells: l.trim().split(/\s{2,}/), line }));
  return undefined;
}

interface SummaryRow {
  dataset: string;
  version: string;
  metric: string;
  mode: string;
  values: string[];
  line: number;
}

/**
 * Task names, one per row: the dataset, with the mode and then the version added where two rows of
 * the same dataset and metric differ only in those (gsm8k gen and ppl), so that neither overwrites the other.
 */
function taskNames(file: string, rows: SummaryRow[]): string[] {
  const key = (r: SummaryRow) => `${r.dataset}\u0000${canonicalMetric(r.metric || 'score')}`;
  const byKey = new Map<string, SummaryRow[]>();
  for (const r of rows) byKey.set(key(r), [...(byKey.get(key(r)) ?? []), r]);
  return rows.map((r) => {
    const same = byKey.get(key(r))!;
    if (same.length === 1) return r.dataset;
    const twin = same.find((o) => o !== r && o.mode === r.mode && o.version === r.version);
    if (twin)
      throw new ResultsError(
        file,
        `the row of ${r.dataset} / ${r.metric} (${r.mode}, version ${r.version}) repeats line ${Math.min(twin.line, r.line)}`,
        Math.max(twin.line, r.line),
      );
    const modes = new Set(same.map((o) => o.mode));
    const versions = new Set(same.filter((o) => o.mode === r.mode).map((o) => o.version));
    const parts = [...(modes.size > 1 ? [r.mode] : []), ...(versions.size > 1 ? [r.version] : [])];
    return `${r.dataset} (${parts.join(', ')})`;
  });
}

export function parseOpenCompass(file: string, text: string): ModelResults[] {
  const table = summaryTable(text);
  const [header, ...rest] = table ?? [];
  if (!header || OPENCOMPASS_HEADER.some((h, i) => header.cells[i]?.trim() !== h))
    throw new ResultsError(
      file,
      `not an OpenCompass summary: the header must start with ${OPENCOMPASS_HEADER.join(',')}`,
      header?.line ?? 1,
    );
  const names = header.cells.slice(OPENCOMPASS_HEADER.length).map((s) => s.trim());
  if (names.length === 0) throw new ResultsError(file, 'the header names no model column', header.line);
  const models = names.map((model): ModelResults => ({
    model,
    file,
    format: 'opencompass',
    tasks: new Map(),
    ...(dateOf(file) ? { date: dateOf(file) } : {}),
  }));
  const rows: SummaryRow[] = [];
  for (const { cells, line } of rest) {
    const [dataset, version, metric, mode, ...values] = cells.map((c) => c.trim());
    if (cells.length !== header.cells.length)
      throw new ResultsError(file, `expected ${header.cells.length} fields, found ${cells.length}`, line);
    // Section separators ("--------- Exam ---------") carry no scores.
    if (!dataset || /^-+/.test(dataset)) continue;
    rows.push({ dataset, version, metric, mode, values, line });
  }
  const tasks = taskNames(file, rows);
  rows.forEach(({ dataset, metric, values, line }, k) => {
    values.forEach((raw, i) => {
      if (raw === '-' || raw === '') return;
      const value = Number(raw);
      if (!Number.isFinite(value))
        throw new ResultsError(file, `'${raw}' for ${dataset} / ${names[i]} is neither a number nor '-'`, line);
      let task = models[i].tasks.get(tasks[k]);
      if (!task) models[i].tasks.set(tasks[k], (task = { metrics: new Map() } as TaskResult));
      // naive_average rows are OpenCompass's own averages over other rows of the table, which it does
      // not name: a benchmark average counts those rows, not the aggregate as well.
      if (metric === 'naive_average' || metric === 'weighted_average') {
        task.group = true;
        task.aggregate = true;
      }
      // Scores are percentages (accuracy 51.23).
      task.metrics.set(canonicalMetric(metric || 'score'), {
        value,
        higherIsBetter: defaultHigherIsBetter(metric),
        scale: 'percent',
      });
    });
  });
  return models;
}
