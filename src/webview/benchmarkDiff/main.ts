// Browser code of the benchmark diff: models as columns (baseline first), a row per task and metric,
// Δ against the baseline coloured by whether it is better and by how much, significance marks, a
// filter to what differs, sortable columns, a bar chart per task, and exports. Every name from a
// result file goes in as text.
import type { BenchmarkDiff, DiffCell, DiffRow, RowUnit } from '../../core/results/diff';
import type { ExamplesView } from '../../core/results/examples';
import {
  CORRECTION_LABEL,
  direction,
  formatDelta,
  formatP,
  formatValue,
  legend,
  METHOD_LABEL,
  tasksLabel,
  toCsv,
  toLatex,
  toMarkdown,
} from '../../core/results/format';
import type { Correction } from '../../core/results/stats';
import { $, el, showMessage, vscodeApi } from '../shared/dom';
import { barChart } from './bars';
import { renderExamples } from './examples';
import type { BenchmarkDiffState, ExportFormat, FromWebview, SortKey, ToWebview } from './protocol';
import { asShown, magnitude, shownRows } from './view';

const vscode = vscodeApi<FromWebview, BenchmarkDiffState>();
let state: BenchmarkDiffState = vscode.getState() ?? { models: [], onlyDiffers: true };
let report: BenchmarkDiff | undefined;
let examples: ExamplesView | undefined;

/** "0.7800 ± 0.0089 · n = 2376 · Δ +0.0300 · p = 0.012 (z-test on standard errors) · Holm-adjusted p = 0.048" for a cell's tooltip. */
function cellTitle(c: DiffCell, unit: RowUnit, correction: Correction): string {
  const parts = [`${formatValue(c.value, unit)}${c.stderr !== undefined ? ` ± ${formatValue(c.stderr, unit)}` : ''}`];
  if (c.n !== undefined) parts.push(`n = ${c.n}`);
  if (c.delta !== undefined) parts.push(`Δ ${formatDelta(c.delta, unit)}`);
  if (c.test) {
    const d = c.test.discordant ? `, b = ${c.test.discordant.b}, c = ${c.test.discordant.c}` : '';
    parts.push(
      `p = ${formatP(c.test.p)} (${METHOD_LABEL[c.test.method]}${c.test.n !== undefined ? `, ${c.test.n} paired` : ''}${d})`,
    );
    if (c.pAdjusted !== undefined) parts.push(`${CORRECTION_LABEL[correction]}-adjusted p = ${formatP(c.pAdjusted)}`);
  } else if (c.delta !== undefined)
    parts.push('no test: neither per-example records nor standard errors on both sides');
  return parts.join(' · ');
}

/** A value, bold where best; Δ coloured by direction (class better / worse) and size (m1–m4); the mark. */
function valueCell(
  c: DiffCell,
  unit: RowUnit,
  best: boolean,
  baseline: number | undefined,
  correction: Correction,
): HTMLTableCellElement {
  const td = el('td', { class: 'num', title: cellTitle(c, unit, correction) });
  td.append(el('span', { class: best ? 'value best' : 'value' }, formatValue(c.value, unit)));
  if (c.delta !== undefined) {
    const tone = c.better === true ? 'better' : c.better === false ? 'worse' : 'same';
    // A Δ its test does not tell from noise is muted, whatever its size; the p shows beside it.
    const p = c.pAdjusted ?? c.test?.p;
    const muted = p !== undefined && p >= 0.05;
    td.append(
      ' ',
      el(
        'span',
        { class: `delta ${tone} m${magnitude(c.delta, baseline, unit)}${muted ? ' ns' : ''}` },
        formatDelta(c.delta, unit),
      ),
    );
    if (p !== undefined) td.append(el('span', { class: 'p muted' }, ` p=${formatP(p)}`));
  }
  if (c.mark) td.append(el('sup', { class: 'mark' }, c.mark));
  return td;
}

