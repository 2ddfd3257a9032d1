// The one message contract between the extension host and the run dashboard webview.
import type { MetricRecord, RunConfig, RunStatus } from '../../core/runs/types';
import type { RunData } from '../../core/runs/view';

export type ToWebview =
  /** Everything so far; sent whenever the page (re)loads. */
  | ({ type: 'init'; runDir: string; status: RunStatus; config?: RunConfig; metrics: MetricRecord[] } & Pick<
      RunData,
      'evals' | 'hyperparameters' | 'notes'
    >)
  | { type: 'status'; status: RunStatus }
  /** Only the records appended to metrics.jsonl since the last message (an external run: the records after the last step sent, and its evaluations). */
  | ({ type: 'metrics'; records: MetricRecord[] } & Pick<RunData, 'evals'>)
  /** A Slurm run's job output: its tail on (re)load (`reset`), then what was appended. */
  | { type: 'jobLog'; text: string; reset: boolean }
  | { type: 'error'; message: string };

export type FromWebview =
  | { type: 'ready' }
  /** After the first render of an init: lets tests (and the host) know the page shows the run. */
  | { type: 'rendered'; records: number }
  | { type: 'open'; file: 'log' | 'config' }
  /** Cancel the running run (it finishes its step and saves a checkpoint). */
  | { type: 'cancel' };

/** What the webview keeps with setState: enough for the serializer to reopen the run after a reload. */
export interface DashboardState {
  runDir: string;
}
