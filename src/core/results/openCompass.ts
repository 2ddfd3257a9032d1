// OpenCompass summaries: `summary/summary_<YYYYmmdd_HHMMSS>.csv`, one column per model.
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
    }
    else if (c === '\n' || c === '\r') {
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

/** The date in the file name (summary_20240501_120000.csv), as ISO text. */
function dateOf(file: string): string | undefined {
  const m = /summary_(\d{4})(\d\d)(\d\d)_(\d\d)(\d\d)(\d\d)\.csv$/.exec(file);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}` : undefined;
}

export function parseOpenCompass(file: string, text: string): ModelResults[] {
  const [header, ...rows] = parseCsv(text.replace(/^\uFEFF/, ''));
  if (!header || OPENCOMPASS_HEADER.some((h, i) => header.cells[i]?.trim() !== h)) throw new ResultsError(file, `not an OpenCompass summary: the header must start with ${OPENCOMPASS_HEADER.join(',')}`, 1);
  const names = header.cells.slice(OPENCOMPASS_HEADER.length).map((s) => s.trim());
  if (names.length === 0) throw new ResultsError(file, 'the header names no model column', 1);
  const models = names.map((model): ModelResults => ({ model, file, format: 'opencompass', tasks: new Map(), ...(dateOf(file) ? { date: dateOf(file) } : {}) }));
  for (const { cells, line } of rows) {
    const [dataset, , metric, , ...values] = cells.map((c) => c.trim());
    if (cells.length !== header.cells.length) throw new ResultsError(file, `expected ${header.cells.length} fields, found ${cells.length}`, line);
    // Section separators ("--------- Exam ---------") carry no scores.
    if (!dataset || /^-+/.test(dataset)) continue;
    values.forEach((raw, i) => {
      if (raw === '-' || raw === '') return;
      const value = Number(raw);
      if (!Number.isFinite(value)) throw new ResultsError(file, `'${raw}' for ${dataset} / ${names[i]} is neither a number nor '-'`, line);
      let task = models[i].tasks.get(dataset);
      if (!task) models[i].tasks.set(dataset, (task = { metrics: new Map() } as TaskResult));
      // Scores are percentages (accuracy 51.23); naive_average rows are OpenCompass's own group averages.
      if (metric === 'naive_average' || metric === 'weighted_average') task.group = true;
      task.metrics.set(canonicalMetric(metric || 'score'), { value, higherIsBetter: defaultHigherIsBetter(metric), scale: 'percent' });
    });
  }
  return models;
}