/** A column heading that sorts: ascending, then descending, then back to the file's order. */
function sortHeader(label: string, column: SortKey['column'], extra?: HTMLElement): HTMLTableCellElement {
  const th = el('th', { scope: 'col' });
  const active = state.sort?.column === column;
  th.setAttribute('aria-sort', active ? (state.sort!.descending ? 'descending' : 'ascending') : 'none');
  const button = el('button', { class: 'sort', 'data-column': String(column) }, label);
  button.append(
    el('span', { class: 'arrow', 'aria-hidden': 'true' }, active ? (state.sort!.descending ? ' ▼' : ' ▲') : ''),
  );
  button.addEventListener('click', () => {
    state.sort = !active
      ? { column, descending: false }
      : !state.sort!.descending
        ? { column, descending: true }
        : undefined;
    render();
    (document.querySelector(`button.sort[data-column="${String(column)}"]`) as HTMLElement | null)?.focus();
  });
  th.append(button);
  if (extra) th.append(extra);
  return th;
}

function renderTable(r: BenchmarkDiff, rows: DiffRow[]): void {
  const table = el('table', { class: 'compare bench' });
  const head = el('tr');
  head.append(sortHeader('Task', 'task'), sortHeader('Metric', 'metric'));
  r.models.forEach((m, i) =>
    head.append(
      sortHeader(m.name, i, el('div', { class: 'muted', title: m.file }, i === 0 ? 'baseline' : 'Δ vs baseline')),
    ),
  );
  table.append(el('thead'));
  table.tHead!.append(head);
  const body = el('tbody');
  for (const row of rows) {
    const tr = el('tr', row.differs ? { class: 'differs' } : {});
    tr.append(
      el('th', { scope: 'row', class: row.subtask ? 'subtask' : '' }, row.task),
      el('td', { class: 'metric' }, `${row.metric} ${direction(row)}`),
    );
    row.cells.forEach((c, i) => {
      const td = valueCell(c, row.unit, row.best.includes(i), row.cells[0].value, r.correction);
      // A model's cell opens the examples behind it, against the baseline.
      if (i > 0 && c.value !== undefined) {
        Object.assign(td.dataset, { task: row.task, metric: row.metric, model: r.models[i].name });
        td.classList.add('opens');
        td.tabIndex = 0;
        td.setAttribute('role', 'button');
        td.setAttribute('aria-label', `${r.models[i].name} on ${row.task} / ${row.metric}: show the examples`);
      }
      tr.append(td);
    });
    body.append(tr);
  }
  table.append(body);
  const a = r.average;
  if (a) {
    const foot = el('tfoot');
    const tr = el('tr', { class: 'average' });
    tr.append(
      el('th', { scope: 'row', title: a.tasks.join(', ') }, 'Average'),
      el('td', { class: 'metric' }, tasksLabel(a.tasks.length)),
    );
    a.cells.forEach((c, i) =>
      tr.append(valueCell({ ...c, mark: '' }, a.unit, a.best.includes(i), a.cells[0].value, r.correction)),
    );
    foot.append(tr);
    table.append(foot);
  }
  $('table').replaceChildren(table);
}

function renderCharts(r: BenchmarkDiff, rows: DiffRow[]): void {
  // One chart per task: its first metric in the report's order, so sorting the table does not change which metric a chart shows.
  const seen = new Set<string>();
  const charts = rows.filter((row) => !seen.has(row.task) && seen.add(row.task));
  $('charts').replaceChildren(
    ...charts.map((row) =>
      barChart(
        row,
        r.models.map((m) => m.name),
      ),
    ),
  );
}

function renderList(id: string, items: string[]): void {
  $(id).replaceChildren(...items.map((t) => el('li', {}, t)));
  $(id).hidden = items.length === 0;
}

function render(): void {
  vscode.setState(state);
  ($('only-differs') as HTMLInputElement).checked = state.onlyDiffers;
  if (!report) return;
  const r = report;
  const rows = shownRows(r, state.onlyDiffers, state.sort);
  $('subtitle').textContent = `${r.models.length} models, ${r.rows.length} task × metric rows; Δ against ${r.baseline}`;
  const select = $('baseline') as HTMLSelectElement;
  select.replaceChildren(...r.models.map((m) => el('option', { value: m.name }, m.name)));
  select.value = r.baseline;
  ($('correction') as HTMLSelectElement).value = r.correction;
  renderTable(r, rows);
  renderCharts(r, shownRows(r, state.onlyDiffers));
  $('count').textContent = `${r.rows.filter((x) => x.differs).length} of ${r.rows.length} rows differ`;
  $('legend').textContent = legend(r);
  renderList('notes', r.notes);
}

