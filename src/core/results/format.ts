// The benchmark diff as Markdown (for a pull request), CSV (for a spreadsheet) and a LaTeX table (for
// a paper). No Node imports: the webview exports the table as shown with these same functions.
import type { BenchmarkDiff, DiffAverage, DiffCell, DiffRow, RowUnit } from './diff';
import type { Correction, TestMethod } from './stats';
import { csvCell, mdCell } from '../util/tableCells';

/** Percentages with two decimals (as papers print them), fractions with four, other metrics four significant digits. */
export function formatValue(x: number | undefined, unit: RowUnit): string {
  if (x === undefined) return '—';
  if (!Number.isFinite(x)) return String(x);
  if (unit === 'percent') return x.toFixed(2);
  if (unit === 'fraction') return x.toFixed(4);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? x.toExponential(2) : String(Number(x.toPrecision(4)));
}

export function formatDelta(d: number | undefined, unit: RowUnit): string {
  if (d === undefined) return '';
  const s = formatValue(Math.abs(d), unit);
  return Number(s) === 0 ? `±${s}` : `${d > 0 ? '+' : '−'}${s}`;
}

export function formatP(p: number | undefined): string {
  if (p === undefined) return '';
  return p < 0.001 ? p.toExponential(1) : p.toFixed(3);
}

export const METHOD_LABEL: Record<TestMethod, string> = {
  'mcnemar-exact': 'McNemar (exact)',
  'mcnemar-chi2': 'McNemar (χ²)',
  bootstrap: 'paired bootstrap',
  'z-test': 'z-test on standard errors',
};

export const CORRECTION_LABEL: Record<Correction, string> = {
  none: 'uncorrected',
  holm: 'Holm',
  bh: 'Benjamini–Hochberg',
};

/** How the marks' p-values were corrected, for legends: '' when they were not. */
function correctionNote(report: BenchmarkDiff): string {
  return report.correction === 'none'
    ? ''
    : `; p-values ${CORRECTION_LABEL[report.correction]}-adjusted over each model's tests`;
}

export const direction = (row: Pick<DiffRow, 'higherIsBetter'>) => (row.higherIsBetter ? '↑' : '↓');

/** The tests behind the marks of a report, in order of first use. */
function usedMethods(report: BenchmarkDiff): TestMethod[] {
  return [
    ...new Set(
      report.rows.flatMap((r) => r.cells.map((c) => c.test?.method)).filter((m): m is TestMethod => m !== undefined),
    ),
  ];
}

/** The legend every export carries: what Δ is against and what the marks mean. */
export function legend(report: BenchmarkDiff): string {
  const methods = usedMethods(report);
  return `Δ against ${report.baseline}. * p < 0.05, ** p < 0.01, *** p < 0.001${methods.length ? ` (${methods.map((m) => METHOD_LABEL[m]).join(', ')})` : ''}${correctionNote(report)}.`;
}

const AVERAGE = 'Average';
export const tasksLabel = (n: number) => `${n} task${n === 1 ? '' : 's'}`;

// ── Markdown ──

function mdValue(c: DiffCell | DiffAverage['cells'][number], unit: RowUnit, best: boolean): string {
  const v = formatValue(c.value, unit);
  const d = c.delta !== undefined ? ` (${formatDelta(c.delta, unit)}${'mark' in c ? c.mark : ''})` : '';
  return best ? `**${v}**${d}` : `${v}${d}`;
}

export function toMarkdown(report: BenchmarkDiff): string {
  const names = report.models.map((m, i) => mdCell(i === 0 ? `${m.name} (baseline)` : m.name));
  const out = [`| task | metric | ${names.join(' | ')} |`, `|---|---|${names.map(() => '---:').join('|')}|`];
  for (const r of report.rows)
    out.push(
      `| ${mdCell(r.task)} | ${mdCell(r.metric)} ${direction(r)} | ${r.cells.map((c, i) => mdValue(c, r.unit, r.best.includes(i))).join(' | ')} |`,
    );
  const a = report.average;
  if (a)
    out.push(
      `| **${AVERAGE}** | ${tasksLabel(a.tasks.length)} | ${a.cells.map((c, i) => mdValue(c, a.unit, a.best.includes(i))).join(' | ')} |`,
    );
  out.push('', mdCell(legend(report)));
  for (const n of report.notes) out.push('', mdCell(n));
  return out.join('\n') + '\n';
}

// ── CSV ──

const raw = (x: number | undefined) => (x === undefined ? '' : String(x));

