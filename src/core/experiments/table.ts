// The experiments table as data: one row per run, columns for what identifies it, the parameters
// that differ between runs, its training metrics, and the benchmark scores of its checkpoints and of
// their merges. Plain JSON, so the host sends it to the webview as is and the tests read it directly.
import * as path from 'node:path';
import type { ModelResults } from '../results/types';
import type { MetricRecord, RunConfig, RunStatus } from '../runs/types';
import { flatten } from '../util/flatten';
import { median } from '../util/median';

/** A run as the table reads it: what the runs store (or another trainer's reader) gives. */
export interface ExperimentRunInput {
  dir: string;
  status: RunStatus;
  config?: RunConfig;
  metrics: MetricRecord[];
  /** Which trainer wrote it; this project's runs leave it out. */
  source?: string;
}

/** A merged output: its folder, recipe and the fine-tune it came from (its taia_merge.json). */
export interface MergeInput {
  dir: string;
  recipe: string;
  finetuned: string;
}

export type ColumnGroup = 'run' | 'metric' | 'param' | 'benchmark';

export interface ExperimentColumn {
  id: string;
  label: string;
  group: ColumnGroup;
  type: 'number' | 'text';
  /** What the column holds, for its tooltip. */
  description?: string;
  /** Shown unless the user chose otherwise: run and metric columns, parameters that differ, scores. */
  visible: boolean;
  /** Lower is better (losses): how "best" reads in the column. */
  lowerIsBetter?: boolean;
}

/** Per-step curves for the plots; at most SERIES_POINTS points each (evenly strided, the last kept). */
export interface RunSeries {
  step: number[];
  loss: (number | null)[];
  lr: (number | null)[];
  gradNorm: (number | null)[];
  tokensPerSecond: (number | null)[];
}

export interface ExperimentRow {
  /** The run folder: the row's identity across reloads. */
  id: string;
  values: Record<string, number | string | null>;
  series: RunSeries;
}

export interface ExperimentsTable {
  columns: ExperimentColumn[];
  rows: ExperimentRow[];
}

export const SERIES_POINTS = 4000;

const inside = (dir: string, file: string) => {
  const rel = path.relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
};
const finite = (x: number | undefined): number | null => (x !== undefined && Number.isFinite(x) ? x : null);

function series(metrics: MetricRecord[]): RunSeries {
  const stride = Math.max(1, Math.ceil(metrics.length / SERIES_POINTS));
  const picked = metrics.filter((_, i) => i % stride === 0 || i === metrics.length - 1);
  return {
    step: picked.map((m) => m.step),
    loss: picked.map((m) => finite(m.loss)),
    lr: picked.map((m) => finite(m.lr)),
    gradNorm: picked.map((m) => finite(m.gradNorm)),
    tokensPerSecond: picked.map((m) => finite(m.tokensPerSecond)),
  };
}

