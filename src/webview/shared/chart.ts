// Line charts as inline SVG, no library: the run dashboard's loss / learning-rate / throughput charts
// and the overlaid loss curves of the run comparison. Each series is downsampled to the plot's pixel
// width (first, min, max and last point per pixel column), so 10,000 steps draw as fast as 500 and
// the shape, spikes included, stays what a full-resolution plot would show.
import { el, svgEl } from './dom';
import { num } from './format';

export interface Series {
  label: string;
  /** Ascending (steps). */
  xs: readonly number[];
  ys: readonly number[];
}

export interface ChartOptions {
  /** Names the chart for screen readers and in the read-out, e.g. "loss". */
  title: string;
  xLabel: string;
  format?: (y: number) => string;
  height?: number;
  /** A legend under the chart (several series). */
  legend?: boolean;
}

/** Colours cycle through this many theme chart colours (classes s0…s5 in the stylesheet). */
export const SERIES_STYLES = 6;
const MARGIN = { left: 58, right: 12, top: 10, bottom: 24 };

/**
 * The points to draw for one series across `buckets` pixel columns: all of them when they fit, else
 * per column the first, lowest, highest and last point in step order. Non-finite values are left out.
 */
export function downsample(
  xs: readonly number[],
  ys: readonly number[],
  x0: number,
  x1: number,
  buckets: number,
): [number, number][] {
  const out: [number, number][] = [];
  if (xs.length <= 2 * buckets) {
    for (let i = 0; i < xs.length; i++) if (Number.isFinite(ys[i])) out.push([xs[i], ys[i]]);
    return out;
  }
  const span = x1 - x0 || 1;
  let bucket = -1;
  let picks: number[] = [];
  const flush = () => {
    for (const i of [...new Set(picks)].sort((a, b) => a - b)) out.push([xs[i], ys[i]]);
    picks = [];
  };
  let first = 0,
    lo = 0,
    hi = 0,
    last = 0;
  for (let i = 0; i < xs.length; i++) {
    if (!Number.isFinite(ys[i])) continue;
    const b = Math.min(buckets - 1, Math.floor(((xs[i] - x0) / span) * buckets));
    if (b !== bucket) {
      if (bucket >= 0) picks.push(first, lo, hi, last);
      flush();
      bucket = b;
      first = lo = hi = last = i;
    } else {
      if (ys[i] < ys[lo]) lo = i;
      if (ys[i] > ys[hi]) hi = i;
      last = i;
    }
  }
  if (bucket >= 0) picks.push(first, lo, hi, last);
  flush();
  return out;
}

