import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { BaselineError, BenchmarkDiff, diffResults } from '../core/results/diff';
import { findResultFiles } from '../core/results/find';
import {
  direction,
  formatDelta,
  formatValue,
  legend,
  tasksLabel,
  toCsv,
  toLatex,
  toMarkdown,
} from '../core/results/format';
import { loadResults } from '../core/results/load';
import { Correction, CORRECTIONS } from '../core/results/stats';
import { ModelResults, ResultsError } from '../core/results/types';
import { Command, UsageError } from './usage';

/** A terminal table: columns padded, Δ and marks beside each non-baseline value. */
function toText(r: BenchmarkDiff): string {
  const head = ['task', 'metric', ...r.models.map((m, i) => (i === 0 ? `${m.name} (baseline)` : m.name))];
  const rows = r.rows.map((row) => [
    row.task,
    `${row.metric} ${direction(row)}`,
    ...row.cells.map(
      (c) =>
        `${formatValue(c.value, row.unit)}${c.delta !== undefined ? ` ${formatDelta(c.delta, row.unit)}${c.mark}` : ''}`,
    ),
  ]);
  if (r.average)
    rows.push([
      'Average',
      tasksLabel(r.average.tasks.length),
      ...r.average.cells.map(
        (c) =>
          `${formatValue(c.value, r.average!.unit)}${c.delta !== undefined ? ` ${formatDelta(c.delta, r.average!.unit)}` : ''}`,
      ),
    ]);
  const widths = head.map((h, i) => rows.reduce((w, x) => Math.max(w, x[i].length), h.length));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line), '', legend(r), ...r.notes, ''].join('\n');
}

/** Files as given; a folder stands for the result files found in it. */
async function expand(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const s = await stat(p).catch(() => undefined);
    if (!s) throw new ResultsError(p, 'no such file or folder');
    if (!s.isDirectory()) out.push(p);
    else {
      const found = await findResultFiles(p);
      if (found.length === 0) throw new ResultsError(p, 'holds no result file');
      out.push(...found);
    }
  }
  return out;
}

export const benchCommand: Command = {
  name: 'bench',
  summary: 'benchmark results: align models by task and metric, deltas against a baseline, significance',
  usage: `taia bench diff FILE|FOLDER... [--baseline NAME] [--correction none|holm|bh] [--json | --markdown | --latex | --csv]

  Reads lm-evaluation-harness results (results_*.json, or any *.json lm-eval 0.3-0.4.2 wrote, with
  the per-example samples files beside them when logged), OpenCompass summary_*.csv / .txt / .md,
  TAIA logs ('Acc in {dataset}: {acc}' lines in *.log / *.txt) and *.taia-results.json; a folder
  stands for the result files inside it. One model in several runs (a results file per task group)
  is one column. The average's rule is printed under the table.
  --baseline NAME  the model the others are compared with (default: the first)
  --correction C   adjust each model's p-values over all its rows: holm (family-wise error) or bh
                   (Benjamini-Hochberg, false discovery rate); default none
  Significance: McNemar or a paired bootstrap where both sides have per-example records, else a
  z-test on the reported standard errors. Marks: * p < 0.05, ** p < 0.01, *** p < 0.001.`,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub !== 'diff')
      throw new UsageError(
        sub === undefined
          ? "missing subcommand: 'taia bench diff FILES...'"
          : `unknown subcommand 'bench ${sub}' (known: diff)`,
      );
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        baseline: { type: 'string' },
        correction: { type: 'string', default: 'none' },
        json: { type: 'boolean' },
        markdown: { type: 'boolean' },
        latex: { type: 'boolean' },
        csv: { type: 'boolean' },
      },
    });
    const formats = (['json', 'markdown', 'latex', 'csv'] as const).filter((f) => values[f]);
    if (formats.length > 1) throw new UsageError(`choose one of --${formats.join(', --')}`);
    if (positionals.length === 0) throw new UsageError('name at least one result file or folder');
    const correction = values.correction as Correction;
    if (!CORRECTIONS.includes(correction))
      throw new UsageError(`--correction must be one of ${CORRECTIONS.join(', ')}`);
    let results: ModelResults[];
    try {
      results = (await Promise.all((await expand(positionals)).map((f) => loadResults(f, { samples: true })))).flat();
    } catch (e) {
      if (!(e instanceof ResultsError)) throw e;
      process.stderr.write(`taia: error: ${e.message}\n`);
      return 1;
    }
    let report: BenchmarkDiff;
    try {
      report = diffResults(results, values.baseline, correction);
    } catch (e) {
      throw e instanceof BaselineError ? new UsageError(e.message) : e;
    }
    const print = {
      json: (r: BenchmarkDiff) => JSON.stringify(r, null, 2) + '\n',
      markdown: toMarkdown,
      latex: toLatex,
      csv: toCsv,
      text: toText,
    }[formats[0] ?? 'text'];
    process.stdout.write(print(report));
    return 0;
  },
};
