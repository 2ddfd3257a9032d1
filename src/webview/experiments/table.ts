// The experiments table's state with @tanstack/table-core: sorting, the filter over every column,
// which columns show, and which rows are selected. No DOM here, so the page and its tests agree on
// what the table holds.
import {
  ColumnDef,
  createTable,
  functionalUpdate,
  getCoreRowModel,
  getFilteredRowModel,
  getSortedRowModel,
  Row,
  Table,
  TableState,
} from '@tanstack/table-core';
import type { ExperimentColumn, ExperimentRow, ExperimentsTable } from '../../core/experiments/table';
import type { ExperimentsState } from './protocol';

export type { Row, Table };

/** A value as the filter matches it: what the cell shows. */
export function cellText(value: number | string | null | undefined): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'string') return value;
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  const a = Math.abs(value);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? value.toExponential(2) : String(Number(value.toPrecision(4)));
}

function columnDef(c: ExperimentColumn): ColumnDef<ExperimentRow> {
  return {
    id: c.id,
    header: c.label,
    // null reads as undefined, which sorts last either way.
    accessorFn: (row) => row.values[c.id] ?? undefined,
    sortUndefined: 'last',
    sortingFn: c.type === 'number' ? 'basic' : 'alphanumeric',
    sortDescFirst: c.type === 'number' && !c.lowerIsBetter,
    meta: c,
  };
}

/** The initial column visibility: the user's choices over each column's default. */
export function visibility(columns: ExperimentColumn[], chosen: Record<string, boolean>): Record<string, boolean> {
  return Object.fromEntries(columns.map((c) => [c.id, chosen[c.id] ?? c.visible]));
}

/**
 * A table over `data` in the page's saved arrangement. `onChange` gets the new arrangement after
 * every change the table makes (a header click, a filter, a choice of columns, a selection).
 */
export function experimentsTableModel(
  data: ExperimentsTable,
  saved: ExperimentsState,
  onChange: (s: Pick<ExperimentsState, 'sorting' | 'filter' | 'columns' | 'selected'>) => void,
): Table<ExperimentRow> {
  const ids = new Set(data.rows.map((r) => r.id));
  let state: TableState = {
    ...createTable({
      data: [],
      columns: [],
      getCoreRowModel: getCoreRowModel(),
      state: {},
      onStateChange: () => {},
      renderFallbackValue: null,
    }).initialState,
    sorting: saved.sorting.filter((s) => data.columns.some((c) => c.id === s.id)),
    globalFilter: saved.filter,
    columnVisibility: visibility(data.columns, saved.columns),
    // A run that is gone is no longer selected.
    rowSelection: Object.fromEntries(saved.selected.filter((d) => ids.has(d)).map((d) => [d, true])),
  };
  const table = createTable<ExperimentRow>({
    data: data.rows,
    columns: data.columns.map(columnDef),
    state,
    onStateChange: (updater) => {
      state = functionalUpdate(updater, state);
      table.setOptions((prev) => ({ ...prev, state }));
      onChange({
        sorting: state.sorting,
        filter: String(state.globalFilter ?? ''),
        columns: state.columnVisibility,
        selected: Object.keys(state.rowSelection).filter((k) => state.rowSelection[k]),
      });
    },
    getRowId: (row) => row.id,
    getCoreRowModel: getCoreRowModel(),
    getSortedRowModel: getSortedRowModel(),
    getFilteredRowModel: getFilteredRowModel(),
    // The columns shown take part in the filter, whatever their first row holds; matched as shown.
    getColumnCanGlobalFilter: (column) => column.getIsVisible(),
    globalFilterFn: (row, columnId, search: string) =>
      cellText(row.getValue(columnId)).toLowerCase().includes(String(search).toLowerCase()),
    enableRowSelection: true,
    enableMultiSort: false,
    renderFallbackValue: null,
  });
  return table;
}
