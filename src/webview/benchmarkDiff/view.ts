// What the benchmark diff table shows, as data: which rows, in which order, and how strong a Δ's
// colour is. No DOM here, so the page, its exports and the tests agree.
import type { BenchmarkDiff, DiffRow, RowUnit } from '../../core/results/diff';
import type { SortKey } from './protocol';

/**
 * Colour strength of a Δ, 1 (faint) to 4 (strong), by its size in percentage points: < 0.5, < 2, < 5,
 * and more. Metrics without a known scale (perplexity) use the change relative to the baseline, in percent.
 */
export function magnitude(delta: number, baseline: number | undefined, unit: RowUnit): 1 | 2 | 3 | 4 {
  const points =
    unit === 'percent'
      ? Math.abs(delta)
      : unit === 'fraction'
        ? Math.abs(delta) * 100
        : baseline
          ? (Math.abs(delta) / Math.abs(baseline)) * 100
          : Math.abs(delta) * 100;
  return points < 0.5 ? 1 : points < 2 ? 2 : points < 5 ? 3 : 4;
}

/** The sort value of a row in a column: text for task and metric, the value for the baseline, Δ for the others. */
function keyOf(row: DiffRow, column: SortKey['column']): string | number | undefined {
  if (column === 'task') return row.task;
  if (column === 'metric') return row.metric;
  const cell = row.cells[column];
  return column === 0 ? cell?.value : cell?.delta;
}

/** Rows as the table shows them: filtered, then sorted (stable; missing values last either way). */
export function shownRows(report: BenchmarkDiff, onlyDiffers: boolean, sort?: SortKey): DiffRow[] {
  const rows = report.rows.filter((r) => r.differs || !onlyDiffers);
  if (!sort) return rows;
  const sign = sort.descending ? -1 : 1;
  return rows
    .map((row, i) => ({ row, i, key: keyOf(row, sort.column) }))
    .sort((a, b) => {
      if (a.key === undefined || b.key === undefined) return a.key === b.key ? a.i - b.i : a.key === undefined ? 1 : -1;
      const c = typeof a.key === 'string' ? a.key.localeCompare(String(b.key)) : a.key - (b.key as number);
      return c !== 0 ? sign * c : a.i - b.i;
    })
    .map((x) => x.row);
}

/** The report restricted to the rows shown, in their order: what an export saves. */
export const asShown = (report: BenchmarkDiff, rows: DiffRow[]): BenchmarkDiff => ({ ...report, rows });
