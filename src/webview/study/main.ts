// Browser code of the study page: variants × tasks with Δ against the base and against the full
// fine-tune (marks from the paired tests, under the chosen correction), the per-layer scans as a
// heatmap, and exports (made by the host from the same table). Every name goes in as text.
import type { Correction } from '../../core/results/stats';
import { Comparison, scanHeatmap, showDelta, showValue, StudyTable } from '../../core/study/table';
import { $, el, showMessage, vscodeApi } from '../shared/dom';
import type { FromWebview, StudyPageState, ToWebview } from './protocol';

const vscode = vscodeApi<FromWebview, StudyPageState>();
let state: StudyPageState = vscode.getState() ?? { dir: '' };
let tables: Record<Correction, StudyTable> | undefined;

const pLine = (c: Comparison) =>
  c.p === undefined
    ? 'no test'
    : `p = ${c.p.toPrecision(3)}${c.pAdjusted !== undefined ? `, adjusted ${c.pAdjusted.toPrecision(3)}` : ''}${c.method ? ` (${c.method})` : ''}`;
const tone = (d: number | undefined) => (d === undefined || d === 0 ? 'same' : d > 0 ? 'better' : 'worse');

function comparison(
  label: string,
  c: Comparison | undefined,
  unit: StudyTable['tasks'][number]['unit'],
): HTMLElement | undefined {
  if (!c) return undefined;
  return el(
    'span',
    { class: `vs delta ${tone(c.delta)}`, title: `${label}: ${pLine(c)}` },
    `${label} ${showDelta(c, unit)}`,
  );
}

function drawTable(t: StudyTable): number {
  const table = el('table', { class: 'bench' });
  const head = el('tr');
  head.append(el('th', { scope: 'col' }, 'Variant'), el('th', { scope: 'col' }, 'Recipe'));
  for (const task of t.tasks) head.append(el('th', { scope: 'col' }, `${task.task} · ${task.metric}`));
  head.append(el('th', { scope: 'col' }, 'Average'));
  table.append(el('thead'));
  table.tHead!.append(head);
  const body = el('tbody');
  t.rows.forEach((r, i) => {
    const tr = el('tr', { class: r.scan ? 'scan' : '' });
    const detail = [r.layers && `layers ${r.layers[0]}-${r.layers[1]}`, r.scale !== undefined && `scale ${r.scale}`]
      .filter(Boolean)
      .join(', ');
    tr.append(
      el('th', { scope: 'row' }, r.name),
      el('td', { class: 'metric' }, detail ? `${r.recipe} (${detail})` : r.recipe),
    );
    r.cells.forEach((c, k) => {
      const unit = t.tasks[k].unit;
      const td = el('td', { class: 'num' });
      if (r.missing) td.append(el('span', { class: 'muted' }, 'not evaluated'));
      else td.append(el('span', { class: t.best[k].includes(i) ? 'value best' : 'value' }, showValue(c.value, unit)));
      for (const part of [comparison('vs base', c.vsBase, unit), comparison('vs full', c.vsFull, unit)])
        if (part) td.append(part);
      tr.append(td);
    });
    tr.append(el('td', { class: 'num' }, showValue(r.average, t.tasks[0]?.unit ?? 'fraction')));
    body.append(tr);
  });
  table.append(body);
  $('table').replaceChildren(table);
  return t.rows.length;
}

function drawHeatmap(t: StudyTable): number {
  const scans = scanHeatmap(t);
  $('scan-section').hidden = scans.length === 0;
  const max = Math.max(1e-12, ...scans.flatMap((s) => s.deltas.map((d) => Math.abs(d ?? 0))));
  const table = el('table', { class: 'heatmap bench' });
  const head = el('tr');
  head.append(el('th', { scope: 'col' }, 'FFN reverted to base'));
  for (const task of t.tasks) head.append(el('th', { scope: 'col' }, task.task));
  table.append(el('thead'));
  table.tHead!.append(head);
  const body = el('tbody');
  for (const s of scans) {
    const tr = el('tr');
    tr.append(
      el(
        'th',
        { scope: 'row', title: s.name },
        s.layers[0] === s.layers[1] ? `layer ${s.layers[0]}` : `layers ${s.layers[0]}-${s.layers[1]}`,
      ),
    );
    s.deltas.forEach((d, k) => {
      const level = d === undefined || d === 0 ? 0 : Math.min(4, 1 + Math.floor((3.999 * Math.abs(d)) / max));
      const unit = t.tasks[k].unit;
      tr.append(
        el(
          'td',
          { class: `${tone(d)} h${level}`, title: `${s.name}, ${t.tasks[k].task}: ${showValue(s.values[k], unit)}` },
          d === undefined ? '' : `${d < 0 ? '−' : '+'}${showValue(Math.abs(d), unit)}`,
        ),
      );
    });
    body.append(tr);
  }
  table.append(body);
  $('heatmap').replaceChildren(table);
  return scans.length;
}

function draw(): void {
  if (!tables) return;
  const correction = state.correction ?? 'none';
  const t = tables[correction];
  ($('correction') as HTMLSelectElement).value = correction;
  $('title').textContent = `Study: ${t.name}`;
  $('subtitle').textContent =
    `${t.rows.length} variants × ${t.tasks.length} tasks${t.layerCount ? `, ${t.layerCount} layers` : ''}`;
  $('legend').textContent =
    `Δ in points against ${t.base ?? '(no base variant)'} and ${t.full ?? '(no full fine-tune variant)'}; * p < 0.05, ** p < 0.01, *** p < 0.001 (paired tests on the per-example records${correction === 'none' ? '' : `, ${correction === 'holm' ? 'Holm' : 'Benjamini–Hochberg'}-corrected over each variant's tasks`}).`;
  const rows = drawTable(t);
  const heatmap = drawHeatmap(t);
  $('count').textContent = `${rows} variants`;
  vscode.postMessage({ type: 'rendered', rows, heatmap });
}

window.addEventListener('message', (e: MessageEvent<ToWebview>) => {
  const m = e.data;
  if (m.type === 'error') return showMessage(m.message);
  showMessage(undefined);
  tables = m.tables;
  state = { ...state, dir: m.dir };
  vscode.setState(state);
  const list = $('problems');
  list.replaceChildren(...m.problems.map((p) => el('li', {}, p)));
  list.hidden = m.problems.length === 0;
  draw();
});

$('correction').addEventListener('change', () => {
  state = { ...state, correction: ($('correction') as HTMLSelectElement).value as Correction };
  vscode.setState(state);
  draw();
});
for (const format of ['csv', 'latex'] as const)
  $(`export-${format}`).addEventListener('click', () =>
    vscode.postMessage({ type: 'export', format, correction: state.correction ?? 'none' }),
  );
vscode.postMessage({ type: 'ready' });
