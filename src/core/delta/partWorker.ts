// A part of a parallel delta report: when loaded as a worker thread with the part role, computes its share of
// tensors and streams each result; `cancel` stops it. Bundled as dist/diff-part-worker.js.
import { isMainThread, workerData } from 'node:worker_threads';
import { serveJob } from '../util/worker';
import { diffCheckpoints, TensorDelta } from './diff';
import { DELTA_PART_ROLE, PartRequest } from './parallel';

if (!isMainThread && (workerData as { role?: string } | undefined)?.role === DELTA_PART_ROLE) {
  serveJob<PartRequest, TensorDelta, void>(async ({ options }, { signal, progress }) => {
    await diffCheckpoints({ ...options, signal, onTensor: progress });
  });
}
