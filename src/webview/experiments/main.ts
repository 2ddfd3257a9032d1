// Browser code of the experiments table: every run as a row, columns chosen by the user (remembered),
// sortable by a header click, filtered by a text over the columns shown, rows selected to plot their
// curves overlaid or to compare them. Controls are VS Code Elements; everything from files goes in as text.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import type { ExperimentColumn, ExperimentRow, ExperimentsTable } from '../../core/experiments/table';
import { $, el, showMessage, vscodeApi } from '../shared/dom';
import { drawPlots } from './plots';
import type { ExperimentsState, FromWebview, ToWebview } from './protocol';
import { cellText, experimentsTableModel, Table } from './table';

const vscode = vscodeApi<FromWebview, ExperimentsState>();
const DEFAULTS: ExperimentsState = {
  sorting: [],
  filter: '',
  columns: {},
  selected: [],
  smoothing: 0,
  logScale: false,
};
let state: ExperimentsState = { ...DEFAULTS, ...vscode.getState() };
let data: ExperimentsTable | undefined;
let table: Table<ExperimentRow> | undefined;

const GROUPS: Record<ExperimentColumn['group'], string> = {
  run: 'Run',
  metric: 'Training',
  param: 'Parameters',
  benchmark: 'Benchmarks',
};

function save(): void {
  vscode.setState(state);
}

/** Column headings that sort: a click cycles through the column's first direction, the other, and none. */
function renderTable(t: Table<ExperimentRow>): void {
  const tableEl = el('table', { class: 'compare experiments' });
  const head = el('tr');
  const all = el('input', { type: 'checkbox', id: 'select-all', 'aria-label': 'Select every run shown' });
  all.checked = t.getIsAllRowsSelected();
  all.indeterminate = !all.checked && t.getIsSomeRowsSelected();
  all.addEventListener('change', () => t.toggleAllRowsSelected(all.checked));
  const first = el('th', { scope: 'col' });
  first.append(all);
  head.append(first);
  for (const header of t.getHeaderGroups()[0].headers) {
    const column = header.column;
    const meta = column.columnDef.meta as ExperimentColumn;
    const sorted = column.getIsSorted();
    const th = el('th', {
      scope: 'col',
      'aria-sort': sorted === 'asc' ? 'ascending' : sorted === 'desc' ? 'descending' : 'none',
      class: `group-${meta.group}`,
    });
    if (meta.description) th.title = meta.description;
    const button = el('button', { class: 'sort', 'data-column': column.id }, meta.label);
    button.append(
      el('span', { class: 'arrow', 'aria-hidden': 'true' }, sorted === 'asc' ? ' ▲' : sorted === 'desc' ? ' ▼' : ''),
    );
    button.addEventListener('click', () => {
      column.toggleSorting(undefined, false);
      (document.querySelector(`button.sort[data-column="${CSS.escape(column.id)}"]`) as HTMLElement | null)?.focus();
    });
    th.append(button);
    head.append(th);
  }
  tableEl.append(el('thead'));
  tableEl.tHead!.append(head);
  const body = el('tbody');
  for (const row of t.getRowModel().rows) {
    const tr = el('tr', { 'data-id': row.id, class: row.getIsSelected() ? 'selected' : '' });
    const box = el('input', {
      type: 'checkbox',
      class: 'select',
      'aria-label': `Select ${String(row.original.values.name)} (${String(row.original.values.started)})`,
    });
    box.checked = row.getIsSelected();
    box.addEventListener('change', () => row.toggleSelected(box.checked));
    const cell = el('td');
    cell.append(box);
    tr.append(cell);
    for (const c of row.getVisibleCells()) {
      const meta = c.column.columnDef.meta as ExperimentColumn;
      const value = row.original.values[c.column.id];
      const td = el('td', { class: meta.type === 'number' ? 'num' : '', 'data-column': c.column.id });
      if (c.column.id === 'name') {
        const open = el('button', { class: 'link', title: `Open the dashboard of ${row.id}` }, cellText(value));
        open.addEventListener('click', () => vscode.postMessage({ type: 'open', dir: row.id }));
        td.append(open);
      } else if (c.column.id === 'state')
        td.append(el('span', { class: `state state-${String(value)}` }, cellText(value)));
      else td.textContent = cellText(value);
      tr.append(td);
    }
    body.append(tr);
  }
  tableEl.append(body);
  $('table').replaceChildren(tableEl);
  const shown = t.getRowModel().rows.length;
  $('count').textContent =
    `${shown} of ${t.getCoreRowModel().rows.length} runs${state.selected.length ? ` · ${state.selected.length} selected` : ''}`;
}

