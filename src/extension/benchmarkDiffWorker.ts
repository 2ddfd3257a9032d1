// Reads result files and computes a benchmark diff off the extension host's event loop: a paired
// bootstrap over 10,000 examples takes about half a second per cell.
import { parentPort, workerData } from 'node:worker_threads';
import { compareModels, ModelRef } from '../core/results/compare';

const { models, baseline } = workerData as { models: ModelRef[]; baseline?: string };
compareModels(models, baseline).then(
  (outcome) => parentPort!.postMessage({ type: 'done', ...outcome }),
  (e: Error) => parentPort!.postMessage({ type: 'error', message: e.message }),
);
