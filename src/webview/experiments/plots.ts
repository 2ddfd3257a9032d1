// The curves of the selected runs overlaid with uPlot: loss, learning rate, gradient norm and
// throughput by step, one chart each, with a shared crosshair (the cursor of one moves all), smoothing
// (TensorBoard's debiased exponential moving average) and an optional log scale.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { ExperimentRow, RunSeries } from '../../core/experiments/table';
import { el } from '../shared/dom';
import { num } from '../shared/format';
import type { PlotKey } from './protocol';

export const PLOTS: { key: PlotKey; title: string }[] = [
  { key: 'loss', title: 'Loss' },
  { key: 'lr', title: 'Learning rate' },
  { key: 'gradNorm', title: 'Gradient norm' },
  { key: 'tokensPerSecond', title: 'Throughput (tokens/s)' },
];

/** Theme colours of the series, in order; dashes tell them apart without colour. */
const COLOURS = [
  '--vscode-charts-blue',
  '--vscode-charts-red',
  '--vscode-charts-green',
  '--vscode-charts-yellow',
  '--vscode-charts-purple',
  '--vscode-charts-orange',
];
const DASHES = [[], [6, 3], [2, 2], [8, 3, 2, 3], [1, 3], [10, 4]];

const cssVar = (name: string, fallback: string) =>
  getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;

/** TensorBoard's smoothing: an exponential moving average, debiased so the first points are not pulled to 0; gaps stay gaps. */
export function smooth(values: (number | null)[], weight: number): (number | null)[] {
  if (weight <= 0) return values;
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return null;
    last = last * weight + (1 - weight) * v;
    n++;
    return last / (1 - weight ** n);
  });
}

export interface PlotOptions {
  smoothing: number;
  logScale: boolean;
}

/** The charts now drawn, destroyed before the next draw. */
let charts: uPlot[] = [];

/** Draws the charts of `runs` (labels in the same order) into `root`. */
export function drawPlots(root: HTMLElement, runs: ExperimentRow[], labels: string[], opts: PlotOptions): void {
  for (const c of charts) c.destroy();
  charts = [];
  root.replaceChildren();
  if (!runs.length) return;
  const sync = uPlot.sync('taia-experiments');
  const width = Math.max(320, Math.min(720, root.clientWidth / 2 - 24));
  const fg = cssVar('--vscode-descriptionForeground', '#999');
  const grid = cssVar('--vscode-editorWidget-border', '#8884');
  for (const { key, title } of PLOTS) {
    const ys = runs.map((r) => {
      const y = smooth(r.series[key as keyof RunSeries] as (number | null)[], opts.smoothing);
      // A log scale has no place for zero or negative values (a learning rate in warm-up).
      return opts.logScale ? y.map((v) => (v !== null && v > 0 ? v : null)) : y;
    });
    if (ys.every((y) => y.every((v) => v === null))) continue;
    const data = uPlot.join(runs.map((r, i): uPlot.AlignedData => [r.series.step, ys[i]]));
    const figure = el('figure', {
      class: 'experiment-plot',
      'data-plot': key,
      'aria-label': `${title} of ${labels.join(', ')} by step${opts.smoothing > 0 ? `, smoothed ${opts.smoothing}` : ''}${opts.logScale ? ', log scale' : ''}`,
    });
    figure.append(el('figcaption', {}, title));
    root.append(figure);
    const chart = new uPlot(
      {
        width,
        height: 220,
        cursor: { sync: { key: sync.key, setSeries: true }, drag: { x: true, y: false } },
        scales: { x: { time: false }, y: { distr: opts.logScale ? 3 : 1 } },
        axes: [
          { stroke: fg, grid: { stroke: grid, width: 0.5 }, ticks: { stroke: grid } },
          {
            stroke: fg,
            grid: { stroke: grid, width: 0.5 },
            ticks: { stroke: grid },
            size: 64,
            values: (_u, splits) => splits.map((v) => num(v)),
          },
        ],
        series: [
          { label: 'step' },
          ...labels.map((label, i) => ({
            label,
            stroke: cssVar(COLOURS[i % COLOURS.length], '#3794ff'),
            dash: DASHES[i % DASHES.length],
            width: 1.5,
            spanGaps: true,
            points: { show: false },
            value: (_u: uPlot, v: number | null) => (v === null ? '—' : num(v)),
          })),
        ],
      },
      data,
      figure,
    );
    charts.push(chart);
  }
}

/** The charts drawn, for the page's readouts and its tests. */
export const drawnCharts = (): readonly uPlot[] => charts;
