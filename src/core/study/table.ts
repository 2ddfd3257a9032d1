// The study's table: variants × tasks (each task's first metric, as the paper's main table), with the
// delta and paired significance against the base and against the full fine-tune from the benchmark
// diff (diffResults: McNemar on the per-example records, Holm / Benjamini–Hochberg over a variant's
// tasks), the scans' layer heatmap, and the CSV and LaTeX exports. Plain data: the page renders it.
import { BenchmarkDiff, diffResults } from '../results/diff';
import { Correction } from '../results/stats';
import type { ModelResults } from '../results/types';
import type { StudyIndex } from './run';

export interface Comparison {
  delta: number;
  mark: string;
  p?: number;
  pAdjusted?: number;
  method?: string;
}

export interface StudyCell {
  value?: number;
  vsBase?: Comparison;
  vsFull?: Comparison;
}

export interface StudyRow {
  name: string;
  recipe: string;
  scale?: number;
  layers?: [number, number];
  scan?: { kind: string; layers: [number, number] };
  cells: StudyCell[];
  /** Mean of the row's values over the tasks every variant has. */
  average?: number;
  missing: boolean;
}

export interface StudyTable {
  name: string;
  tasks: { task: string; metric: string; unit: 'percent' | 'fraction' | 'raw' }[];
  rows: StudyRow[];
  /** The variants the deltas are taken against (recipe base / full with no scale or layers), when the study has them. */
  base?: string;
  full?: string;
  correction: Correction;
  /** Per task, the indices of the rows with the best value. */
  best: number[][];
  layerCount?: number;
}

type IndexVariant = StudyIndex['variants'][number];
const recipeName = (v: IndexVariant) => (v.recipe as { name?: string }).name ?? '';
const plain = (v: IndexVariant, recipe: string) => recipeName(v) === recipe && v.scale === undefined && !v.layers;

/** `results[i]` are the results of `index.variants[i]`, undefined where it has none yet. */
export function studyTable(
  index: StudyIndex,
  results: (ModelResults | undefined)[],
  correction: Correction = 'none',
): StudyTable {
  const present = index.variants
    .map((v, i) => ({ v, r: results[i] }))
    .filter((x): x is { v: IndexVariant; r: ModelResults } => x.r !== undefined);
  // Each task's first metric only: the table's cells are the family the correction runs over.
  const firstOnly = present.map(({ v, r }) => ({
    ...r,
    model: v.name,
    tasks: new Map([...r.tasks].map(([t, res]) => [t, { ...res, metrics: new Map([...res.metrics].slice(0, 1)) }])),
  }));
  const base = index.variants.find((v) => plain(v, 'base'))?.name;
  const full =
    index.variants.find((v) => plain(v, 'full'))?.name ?? index.variants.find((v) => recipeName(v) === 'full')?.name;
  const have = (name?: string) => name !== undefined && present.some((x) => x.v.name === name);
  const against = (name: string | undefined): BenchmarkDiff | undefined =>
    have(name) && firstOnly.length ? diffResults(firstOnly, name, correction) : undefined;
  const reference = against(base) ?? (firstOnly.length ? diffResults(firstOnly, undefined, correction) : undefined);
  const vsFull = against(full);
  const tasks = (reference?.rows ?? []).map((r) => ({ task: r.task, metric: r.metric, unit: r.unit }));
  const comparison = (diff: BenchmarkDiff | undefined, task: number, name: string): Comparison | undefined => {
    if (!diff) return undefined;
    const col = diff.models.findIndex((m) => m.name === name);
    const cell = diff.rows[task]?.cells[col];
    if (col <= 0 || cell?.delta === undefined) return undefined;
    return {
      delta: cell.delta,
      mark: cell.mark,
      ...(cell.test ? { p: cell.test.p, method: cell.test.method } : {}),
      ...(cell.pAdjusted !== undefined ? { pAdjusted: cell.pAdjusted } : {}),
    };
  };
  const averaged =
    reference?.average?.tasks.map((t) => tasks.findIndex((x) => x.task === t)).filter((i) => i >= 0) ?? [];
  const rows: StudyRow[] = index.variants.map((v) => {
    const col = reference?.models.findIndex((m) => m.name === v.name) ?? -1;
    const cells = tasks.map((_, t) => ({
      value: col >= 0 ? reference!.rows[t].cells[col].value : undefined,
      vsBase: v.name === base ? undefined : comparison(reference?.baseline === base ? reference : undefined, t, v.name),
      vsFull: v.name === full ? undefined : comparison(vsFull, t, v.name),
    }));
    const values = averaged.map((t) => cells[t].value);
    const average =
      values.length && values.every((x) => x !== undefined)
        ? values.reduce((s, x) => s + x!, 0) / values.length
        : undefined;
    return {
      name: v.name,
      recipe: recipeName(v),
      scale: v.scale,
      layers: v.layers,
      scan: v.scan,
      cells,
      average,
      missing: col < 0,
    };
  });
  const best = tasks.map((_, t) => {
    const vals = rows.map((r) => r.cells[t].value);
    const top = Math.max(...vals.map((x) => x ?? -Infinity));
    return Number.isFinite(top) ? vals.flatMap((x, i) => (x === top ? [i] : [])) : [];
  });
  return {
    name: index.name,
    tasks,
    rows,
    base: have(base) ? base : undefined,
    full: have(full) ? full : undefined,
    correction,
    best,
    layerCount: index.layerCount,
  };
}

