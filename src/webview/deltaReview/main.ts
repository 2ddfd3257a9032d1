// Browser code of the weight-delta review: a layers × modules heatmap that fills in while statistics
// stream, a per-block summary, a detail pane, keyboard navigation, and exports. Everything from files
// is inserted as text (textContent), never as HTML.
import { BLOCKS_IN_COMPUTE_ORDER, MODULES_IN_COMPUTE_ORDER } from '../../core/classify/types';
import type { TensorDelta } from '../../core/delta/diff';
import { formatBytes } from '../../core/util/size';
import { $, el, frameScheduler, vscodeApi } from '../shared/dom';
import type { FromWebview, Metric, ReviewState, ToWebview } from './protocol';

const vscode = vscodeApi<FromWebview, ReviewState>();
/** Columns in the order a transformer layer computes them; other modules follow alphabetically. */
const moduleRank = (m: string) => {
  const i = MODULES_IN_COMPUTE_ORDER.indexOf(m.split('#')[0]);
  return i < 0 ? MODULES_IN_COMPUTE_ORDER.length : i;
};
let state: ReviewState = vscode.getState() ?? {
  base: '',
  finetuned: '',
  tensors: [],
  status: 'running',
  metric: 'relative',
  filter: '',
};

function nonFinite(t: TensorDelta): number {
  return t.nonFinite.base.nan + t.nonFinite.base.inf + t.nonFinite.finetuned.nan + t.nonFinite.finetuned.inf;
}

/** The metric's value and a 0..1 intensity for colouring. */
function metricOf(t: TensorDelta, metric: Metric, max: number): { value: number; text: string; intensity: number } {
  switch (metric) {
    case 'absolute':
      return { value: t.normDelta, text: t.normDelta.toPrecision(3), intensity: max > 0 ? t.normDelta / max : 0 };
    case 'cosine':
      return {
        value: t.cosine,
        text: t.cosine.toFixed(4),
        intensity: Math.min(1, (1 - t.cosine) / Math.max(max, 1e-12)),
      };
    case 'spectrum': {
      const s = t.spectrum?.[0] ?? 0;
      return { value: s, text: t.spectrum ? s.toPrecision(3) : '—', intensity: max > 0 ? s / max : 0 };
    }
    default:
      // Relative change spans decades: colour on a log scale from 1e-6 to the largest seen.
      return {
        value: t.relative,
        text: `${(t.relative * 100).toPrecision(3)}%`,
        intensity: t.relative > 0 && max > 0 ? Math.max(0, 1 + Math.log10(t.relative / max) / 6) : 0,
      };
  }
}

function metricMax(ts: TensorDelta[], metric: Metric): number {
  let m = 0;
  for (const t of ts) {
    const v =
      metric === 'absolute'
        ? t.normDelta
        : metric === 'cosine'
          ? 1 - t.cosine
          : metric === 'spectrum'
            ? (t.spectrum?.[0] ?? 0)
            : t.relative;
    if (Number.isFinite(v) && v > m) m = v;
  }
  return m;
}

function moduleKey(t: TensorDelta): string {
  return t.expert === undefined ? t.module : `${t.module}#${t.expert}`;
}

function visible(t: TensorDelta): boolean {
  const f = state.filter.trim().toLowerCase();
  return f === '' || t.name.toLowerCase().includes(f) || t.module.toLowerCase().includes(f) || t.block.includes(f);
}

function render(): void {
  vscode.setState(state);
  $('title').textContent = state.finetuned ? `${state.finetuned}` : 'Weight-delta review';
  $('subtitle').textContent = state.base
    ? `against base ${state.base}${state.merged ? `, merged output ${state.merged}` : ''}`
    : '';
  const done = state.report !== undefined;
  $('status').textContent =
    state.status === 'running'
      ? runningText()
      : state.status === 'done'
        ? `${state.tensors.length} tensors`
        : state.status === 'cancelled'
          ? 'cancelled'
          : `error: ${state.message ?? ''}`;
  ($('cancel') as HTMLButtonElement).hidden = state.status !== 'running';
  for (const id of ['export-md', 'export-csv']) ($(id) as HTMLButtonElement).disabled = !done;
  ($('metric') as HTMLSelectElement).value = state.metric;
  renderVerdict();
  renderSummary();
  renderHeatmap();
  renderTable();
  renderDetail();
}

