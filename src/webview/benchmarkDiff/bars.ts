// One small horizontal bar chart per task: a bar per model, ± one standard error as a whisker, the
// baseline in the neutral colour and the others coloured by whether they beat it.
import type { DiffRow } from '../../core/results/diff';
import { formatDelta, formatValue } from '../../core/results/format';
import { el, svgEl } from '../shared/dom';

const WIDTH = 420;
const LABEL = 130;
const VALUE = 70;
const BAR = 14;
const GAP = 6;

/** Long names are cut with an ellipsis; the full name is in the chart's accessible label. */
const clip = (s: string, n = 20) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export function barChart(row: DiffRow, names: string[]): HTMLElement {
  const figure = el('figure', { class: 'bars' });
  figure.append(el('figcaption', {}, `${row.task} · ${row.metric} ${row.higherIsBetter ? '↑' : '↓'}`));
  const values = row.cells.map((c) => c.value);
  const ends = row.cells.flatMap((c) =>
    c.value === undefined ? [] : [c.value - (c.stderr ?? 0), c.value + (c.stderr ?? 0)],
  );
  const lo = Math.min(0, ...ends);
  const hi = Math.max(...ends, lo + 1e-9);
  const plot = WIDTH - LABEL - VALUE;
  const x = (v: number) => LABEL + ((v - lo) / (hi - lo)) * plot;
  const height = names.length * (BAR + GAP) + GAP;
  const summary = names
    .map(
      (n, i) =>
        `${n} ${formatValue(values[i], row.unit)}${row.cells[i].delta !== undefined ? ` (${formatDelta(row.cells[i].delta, row.unit)})` : ''}`,
    )
    .join(', ');
  const svg = svgEl('svg', {
    width: WIDTH,
    height,
    viewBox: `0 0 ${WIDTH} ${height}`,
    role: 'img',
    'aria-label': `${row.task} ${row.metric}: ${summary}`,
  });
  names.forEach((name, i) => {
    const y = GAP + i * (BAR + GAP);
    const c = row.cells[i];
    svg.append(svgEl('text', { x: LABEL - 6, y: y + BAR - 3, class: 'tick', 'text-anchor': 'end' }, clip(name)));
    if (c.value === undefined) {
      svg.append(svgEl('text', { x: LABEL, y: y + BAR - 3, class: 'empty' }, 'no result'));
      return;
    }
    const cls = i === 0 ? 'baseline' : c.better === true ? 'better' : c.better === false ? 'worse' : 'same';
    const x0 = x(Math.max(lo, Math.min(0, c.value)));
    const x1 = x(Math.max(0, c.value));
    svg.append(svgEl('rect', { x: x0, y, width: Math.max(1, x1 - x0), height: BAR, class: `bar ${cls}` }));
    if (c.stderr !== undefined && c.stderr > 0)
      svg.append(
        svgEl('line', {
          x1: x(c.value - c.stderr),
          x2: x(c.value + c.stderr),
          y1: y + BAR / 2,
          y2: y + BAR / 2,
          class: 'whisker',
        }),
      );
    svg.append(
      svgEl(
        'text',
        { x: LABEL + plot + 6, y: y + BAR - 3, class: 'tick' },
        `${formatValue(c.value, row.unit)}${c.mark}`,
      ),
    );
  });
  figure.append(svg);
  return figure;
}
