// A run as the dashboard and the comparison show it, whoever wrote it: the project's own run folder
// (status.json, config.json, metrics.jsonl) or an external tool's output folder read in place.
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { EvalRecord, isExternalRun, readExternalRun } from './external';
import { readMetrics, readRunConfig, reconcileStatus } from './store';
import { MetricRecord, RunConfig, RunStatus, STATUS_FILE } from './types';

export interface RunData {
  dir: string;
  status: RunStatus;
  config?: RunConfig;
  metrics: MetricRecord[];
  /** External runs: evaluations from the log (eval_loss… without the prefix). */
  evals?: EvalRecord[];
  /** External runs: the tool's settings and config files (there is no experiment config). */
  hyperparameters?: Record<string, unknown>;
  /** External runs: what could not be read, or was left unread on purpose. */
  notes?: string[];
}

/** Whether a folder is one of the project's own runs (it has status.json). */
export async function isOwnRun(dir: string): Promise<boolean> {
  return stat(path.join(dir, STATUS_FILE)).then(
    () => true,
    () => false,
  );
}

/** Reads either kind; the status of an own run is reconciled, so one whose trainer died reads interrupted. */
export async function readRunData(dir: string, root?: string): Promise<RunData> {
  if (!(await isOwnRun(dir)) && (await isExternalRun(dir))) {
    const run = await readExternalRun(dir, root);
    return {
      dir,
      status: run.status,
      metrics: run.metrics,
      evals: run.evals,
      hyperparameters: run.hyperparameters,
      notes: run.notes,
    };
  }
  const [status, config, metrics] = await Promise.all([
    reconcileStatus(dir),
    readRunConfig(dir).catch(() => undefined),
    readMetrics(dir),
  ]);
  // `engine: command`: the tool's output folder adds its evaluations and settings.
  const out =
    status.outputDir && (await isExternalRun(status.outputDir))
      ? await readExternalRun(status.outputDir, root).catch(() => undefined)
      : undefined;
  return out
    ? { dir, status, config, metrics, evals: out.evals, hyperparameters: out.hyperparameters, notes: out.notes }
    : { dir, status, config, metrics };
}