function renderVerdict(): void {
  const box = $('verdict');
  box.replaceChildren();
  const bad = state.tensors.filter((t) => nonFinite(t) > 0);
  const forbidden = state.tensors.filter((t) => t.merged?.expected && t.merged.source !== t.merged.expected);
  if (bad.length)
    box.append(
      el(
        'p',
        { class: 'alarm', role: 'alert' },
        `⚠ ${bad.length} tensor(s) hold NaN or Inf: ${bad
          .slice(0, 5)
          .map((t) => t.name)
          .join(', ')}`,
      ),
    );
  if (forbidden.length)
    box.append(
      el(
        'p',
        { class: 'alarm', role: 'alert' },
        `⚠ ${forbidden.length} tensor(s) in the merged output do not come from where its recipe says: ${forbidden
          .slice(0, 5)
          .map((t) => t.name)
          .join(', ')}`,
      ),
    );
  if (state.report?.threeWay)
    box.append(
      el(
        'p',
        { class: forbidden.length || state.report.threeWay.failed ? 'alarm' : 'ok' },
        state.report.threeWay.verdict,
      ),
    );
}

function renderSummary(): void {
  const rows = BLOCKS_IN_COMPUTE_ORDER.map((b) => {
    const ts = state.tensors.filter((t) => t.block === b);
    if (ts.length === 0) return undefined;
    const nb = Math.sqrt(ts.reduce((s, t) => s + t.normBase ** 2, 0));
    const nd = Math.sqrt(ts.reduce((s, t) => s + t.normDelta ** 2, 0));
    return [
      b,
      String(ts.length),
      String(ts.filter((t) => t.changedFraction > 0).length),
      nd.toPrecision(4),
      nb > 0 ? `${((nd / nb) * 100).toPrecision(3)}%` : '0%',
    ];
  }).filter((r): r is string[] => r !== undefined);
  const table = el('table', { class: 'summary' });
  const head = el('tr');
  for (const h of ['block', 'tensors', 'changed', '‖Δ‖', '‖Δ‖/‖W‖']) head.append(el('th', { scope: 'col' }, h));
  table.append(head);
  for (const r of rows) {
    const tr = el('tr');
    r.forEach((c, i) => tr.append(el(i === 0 ? 'th' : 'td', i === 0 ? { scope: 'row' } : {}, c)));
    table.append(tr);
  }
  $('summary').replaceChildren(table);
}

/** The smallest colour step of a changed cell, in percent of the full colour. */
const MIN_VISIBLE = 12;

/** What the colours and marks mean: the scale from no change to the largest, and the cell marks. */
function heatmapLegend(max: number): HTMLElement {
  const box = el('div', { class: 'heatmap-legend', id: 'heatmap-legend' });
  const scale = el('div', { class: 'scale', role: 'img' });
  const low = state.metric === 'relative' ? `${(max * 1e-6 * 100).toPrecision(2)}%` : '0';
  const high =
    state.metric === 'relative'
      ? `${(max * 100).toPrecision(3)}%`
      : state.metric === 'cosine'
        ? `1 − cos = ${max.toPrecision(3)}`
        : max.toPrecision(3);
  scale.setAttribute(
    'aria-label',
    `colour scale from ${low} to ${high}${state.metric === 'relative' ? ', logarithmic' : ''}`,
  );
  scale.append(el('span', { class: 'muted' }, `unchanged · ${low}`));
  for (const pct of [0, MIN_VISIBLE, 25, 50, 75, 100]) {
    const sw = el('span', { class: 'swatch', 'aria-hidden': 'true' });
    sw.style.setProperty('--intensity', `${pct}%`);
    scale.append(sw);
  }
  scale.append(
    el('span', { class: 'muted' }, `${high}${state.metric === 'relative' ? ' (log scale, 6 decades)' : ''}`),
  );
  const marks = el('div', { class: 'marks muted' });
  marks.append(
    el('span', { class: 'swatch nonfinite', 'aria-hidden': 'true' }, '!'),
    ' NaN or Inf  ',
    el('span', { class: 'swatch forbidden', 'aria-hidden': 'true' }, '✗'),
    ' not from where the recipe says  ',
    el('span', { class: 'swatch selected', 'aria-hidden': 'true' }),
    ' selected',
  );
  box.append(scale, marks);
  return box;
}