/** Records after a resume replace the steps they repeat: the last record of each step counts. */
function lastPerStep(metrics: MetricRecord[]): MetricRecord[] {
  const byStep = new Map<number, MetricRecord>();
  for (const m of metrics) byStep.set(m.step, m);
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

const RUN_COLUMNS: ExperimentColumn[] = [
  { id: 'name', label: 'run', group: 'run', type: 'text', visible: true },
  {
    id: 'started',
    label: 'started',
    group: 'run',
    type: 'text',
    visible: true,
    description: 'When the run started (UTC), which tells two runs of one experiment apart',
  },
  { id: 'state', label: 'state', group: 'run', type: 'text', visible: true },
  {
    id: 'source',
    label: 'trainer',
    group: 'run',
    type: 'text',
    visible: false,
    description: 'Which trainer wrote the run',
  },
  { id: 'steps', label: 'steps', group: 'metric', type: 'number', visible: true },
  { id: 'finalLoss', label: 'final loss', group: 'metric', type: 'number', visible: true, lowerIsBetter: true },
  { id: 'bestLoss', label: 'best loss', group: 'metric', type: 'number', visible: true, lowerIsBetter: true },
  {
    id: 'tokensPerSecond',
    label: 'tokens/s',
    group: 'metric',
    type: 'number',
    visible: false,
    description: 'Median tokens per second',
  },
  { id: 'seconds', label: 'duration (s)', group: 'metric', type: 'number', visible: false },
];

/**
 * The table of `runs`, with the scores in `results` of each run's checkpoints (results whose
 * checkpoint lies in the run folder) and of the merges of those checkpoints (`merges` whose fine-tune
 * lies in the run folder), one column per task, metric and kind (checkpoint, or the merge's recipe);
 * a run evaluated on several checkpoints shows the best score, as the column says.
 */
export function experimentsTable(
  runs: ExperimentRunInput[],
  results: ModelResults[] = [],
  merges: MergeInput[] = [],
): ExperimentsTable {
  const params = runs.map((r) => {
    const { name: _name, experimentFile: _file, ...rest } = (r.config ?? {}) as Record<string, unknown>;
    return flatten(rest);
  });
  const paramKeys = [...new Set(params.flatMap((p) => Object.keys(p)))];
  const differs = (k: string) => runs.length < 2 || params.some((p) => p[k] !== params[0][k]);
  const columns: ExperimentColumn[] = [
    ...RUN_COLUMNS,
    ...paramKeys.map((k): ExperimentColumn => ({
      id: `param:${k}`,
      label: k,
      group: 'param',
      type: 'text',
      visible: runs.length > 1 && differs(k),
      description: differs(k) ? 'differs between runs' : 'the same in every run',
    })),
  ];
  const bench = new Map<string, ExperimentColumn>();
  const rows = runs.map((r, i): ExperimentRow => {
    const m = lastPerStep(r.metrics);
    const losses = m.map((x) => x.loss).filter(Number.isFinite);
    const { startedAt, endedAt } = r.status;
    const values: Record<string, number | string | null> = {
      name: r.status.name,
      started: (startedAt ?? r.status.createdAt).replace('T', ' ').replace(/\.\d+Z$|Z$/, ''),
      state: r.status.state,
      source: r.source ?? 'TAIA Lab',
      steps: Math.max(r.status.step, m.at(-1)?.step ?? 0),
      finalLoss: finite(r.status.finalLoss ?? m.at(-1)?.loss),
      bestLoss: losses.length ? Math.min(...losses) : null,
      tokensPerSecond: median(m.map((x) => x.tokensPerSecond ?? NaN)) ?? null,
      seconds: startedAt && endedAt ? (Date.parse(endedAt) - Date.parse(startedAt)) / 1000 : finite(m.at(-1)?.elapsed),
    };
    for (const [k, v] of Object.entries(params[i])) values[`param:${k}`] = v;
    // Scores of the run's checkpoints, then of merges made from them.
    const kinds: [string, string[]][] = [
      ['checkpoint', [r.dir]],
      ...groupBy(
        merges.filter((g) => inside(r.dir, g.finetuned)),
        (g) => g.recipe,
      ).map(([recipe, gs]): [string, string[]] => [recipe, gs.map((g) => g.dir)]),
    ];
    for (const [kind, dirs] of kinds) {
      const scored = results.filter(
        (res) =>
          res.checkpoint &&
          dirs.some((d) =>
            kind === 'checkpoint' ? inside(d, res.checkpoint!) : path.resolve(d) === path.resolve(res.checkpoint!),
          ),
      );
      for (const res of scored) {
        for (const [task, t] of res.tasks) {
          for (const [metric, mr] of t.metrics) {
            const id = `bench:${task}/${metric}/${kind}`;
            if (!bench.has(id))
              bench.set(id, {
                id,
                label: `${task} ${metric} (${kind === 'checkpoint' ? 'fine-tune' : kind})`,
                group: 'benchmark',
                type: 'number',
                visible: true,
                lowerIsBetter: !mr.higherIsBetter,
                description: `${task} / ${metric} of the run's ${kind === 'checkpoint' ? 'checkpoints' : `${kind} merges`}: the best where several were evaluated`,
              });
            const prev = values[id];
            const better = typeof prev !== 'number' || (mr.higherIsBetter ? mr.value > prev : mr.value < prev);
            if (better) values[id] = mr.value;
          }
        }
      }
    }
    return { id: r.dir, values, series: series(m) };
  });
  const benchColumns = [...bench.values()].sort((a, b) => a.id.localeCompare(b.id));
  for (const row of rows) for (const c of [...columns, ...benchColumns]) row.values[c.id] ??= null;
  return { columns: [...columns, ...benchColumns], rows };
}

function groupBy<T>(items: T[], key: (t: T) => string): [string, T[]][] {
  const out = new Map<string, T[]>();
  for (const t of items) out.set(key(t), [...(out.get(key(t)) ?? []), t]);
  return [...out];
}