/** The test of the cell the examples belong to, for their counts line. */
function testOf(view: ExamplesView) {
  const row = report?.rows.find((r) => r.task === view.task && r.metric === view.metric);
  const i = report?.models.findIndex((m) => m.name === view.models[1]) ?? -1;
  return i > 0 ? row?.cells[i].test : undefined;
}

function renderExamplesView(): void {
  const root = $('examples');
  if (!examples || !state.examples) {
    root.hidden = true;
    root.replaceChildren();
    return;
  }
  renderExamples(
    root,
    examples,
    state.examples.filter,
    testOf(examples),
    (filter) => {
      state.examples!.filter = filter;
      vscode.setState(state);
      renderExamplesView();
    },
    () => {
      state.examples = undefined;
      examples = undefined;
      vscode.setState(state);
      renderExamplesView();
    },
  );
}

function openExamples(task: string, metric: string, model: string): void {
  state.examples = { task, metric, model, filter: state.examples?.filter ?? 'flipped' };
  vscode.setState(state);
  vscode.postMessage({ type: 'examples', task, metric, model });
}

$('table').addEventListener('click', (e) => {
  const td = (e.target as HTMLElement).closest('td.opens') as HTMLTableCellElement | null;
  if (td) openExamples(td.dataset.task!, td.dataset.metric!, td.dataset.model!);
});
$('table').addEventListener('keydown', (e) => {
  const td = (e.target as HTMLElement).closest('td.opens') as HTMLTableCellElement | null;
  if (td && (e.key === 'Enter' || e.key === ' ')) {
    e.preventDefault();
    openExamples(td.dataset.task!, td.dataset.metric!, td.dataset.model!);
  }
});

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const m = event.data;
  if (m.type === 'examples') {
    examples = m.view;
    if (m.error) showMessage(m.error);
    renderExamplesView();
    if (m.view) $('examples').scrollIntoView?.({ block: 'start' });
    vscode.postMessage({ type: 'rendered', rows: m.view ? m.view.rows.length : 0 });
    return;
  }
  showMessage(m.type === 'error' ? m.message : undefined);
  if (m.type === 'error') return;
  report = m.report;
  state = { ...state, models: m.models, baseline: m.report.baseline, correction: m.report.correction };
  renderList('problems', m.problems);
  render();
  vscode.postMessage({ type: 'rendered', rows: m.report.rows.length });
  // A reloaded page, or a new baseline: the examples open before are read again.
  if (state.examples)
    vscode.postMessage({
      type: 'examples',
      task: state.examples.task,
      metric: state.examples.metric,
      model: state.examples.model,
    });
});

$('only-differs').addEventListener('change', (e) => {
  state.onlyDiffers = (e.target as HTMLInputElement).checked;
  render();
});
$('baseline').addEventListener('change', (e) =>
  vscode.postMessage({ type: 'baseline', model: (e.target as HTMLSelectElement).value }),
);
$('correction').addEventListener('change', (e) =>
  vscode.postMessage({ type: 'correction', correction: (e.target as HTMLSelectElement).value as Correction }),
);
const EXPORTS: Record<ExportFormat, (r: BenchmarkDiff) => string> = {
  markdown: toMarkdown,
  csv: toCsv,
  latex: toLatex,
};
for (const format of ['markdown', 'csv', 'latex'] as const) {
  $(`export-${format}`).addEventListener('click', () => {
    if (report)
      vscode.postMessage({
        type: 'export',
        format,
        content: EXPORTS[format](asShown(report, shownRows(report, state.onlyDiffers, state.sort))),
      });
  });
}
vscode.postMessage({ type: 'ready' });