/** The column chooser: a checkbox per column, grouped. */
function renderColumns(t: Table<ExperimentRow>): void {
  const box = $('columns');
  const legend = el('legend', {}, 'Columns');
  const groups = new Map<string, HTMLElement>();
  for (const column of t.getAllLeafColumns()) {
    const meta = column.columnDef.meta as ExperimentColumn;
    if (!groups.has(meta.group)) {
      const g = el('div', { class: 'column-group' });
      g.append(el('h3', {}, GROUPS[meta.group]));
      groups.set(meta.group, g);
    }
    const check = el('vscode-checkbox', { 'data-column': column.id, label: meta.label });
    (check as unknown as { checked: boolean }).checked = column.getIsVisible();
    if (meta.description) check.title = meta.description;
    check.addEventListener('change', () => column.toggleVisibility((check as unknown as { checked: boolean }).checked));
    groups.get(meta.group)!.append(check);
  }
  box.replaceChildren(legend, ...groups.values());
}

function selectedRows(): ExperimentRow[] {
  return (data?.rows ?? []).filter((r) => state.selected.includes(r.id));
}

function renderPlots(): void {
  const rows = selectedRows();
  const names = rows.map((r) => r.values.name);
  // Two runs of one experiment read alike: their start time tells them apart.
  const labels = rows.map((r) =>
    names.filter((n) => n === r.values.name).length > 1
      ? `${String(r.values.name)} (${String(r.values.started)})`
      : String(r.values.name),
  );
  $('plot-hint').hidden = rows.length > 0;
  drawPlots($('plots'), rows, labels, { smoothing: state.smoothing, logScale: state.logScale });
  ($('compare') as HTMLElement & { disabled: boolean }).disabled = rows.length < 2;
}

function render(): void {
  if (!table || !data) return;
  renderTable(table);
  renderPlots();
  save();
}

function build(t: ExperimentsTable): void {
  data = t;
  table = experimentsTableModel(t, state, (arranged) => {
    const selectionChanged = arranged.selected.join('\n') !== state.selected.join('\n');
    const columnsChanged = JSON.stringify(arranged.columns) !== JSON.stringify(state.columns);
    state = { ...state, ...arranged };
    renderTable(table!);
    if (columnsChanged) renderColumns(table!);
    if (selectionChanged) renderPlots();
    save();
  });
  state.selected = state.selected.filter((d) => t.rows.some((r) => r.id === d));
  renderColumns(table);
  $('subtitle').textContent =
    `${t.rows.length} run${t.rows.length === 1 ? '' : 's'}; columns for the parameters that differ between runs, training metrics and benchmark scores`;
  render();
}

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const m = event.data;
  showMessage(m.type === 'error' ? m.message : undefined);
  if (m.type === 'error') return;
  build(m.table);
  vscode.postMessage({ type: 'rendered', rows: table!.getRowModel().rows.length });
});

const filter = $('filter') as HTMLElement & { value: string };
filter.value = state.filter;
filter.addEventListener('input', () => table?.setGlobalFilter(filter.value));
$('columns-button').addEventListener('click', () => {
  const box = $('columns');
  box.hidden = !box.hidden;
  $('columns-button').setAttribute('aria-expanded', String(!box.hidden));
});
$('compare').addEventListener('click', () => {
  if (state.selected.length >= 2) vscode.postMessage({ type: 'compare', dirs: state.selected });
});
const smoothing = $('smoothing') as HTMLInputElement;
smoothing.value = String(state.smoothing);
$('smoothing-value').textContent = String(state.smoothing);
smoothing.addEventListener('input', () => {
  state.smoothing = Number(smoothing.value);
  $('smoothing-value').textContent = smoothing.value;
  renderPlots();
  save();
});
const log = $('log-scale') as HTMLElement & { checked: boolean };
log.checked = state.logScale;
log.addEventListener('change', () => {
  state.logScale = log.checked;
  renderPlots();
  save();
});
vscode.postMessage({ type: 'ready' });