/** About `count` round tick values (1, 2 or 5 × 10^k apart) within [lo, hi]. */
export function niceTicks(lo: number, hi: number, count: number): number[] {
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

/** Index of the point of ascending `xs` nearest to x. */
function nearest(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 && x - xs[lo - 1] < xs[lo] - x ? lo - 1 : lo;
}

/**
 * A chart in a focusable figure: arrow keys (or the mouse) move a cursor along the steps and a live
 * read-out says the values there, so the numbers behind the lines are reachable without a mouse.
 */
export class LineChart {
  readonly element: HTMLElement;
  private readonly plot: HTMLElement;
  private readonly readout: HTMLElement;
  private readonly legend: HTMLElement;
  private series: Series[] = [];
  private xMax = 0;
  private cursor: number | undefined;
  private width = 0;

  constructor(private readonly opts: ChartOptions) {
    this.element = el('figure', {
      class: 'chart',
      tabindex: '0',
      'aria-label': `${opts.title} by ${opts.xLabel}: arrow keys, Home and End read values`,
    });
    this.plot = el('div', { class: 'plot' });
    this.legend = el('ul', { class: 'legend' });
    this.readout = el('figcaption', { class: 'readout muted', 'aria-live': 'polite' });
    this.element.append(this.plot, this.legend, this.readout);
    this.element.addEventListener('keydown', (e) => this.onKey(e));
    this.plot.addEventListener('mousemove', (e) => this.moveTo(this.xAt(e.offsetX)));
    this.plot.addEventListener('mouseleave', () => this.moveTo(undefined));
    // The plot is drawn at its real pixel width, so text keeps its size: redraw when the width changes.
    new ResizeObserver(() => {
      if (this.plot.clientWidth !== this.width) this.draw();
    }).observe(this.plot);
  }

  /** Drops the cursor: another run is shown. */
  reset(): void {
    this.cursor = undefined;
  }

  /** Redraws with these series; `xMax` stretches the x axis (e.g. to a run's total steps). */
  update(series: Series[], xMax = 0): void {
    this.series = series;
    this.xMax = xMax;
    this.draw();
  }

  private get fmt(): (y: number) => string {
    return this.opts.format ?? num;
  }

  /** The series whose steps the cursor walks: the longest. */
  private get reference(): readonly number[] {
    return this.series.reduce<readonly number[]>((a, s) => (s.xs.length > a.length ? s.xs : a), []);
  }

  private domain(): { x0: number; x1: number; y0: number; y1: number } | undefined {
    let x0 = Infinity,
      x1 = this.xMax,
      y0 = Infinity,
      y1 = -Infinity;
    for (const s of this.series) {
      if (s.xs.length === 0) continue;
      x0 = Math.min(x0, s.xs[0]);
      x1 = Math.max(x1, s.xs[s.xs.length - 1]);
      for (const y of s.ys) {
        if (!Number.isFinite(y)) continue;
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
    }
    if (!Number.isFinite(x0) || !Number.isFinite(y0)) return undefined;
    if (x1 <= x0) x1 = x0 + 1;
    const pad = y1 > y0 ? (y1 - y0) * 0.05 : Math.abs(y0) * 0.1 || 1;
    return { x0, x1, y0: y0 - pad, y1: y1 + pad };
  }

  private xAt(px: number): number | undefined {
    const d = this.domain();
    const w = this.width - MARGIN.left - MARGIN.right;
    return d && w > 0 ? d.x0 + ((px - MARGIN.left) / w) * (d.x1 - d.x0) : undefined;
  }

  private draw(): void {
    const W = (this.width = this.plot.clientWidth || 600);
    const H = this.opts.height ?? 180;
    const svg = svgEl('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img' });
    const d = this.domain();
    const pw = W - MARGIN.left - MARGIN.right;
    const ph = H - MARGIN.top - MARGIN.bottom;
    if (!d || pw <= 0) {
      svg.setAttribute('aria-label', `${this.opts.title}: no data yet`);
      svg.append(svgEl('text', { x: MARGIN.left, y: H / 2, class: 'empty' }, 'no data yet'));
      this.plot.replaceChildren(svg);
      this.drawLegendAndReadout();
      return;
    }
    const px = (x: number) => MARGIN.left + ((x - d.x0) / (d.x1 - d.x0)) * pw;
    const py = (y: number) => MARGIN.top + (1 - (y - d.y0) / (d.y1 - d.y0)) * ph;
    for (const y of niceTicks(d.y0, d.y1, 4)) {
      svg.append(
        svgEl('line', { class: 'grid', x1: MARGIN.left, x2: W - MARGIN.right, y1: py(y), y2: py(y) }),
        svgEl('text', { class: 'tick', x: MARGIN.left - 4, y: py(y) + 3, 'text-anchor': 'end' }, this.fmt(y)),
      );
    }
    // Steps are whole numbers: no ticks between them. A label at the right edge ends there rather than being cut.
    for (const x of niceTicks(d.x0, d.x1, 5).filter(Number.isInteger))
      svg.append(
        svgEl(
          'text',
          { class: 'tick', x: px(x), y: H - 8, 'text-anchor': px(x) > W - MARGIN.right - 20 ? 'end' : 'middle' },
          String(x),
        ),
      );
    // The axis name sits in the empty corner under the value labels.
    svg.append(svgEl('text', { class: 'tick axis', x: 2, y: H - 8 }, this.opts.xLabel));
    const summary: string[] = [];
    this.series.forEach((s, i) => {
      const pts = downsample(s.xs, s.ys, d.x0, d.x1, Math.max(1, Math.round(pw)));
      const points = pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
      svg.append(svgEl('polyline', { class: `series s${i % SERIES_STYLES}`, points, 'data-label': s.label }));
      const dropped = s.ys.filter((y) => !Number.isFinite(y)).length;
      if (s.xs.length)
        summary.push(
          `${this.series.length > 1 ? `${s.label}: ` : ''}${s.xs.length} points, last ${this.fmt(s.ys[s.ys.length - 1])} at ${this.opts.xLabel} ${s.xs[s.xs.length - 1]}${dropped ? `, ${dropped} not finite` : ''}`,
        );
    });
    svg.setAttribute('aria-label', `${this.opts.title}: ${summary.join('; ')}`);
    if (this.cursor !== undefined) {
      const x = Math.min(d.x1, Math.max(d.x0, this.cursor));
      svg.append(svgEl('line', { class: 'cursor', x1: px(x), x2: px(x), y1: MARGIN.top, y2: MARGIN.top + ph }));
    }
    this.plot.replaceChildren(svg);
    this.drawLegendAndReadout();
  }

  private drawLegendAndReadout(): void {
    // Two series on a chart always get a legend, or their colours say nothing.
    this.legend.hidden = !this.opts.legend && this.series.length < 2;
    if (!this.legend.hidden) {
      this.legend.replaceChildren(
        ...this.series.map((s, i) => {
          const swatch = svgEl('svg', { width: 24, height: 8, 'aria-hidden': 'true' });
          swatch.append(svgEl('line', { class: `series s${i % SERIES_STYLES}`, x1: 0, x2: 24, y1: 4, y2: 4 }));
          const li = el('li', {}, s.label);
          li.prepend(swatch);
          return li;
        }),
      );
    }
    const x = this.cursor;
    if (x === undefined) {
      this.readout.textContent = '';
      return;
    }
    const values = this.series
      .filter((s) => s.xs.length)
      .map((s) => {
        const i = nearest(s.xs, x);
        return `${this.series.length > 1 ? `${s.label} ` : ''}${this.fmt(s.ys[i])}`;
      });
    this.readout.textContent = `${this.opts.xLabel} ${x}: ${this.opts.title} ${values.join(' · ')}`;
  }

  private moveTo(x: number | undefined): void {
    const xs = this.reference;
    this.cursor = x === undefined || xs.length === 0 ? undefined : xs[nearest(xs, x)];
    this.draw();
  }

  private onKey(e: KeyboardEvent): void {
    const xs = this.reference;
    if (xs.length === 0) return;
    const i = this.cursor === undefined ? -1 : nearest(xs, this.cursor);
    const next: Record<string, number | undefined> = {
      ArrowLeft: i < 0 ? xs.length - 1 : Math.max(0, i - 1),
      ArrowRight: i < 0 ? 0 : Math.min(xs.length - 1, i + 1),
      Home: 0,
      End: xs.length - 1,
      Escape: undefined,
    };
    if (!(e.key in next)) return;
    e.preventDefault();
    const j = next[e.key];
    this.moveTo(j === undefined ? undefined : xs[j]);
  }
}
