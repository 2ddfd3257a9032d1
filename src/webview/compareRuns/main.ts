// Browser code of the run comparison: one column per run, a row per result and config key (only the
// rows that differ by default), the loss curves overlaid, and Markdown / CSV exports of the table as
// shown. All file content goes in as text.
import { LineChart } from '../shared/chart';
import { $, el, showMessage, vscodeApi } from '../shared/dom';
import type { CompareState, FromWebview, RunData, ToWebview } from './protocol';
import { compareRows, Row, runLabels, toCsv, toMarkdown } from './table';

const vscode = vscodeApi<FromWebview, CompareState>();
let state: CompareState = vscode.getState() ?? { runDirs: [], onlyDiffers: true };
let runs: RunData[] = [];
let rows: Row[] = [];

const chart = new LineChart({ title: 'loss', xLabel: 'step', legend: true, height: 240 });
$('chart').append(chart.element);

const shown = () => rows.filter((r) => r.differs || !state.onlyDiffers);

function renderTable(): void {
  const labels = runLabels(runs);
  const table = el('table', { class: 'compare' });
  const head = el('tr');
  head.append(el('th', { scope: 'col' }, 'key'));
  runs.forEach((r, i) => {
    const th = el('th', { scope: 'col', title: r.dir }, labels[i]);
    th.append(el('div', { class: 'muted' }, r.status.id));
    head.append(th);
  });
  table.append(el('thead'));
  table.tHead!.append(head);
  for (const [group, title] of [
    ['results', 'Results'],
    ['config', 'Config'],
  ] as const) {
    const body = el('tbody');
    body.append(el('tr', { class: 'group' }));
    body.rows[0].append(el('th', { scope: 'rowgroup', colspan: String(runs.length + 1) }, title));
    for (const r of rows.filter((x) => x.group === group)) {
      const tr = el('tr', r.differs ? { class: 'differs' } : {});
      tr.hidden = state.onlyDiffers && !r.differs;
      tr.append(el('th', { scope: 'row' }, r.key), ...r.values.map((v) => el('td', {}, v)));
      body.append(tr);
    }
    table.append(body);
  }
  $('table').replaceChildren(table);
  $('count').textContent = `${rows.filter((r) => r.differs).length} of ${rows.length} rows differ`;
}

function render(): void {
  vscode.setState(state);
  ($('only-differs') as HTMLInputElement).checked = state.onlyDiffers;
  renderTable();
  const labels = runLabels(runs);
  chart.update(
    runs.map((r, i) => ({ label: labels[i], xs: r.metrics.map((m) => m.step), ys: r.metrics.map((m) => m.loss) })),
  );
}

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const m = event.data;
  showMessage(m.type === 'error' ? m.message : undefined);
  if (m.type === 'error') return;
  runs = m.runs;
  rows = compareRows(runs);
  state = { ...state, runDirs: runs.map((r) => r.dir) };
  render();
  vscode.postMessage({ type: 'rendered', runs: runs.length });
});

$('only-differs').addEventListener('change', (e) => {
  state.onlyDiffers = (e.target as HTMLInputElement).checked;
  render();
});
for (const format of ['markdown', 'csv'] as const) {
  $(`export-${format}`).addEventListener('click', () => {
    const labels = runLabels(runs);
    vscode.postMessage({
      type: 'export',
      format,
      content: format === 'markdown' ? toMarkdown(labels, shown()) : toCsv(labels, shown()),
    });
  });
}
vscode.postMessage({ type: 'ready' });