/** Values as the table shows them: fractions as percentages with one decimal. */
export function showValue(value: number | undefined, unit: StudyTable['tasks'][number]['unit']): string {
  if (value === undefined) return '';
  return unit === 'fraction' ? (100 * value).toFixed(1) : unit === 'percent' ? value.toFixed(1) : value.toFixed(3);
}

export function showDelta(c: Comparison | undefined, unit: StudyTable['tasks'][number]['unit']): string {
  if (!c) return '';
  const v = showValue(Math.abs(c.delta), unit);
  return `${c.delta < 0 ? '−' : '+'}${v}${c.mark}`;
}

const csvField = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** One line per variant and task: value, and per comparison its delta, p and corrected p. */
export function studyCsv(t: StudyTable): string {
  const num = (x: number | undefined) => (x === undefined ? '' : String(x));
  const head = [
    'variant',
    'recipe',
    'scale',
    'layers',
    'task',
    'metric',
    'value',
    'delta_vs_base',
    'p_vs_base',
    'p_adjusted_vs_base',
    'delta_vs_full',
    'p_vs_full',
    'p_adjusted_vs_full',
  ];
  const lines = t.rows.flatMap((r) =>
    t.tasks.map((task, i) => {
      const c = r.cells[i];
      return [
        r.name,
        r.recipe,
        num(r.scale),
        r.layers ? `${r.layers[0]}-${r.layers[1]}` : '',
        task.task,
        task.metric,
        num(c.value),
        num(c.vsBase?.delta),
        num(c.vsBase?.p),
        num(c.vsBase?.pAdjusted),
        num(c.vsFull?.delta),
        num(c.vsFull?.p),
        num(c.vsFull?.pAdjusted),
      ]
        .map(csvField)
        .join(',');
    }),
  );
  return [head.join(','), ...lines].join('\n') + '\n';
}

const TEX_SPECIAL: Record<string, string> = {
  '\\': '\\textbackslash{}',
  '&': '\\&',
  '%': '\\%',
  $: '\\$',
  '#': '\\#',
  _: '\\_',
  '{': '\\{',
  '}': '\\}',
  '~': '\\textasciitilde{}',
  '^': '\\textasciicircum{}',
  '<': '\\textless{}',
  '>': '\\textgreater{}',
};
export const texEscape = (s: string) => s.replace(/[\\&%$#_{}~^<>]/g, (c) => TEX_SPECIAL[c]);

/**
 * The paper's main table: a row per variant (scans left out: the heatmap shows them), a column per
 * task and the average, best per column in bold, marks against the base as superscripts (booktabs).
 */
export function studyLatex(t: StudyTable): string {
  const rows = t.rows.filter((r) => !r.scan && !r.missing).map((r) => ({ r }));
  const avgs = rows.map(({ r }) => r.average);
  const bestAvg = Math.max(...avgs.map((a) => a ?? -Infinity));
  const unit = t.tasks[0]?.unit ?? 'fraction';
  const cols = 'l' + 'c'.repeat(t.tasks.length + 1);
  const head = ['Variant', ...t.tasks.map((x) => texEscape(x.task)), 'Avg.'].join(' & ');
  const body = rows.map(({ r }) => {
    const cells = t.tasks.map((task, k) => {
      const c = r.cells[k];
      const v = showValue(c.value, task.unit);
      // Best among the rows shown; a column where all are equal has none.
      const shown = rows.map((x) => x.r.cells[k].value ?? -Infinity);
      const top = Math.max(...shown);
      const bold = c.value === top && shown.some((x) => x !== top) ? `\\textbf{${v}}` : v;
      return c.vsBase?.mark ? `${bold}$^{${c.vsBase.mark.replace(/\*/g, '\\ast')}}$` : bold;
    });
    const avg = showValue(r.average, unit);
    const avgBold = r.average !== undefined && r.average === bestAvg && avgs.some((a) => a !== bestAvg);
    return [texEscape(r.name), ...cells, avgBold ? `\\textbf{${avg}}` : avg].join(' & ') + ' \\\\';
  });
  const note = t.base
    ? `Marks against ${texEscape(t.base)}: $^{\\ast}$ p < 0.05, $^{\\ast\\ast}$ p < 0.01, $^{\\ast\\ast\\ast}$ p < 0.001 (paired tests${t.correction === 'none' ? '' : `, ${t.correction === 'holm' ? 'Holm' : 'Benjamini--Hochberg'} corrected`}).`
    : '';
  return [
    '% needs \\usepackage{booktabs}',
    '\\begin{table}[t]',
    '\\centering',
    `\\begin{tabular}{${cols}}`,
    '\\toprule',
    `${head} \\\\`,
    '\\midrule',
    ...body,
    '\\bottomrule',
    '\\end{tabular}',
    `\\caption{${texEscape(t.name)}: ${unit === 'raw' ? 'scores' : 'accuracy (\\%)'} per task. ${note}}`,
    '\\end{table}',
    '',
  ].join('\n');
}

/** The scans as a heatmap: one row per scan variant (its reverted layers), Δ against the full fine-tune per task. */
export function scanHeatmap(t: StudyTable): {
  kind: string;
  layers: [number, number];
  name: string;
  deltas: (number | undefined)[];
  values: (number | undefined)[];
}[] {
  return t.rows
    .filter((r) => r.scan)
    .map((r) => ({
      kind: r.scan!.kind,
      layers: r.scan!.layers,
      name: r.name,
      deltas: r.cells.map((c) => c.vsFull?.delta),
      values: r.cells.map((c) => c.value),
    }));
}