function renderHeatmap(): void {
  const ts = state.tensors.filter((t) => t.layer !== null && visible(t));
  const modules = [...new Set(ts.map(moduleKey))].sort((a, b) => {
    const ba = BLOCKS_IN_COMPUTE_ORDER.indexOf(ts.find((t) => moduleKey(t) === a)!.block);
    const bb = BLOCKS_IN_COMPUTE_ORDER.indexOf(ts.find((t) => moduleKey(t) === b)!.block);
    return ba - bb || moduleRank(a) - moduleRank(b) || a.localeCompare(b, 'en', { numeric: true });
  });
  const layers = [...new Set(ts.map((t) => t.layer!))].sort((a, b) => a - b);
  const byCell = new Map<string, TensorDelta[]>();
  for (const t of ts) {
    const k = `${t.layer}|${moduleKey(t)}`;
    byCell.set(k, [...(byCell.get(k) ?? []), t]);
  }
  const max = metricMax(ts, state.metric);
  const grid = el('table', { class: 'heatmap', role: 'grid', 'aria-label': `layers × modules, ${state.metric}` });
  const head = el('tr');
  head.append(el('th', { scope: 'col' }, 'layer'));
  for (const m of modules) head.append(el('th', { scope: 'col' }, m));
  grid.append(head);
  for (const layer of layers) {
    const tr = el('tr');
    tr.append(el('th', { scope: 'row' }, String(layer)));
    modules.forEach((m, col) => {
      const cell = byCell.get(`${layer}|${m}`);
      const td = el('td', { role: 'gridcell' });
      if (cell) {
        // A weight and its bias share a cell: the weight (largest tensor) speaks for it.
        const t = cell.reduce((a, b) =>
          b.shape.reduce((x, y) => x * y, 1) > a.shape.reduce((x, y) => x * y, 1) ? b : a,
        );
        const v = metricOf(t, state.metric, max);
        const button = el('button', {
          class: 'cell',
          'data-name': t.name,
          'data-row': String(layer),
          'data-col': String(col),
          title: `${t.name}: ${v.text}`,
          'aria-label': `${t.name} ${v.text}`,
          tabindex: t.name === state.selected || (!state.selected && layer === layers[0] && col === 0) ? '0' : '-1',
        });
        // Any change at all stays visible against the background: at least the lowest step of the scale.
        button.style.setProperty(
          '--intensity',
          `${v.intensity > 0 ? Math.max(MIN_VISIBLE, Math.round(v.intensity * 100)) : 0}%`,
        );
        if (nonFinite(t) > 0) button.classList.add('nonfinite');
        if (t.merged?.expected && t.merged.source !== t.merged.expected) button.classList.add('forbidden');
        if (t.name === state.selected) button.classList.add('selected');
        button.textContent =
          nonFinite(t) > 0 ? '!' : t.merged?.expected && t.merged.source !== t.merged.expected ? '✗' : '';
        td.append(button);
      }
      tr.append(td);
    });
    grid.append(tr);
  }
  $('heatmap').replaceChildren(grid, heatmapLegend(max));
  const rest = state.tensors.filter((t) => t.layer === null && visible(t));
  const list = el('ul', { class: 'outside' });
  for (const t of rest) {
    const li = el('li');
    const b = el('button', { class: 'link', 'data-name': t.name }, `${t.name}: ${metricOf(t, state.metric, max).text}`);
    li.append(b);
    list.append(li);
  }
  $('outside').replaceChildren(list);
}

type SortKey = 'relative' | 'normDelta' | 'cosine' | 'maxAbs' | 'changedFraction' | 'name';
const SORT_COLUMNS: [SortKey, string][] = [
  ['name', 'tensor'],
  ['relative', '‖Δ‖/‖W‖'],
  ['normDelta', '‖Δ‖'],
  ['cosine', 'cos'],
  ['maxAbs', 'max |Δ|'],
  ['changedFraction', 'changed'],
];
const TABLE_ROWS = 50;

