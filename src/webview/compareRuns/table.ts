// The comparison table of several runs, as data: one row per result and per flattened config key,
// one value per run, and its Markdown and CSV forms. No DOM here, so the page and its exports agree.
import { duration, gib, int, median, num, peakGpuMemory } from '../shared/format';
import type { RunData } from './protocol';
import { csvCell, mdCell } from '../../core/util/tableCells';
import { flatten } from '../../core/util/flatten';

export interface Row {
  key: string;
  group: 'results' | 'config';
  values: string[];
  /** Not every run has the same value: what "show only what differs" keeps. */
  differs: boolean;
}

const MISSING = '—';

/** Column headings: run names, with the run id where two runs share a name. */
export function runLabels(runs: RunData[]): string[] {
  const names = runs.map((r) => r.status.name);
  return runs.map((r, i) =>
    names.indexOf(names[i]) !== names.lastIndexOf(names[i]) ? `${r.status.name} (${r.status.id})` : r.status.name,
  );
}

function results(r: RunData): Record<string, string> {
  const m = r.metrics;
  const last = m[m.length - 1];
  const step = Math.max(r.status.step, last?.step ?? 0);
  const losses = m.map((x) => x.loss).filter(Number.isFinite);
  const { startedAt, endedAt } = r.status;
  const gpuPeak = peakGpuMemory(m);
  return {
    state: r.status.state,
    steps: r.status.totalSteps ? `${step} / ${r.status.totalSteps}` : String(step),
    'final loss': num(r.status.finalLoss ?? last?.loss),
    'min loss': losses.length ? num(losses.reduce((a, b) => Math.min(a, b))) : MISSING,
    'tokens/s (median)': int(median(m.map((x) => x.tokensPerSecond ?? NaN))),
    duration: duration(startedAt && endedAt ? (Date.parse(endedAt) - Date.parse(startedAt)) / 1000 : last?.elapsed),
    backend: r.status.backend ?? r.status.source ?? MISSING,
    // Runs that did not record it show the row as missing.
    ...(gpuPeak > 0 ? { 'peak GPU memory': gib(gpuPeak) } : {}),
  };
}

export function compareRows(runs: RunData[]): Row[] {
  const rows: Row[] = [];
  const add = (group: Row['group'], maps: Record<string, string>[]) => {
    // Keys in first-seen order, so the table reads like the config files.
    const keys = [...new Set(maps.flatMap((m) => Object.keys(m)))];
    for (const key of keys) {
      const values = maps.map((m) => m[key] ?? MISSING);
      rows.push({ key, group, values, differs: values.some((v) => v !== values[0]) });
    }
  };
  add('results', runs.map(results));
  // The name heads each column already.
  add(
    'config',
    runs.map((r) => {
      // A run from another tool has its settings and config files instead of an experiment config; a
      // command's run keeps the experiment keys it uses, then the tool's settings.
      const c = r.config;
      const own =
        c?.engine === 'command'
          ? {
              engine: c.engine,
              command: c.command,
              cwd: c.cwd,
              output_dir: c.output_dir,
              ...(c.base ? { base: c.base } : {}),
            }
          : c;
      const { name: _name, ...rest } = {
        ...own,
        ...(c?.engine === 'command' || !c ? r.hyperparameters : {}),
      } as Record<string, unknown>;
      return flatten(rest);
    }),
  );
  return rows;
}

export function toMarkdown(labels: string[], rows: Row[]): string {
  const out = [`| key | ${labels.map(mdCell).join(' | ')} |`, `|---|${labels.map(() => '---').join('|')}|`];
  for (const r of rows) out.push(`| ${mdCell(r.key)} | ${r.values.map(mdCell).join(' | ')} |`);
  return out.join('\n') + '\n';
}

export function toCsv(labels: string[], rows: Row[]): string {
  return (
    [['key', ...labels], ...rows.map((r) => [r.key, ...r.values])]
      .map((cells) => cells.map(csvCell).join(','))
      .join('\n') + '\n'
  );
}