/** One line per task and metric; per model its value and standard error, and against the baseline Δ, p and the test. */
export function toCsv(report: BenchmarkDiff): string {
  const head = ['task', 'metric', 'higher_is_better', 'unit'];
  const adjusted = report.correction !== 'none';
  report.models.forEach((m, i) =>
    head.push(
      m.name,
      `${m.name} stderr`,
      ...(i > 0
        ? [
            `${m.name} delta`,
            `${m.name} p`,
            ...(adjusted ? [`${m.name} p ${report.correction}`] : []),
            `${m.name} test`,
          ]
        : []),
    ),
  );
  const lines = [head];
  for (const r of report.rows) {
    const line = [r.task, r.metric, String(r.higherIsBetter), r.unit];
    r.cells.forEach((c, i) =>
      line.push(
        raw(c.value),
        raw(c.stderr),
        ...(i > 0 ? [raw(c.delta), raw(c.test?.p), ...(adjusted ? [raw(c.pAdjusted)] : []), c.test?.method ?? ''] : []),
      ),
    );
    lines.push(line);
  }
  const a = report.average;
  if (a) {
    const line = [AVERAGE, `${tasksLabel(a.tasks.length)}: ${a.rule}`, 'true', a.unit];
    a.cells.forEach((c, i) =>
      line.push(raw(c.value), '', ...(i > 0 ? [raw(c.delta), '', ...(adjusted ? [''] : []), ''] : [])),
    );
    lines.push(line);
  }
  return lines.map((l) => l.map(csvCell).join(',')).join('\n') + '\n';
}

// ── LaTeX ──

/** Escapes LaTeX's special characters in text from files. */
export function latexEscape(s: string): string {
  const words: Record<string, string> = {
    '\\': 'textbackslash',
    '~': 'textasciitilde',
    '^': 'textasciicircum',
    '|': 'textbar',
    '<': 'textless',
    '>': 'textgreater',
  };
  // |, < and > print as other glyphs in LaTeX's default font encoding (OT1): spell them out too.
  return s.replace(/[\\{}$&#^_%~|<>]/g, (c) => (words[c] ? `\\${words[c]}{}` : `\\${c}`)).replace(/[\r\n]+/g, ' ');
}

function texValue(value: number | undefined, unit: RowUnit, best: boolean, mark = ''): string {
  if (value === undefined) return '--';
  const v = formatValue(value, unit);
  return `${best ? `\\textbf{${v}}` : v}${mark ? `$^{${mark}}$` : ''}`;
}

/**
 * A booktabs table: one column per model (baseline first), best value per row in bold, significance
 * against the baseline as superscript marks, the average under a rule. Needs \usepackage{booktabs}.
 */
export function toLatex(report: BenchmarkDiff): string {
  const out = [
    '\\begin{table}[t]',
    '\\centering',
    `\\begin{tabular}{ll${'r'.repeat(report.models.length)}}`,
    '\\toprule',
  ];
  out.push(`Task & Metric & ${report.models.map((m) => latexEscape(m.name)).join(' & ')} \\\\`, '\\midrule');
  for (const r of report.rows) {
    const arrow = r.higherIsBetter ? '$\\uparrow$' : '$\\downarrow$';
    out.push(
      `${latexEscape(r.task)} & ${latexEscape(r.metric)} ${arrow} & ${r.cells.map((c, i) => texValue(c.value, r.unit, r.best.includes(i), c.mark)).join(' & ')} \\\\`,
    );
  }
  const a = report.average;
  if (a)
    out.push(
      '\\midrule',
      `${AVERAGE} & & ${a.cells.map((c, i) => texValue(c.value, a.unit, a.best.includes(i))).join(' & ')} \\\\`,
    );
  out.push('\\bottomrule', '\\end{tabular}');
  if (a) out.push(`{\\footnotesize Average: ${latexEscape(a.rule)}.\\par}`);
  const methods = usedMethods(report).map((m) => METHOD_LABEL[m].replace('χ²', '$\\chi^2$'));
  const marks = ['0.05', '0.01', '0.001'].map((p, i) => `$^{${'*'.repeat(i + 1)}}$ $p<${p}$`).join(', ');
  out.push(
    `\\caption{Significance against ${latexEscape(report.baseline)}: ${marks}${methods.length ? ` (${methods.join(', ')})` : ''}${latexEscape(correctionNote(report))}. Best per row in bold.}`,
  );
  out.push('\\end{table}');
  return out.join('\n') + '\n';
}