/** The tensors ranked by a chosen column (click a header; again to reverse), filtered like the heatmap. */
function renderTable(): void {
  const key = state.sort ?? 'relative';
  const dir = state.sortDescending === false ? 1 : -1;
  const ts = state.tensors
    .filter(visible)
    .sort((a, b) => (key === 'name' ? a.name.localeCompare(b.name) : (a[key] as number) - (b[key] as number)) * dir);
  const table = el('table', { class: 'ranking' });
  const head = el('tr');
  for (const [k, label] of SORT_COLUMNS) {
    const th = el('th', { scope: 'col', 'aria-sort': k === key ? (dir < 0 ? 'descending' : 'ascending') : 'none' });
    th.append(
      el('button', { class: 'link sort', 'data-sort': k }, `${label}${k === key ? (dir < 0 ? ' ▼' : ' ▲') : ''}`),
    );
    head.append(th);
  }
  table.append(head);
  for (const t of ts.slice(0, TABLE_ROWS)) {
    const tr = el('tr');
    const name = el('td', { class: 'name' });
    name.append(el('button', { class: 'link', 'data-name': t.name }, t.name));
    tr.append(
      name,
      el('td', {}, `${(t.relative * 100).toPrecision(3)}%`),
      el('td', {}, t.normDelta.toPrecision(3)),
      el('td', {}, t.cosine.toFixed(5)),
      el('td', {}, t.maxAbs.toPrecision(3)),
      el('td', {}, `${(t.changedFraction * 100).toPrecision(3)}%`),
    );
    table.append(tr);
  }
  $('ranking').replaceChildren(
    table,
    el(
      'p',
      { class: 'muted' },
      ts.length > TABLE_ROWS ? `first ${TABLE_ROWS} of ${ts.length}` : `${ts.length} tensors`,
    ),
  );
}

function renderDetail(): void {
  const box = $('detail');
  const t = state.tensors.find((x) => x.name === state.selected);
  box.replaceChildren();
  if (!t) {
    box.append(el('p', { class: 'muted' }, 'Select a cell (click, or arrow keys and Enter) to see its details.'));
    return;
  }
  box.append(el('h3', {}, t.name));
  const dl = el('dl');
  const rows: [string, string][] = [
    [
      'layer / block / module',
      `${t.layer ?? '—'} / ${t.block} / ${t.module}${t.expert !== undefined ? ` (expert ${t.expert})` : ''}`,
    ],
    ['shape', t.shape.join(' × ')],
    ['dtype', `${t.dtype.base} → ${t.dtype.finetuned}`],
    ['‖W‖ / ‖Δ‖', `${t.normBase.toPrecision(5)} / ${t.normDelta.toPrecision(5)}`],
    ['‖Δ‖/‖W‖', `${(t.relative * 100).toPrecision(4)}%`],
    ['cos(W, W′)', t.cosine.toFixed(6)],
    ['max |Δ|', t.maxAbs.toPrecision(4)],
    ['changed elements', `${(t.changedFraction * 100).toPrecision(4)}%`],
    [
      'NaN / Inf',
      `base ${t.nonFinite.base.nan} / ${t.nonFinite.base.inf}, fine-tune ${t.nonFinite.finetuned.nan} / ${t.nonFinite.finetuned.inf}`,
    ],
  ];
  if (t.spectrum) rows.push(['top singular values', t.spectrum.map((s) => s.toPrecision(3)).join(', ')]);
  if (t.merged)
    rows.push([
      'merged output',
      `equals ${t.merged.source}${t.merged.expected ? `, recipe expects ${t.merged.expected}` : ''}`,
    ]);
  for (const [k, v] of rows) dl.append(el('dt', {}, k), el('dd', {}, v));
  box.append(dl, histogram(t));
}

function histogram(t: TensorDelta): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  const w = 320;
  const h = 90;
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('class', 'histogram');
  svg.setAttribute('role', 'img');
  const counts = t.histogram.counts;
  const peak = Math.max(1, ...counts);
  svg.setAttribute(
    'aria-label',
    `histogram of sampled Δ values from ${t.histogram.edges[0].toPrecision(3)} to ${t.histogram.edges[t.histogram.edges.length - 1].toPrecision(3)}`,
  );
  counts.forEach((c, i) => {
    const r = document.createElementNS(ns, 'rect');
    const bw = w / counts.length;
    const bh = (c / peak) * (h - 12);
    r.setAttribute('x', String(i * bw));
    r.setAttribute('y', String(h - 12 - bh));
    r.setAttribute('width', String(Math.max(1, bw - 1)));
    r.setAttribute('height', String(bh));
    svg.append(r);
  });
  const label = document.createElementNS(ns, 'text');
  label.setAttribute('x', '0');
  label.setAttribute('y', String(h - 1));
  label.textContent = `Δ from ${t.histogram.edges[0].toPrecision(2)} to ${t.histogram.edges[t.histogram.edges.length - 1].toPrecision(2)} (sampled)`;
  svg.append(label);
  return svg;
}

function select(name: string | undefined, focus = false): void {
  state.selected = name;
  render();
  if (focus && name)
    (document.querySelector(`button.cell[data-name="${CSS.escape(name)}"]`) as HTMLButtonElement | null)?.focus();
}

