// Reads result files and computes a benchmark diff off the extension host's event loop: a paired
// bootstrap over 10,000 examples takes about half a second per cell.
import { parentPort, workerData } from 'node:worker_threads';
import { compareModels, ModelRef } from '../core/results/compare';
import type { Correction } from '../core/results/stats';

const { models, baseline, correction } = workerData as { models: ModelRef[]; baseline?: string; correction: Correction };
compareModels(models, baseline, correction).then(
  (outcome) => parentPort!.postMessage({ type: 'done', ...outcome }),
  (e: Error) => parentPort!.postMessage({ type: 'error', message: e.message }),
);