document.addEventListener('click', (e) => {
  const sort = (e.target as HTMLElement).closest('button[data-sort]') as HTMLButtonElement | null;
  if (sort) {
    const key = sort.dataset.sort as SortKey;
    // Same column: reverse. New column: largest first, except names (A→Z) and cosine (least similar first).
    state.sortDescending =
      (state.sort ?? 'relative') === key ? !(state.sortDescending ?? true) : key !== 'name' && key !== 'cosine';
    state.sort = key;
    render();
    return;
  }
  const target = (e.target as HTMLElement).closest('button[data-name]') as HTMLButtonElement | null;
  if (target) select(target.dataset.name, true);
});

$('heatmap').addEventListener('keydown', (e) => {
  const cur = (e.target as HTMLElement).closest('button.cell') as HTMLButtonElement | null;
  if (!cur) return;
  const row = Number(cur.dataset.row);
  const col = Number(cur.dataset.col);
  const moves: Record<string, [number, number]> = {
    ArrowUp: [-1, 0],
    ArrowDown: [1, 0],
    ArrowLeft: [0, -1],
    ArrowRight: [0, 1],
  };
  const m = moves[e.key];
  if (!m) return;
  e.preventDefault();
  const cells = [...document.querySelectorAll<HTMLButtonElement>('button.cell')];
  const rows = [...new Set(cells.map((c) => Number(c.dataset.row)))];
  const targetRow = rows[rows.indexOf(row) + m[0]] ?? row;
  const next = cells.find((c) => Number(c.dataset.row) === targetRow && Number(c.dataset.col) === col + m[1]);
  if (next) {
    cur.tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
  }
});

$('metric').addEventListener('change', (e) => {
  state.metric = (e.target as HTMLSelectElement).value as Metric;
  render();
});
$('filter').addEventListener('input', (e) => {
  state.filter = (e.target as HTMLInputElement).value;
  render();
});
$('cancel').addEventListener('click', () => vscode.postMessage({ type: 'cancel' }));
$('export-md').addEventListener('click', () => vscode.postMessage({ type: 'export', format: 'markdown' }));
$('export-csv').addEventListener('click', () => vscode.postMessage({ type: 'export', format: 'csv' }));

/** The latest progress of a running review and when it started, for its total and ETA. */
let progress: { bytesDone: number; bytesTotal: number; tensors?: number; count?: number; started: number } | undefined;

/** "computing… 120 of 290 tensors · 1.2 of 2.2 GB · about 40 s left" */
function runningText(): string {
  const p = progress;
  if (!p || !p.count) return `computing… ${state.tensors.length} tensors so far`;
  const parts = [`computing… ${Math.max(state.tensors.length, p.tensors ?? 0)} of ${p.count} tensors`];
  if (p.bytesTotal > 0) parts.push(`${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}`);
  const seconds = (performance.now() - p.started) / 1000;
  // Bytes read predict the rest best (tensors differ in size); no estimate in the first second.
  if (p.bytesDone > 0 && p.bytesTotal > p.bytesDone && seconds >= 1)
    parts.push(`about ${Math.ceil((seconds * (p.bytesTotal - p.bytesDone)) / p.bytesDone)} s left`);
  return parts.join(' · ');
}

/** Tensors arrive faster than a frame: redraw at most once per animation frame. */
const scheduleRender = frameScheduler(render);

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const m = event.data;
  switch (m.type) {
    case 'start':
      state = {
        ...state,
        base: m.base,
        finetuned: m.finetuned,
        merged: m.merged,
        tensors: [],
        report: undefined,
        status: 'running',
        selected: undefined,
      };
      progress = undefined;
      break;
    case 'tensor':
      state.tensors.push(m.tensor);
      break;
    case 'progress':
      ($('progress') as HTMLProgressElement).value = m.bytesTotal > 0 ? m.bytesDone / m.bytesTotal : 0;
      progress = { ...m, started: progress?.started ?? performance.now() };
      break;
    case 'done':
      state.report = m.report;
      state.tensors = m.report.tensors;
      state.status = 'done';
      ($('progress') as HTMLProgressElement).value = 1;
      break;
    case 'cancelled':
      state.status = 'cancelled';
      break;
    case 'error':
      state.status = 'error';
      state.message = m.message;
      break;
  }
  scheduleRender();
});

($('filter') as HTMLInputElement).value = state.filter;
render();
vscode.postMessage({ type: 'ready' });
