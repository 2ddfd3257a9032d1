// A part of a parallel diff: when loaded as a worker thread with the part role, computes its share of
// tensors and posts each result; `cancel` stops it. Bundled as dist/diff-part-worker.js.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { CancelledError } from '../errors';
import { diffCheckpoints, DIFF_PART_ROLE, DiffOptions, PartMessage } from './diff';

if (!isMainThread && parentPort && (workerData as { role?: string } | undefined)?.role === DIFF_PART_ROLE) {
  const port = parentPort;
  const post = (m: PartMessage) => port.postMessage(m);
  const controller = new AbortController();
  port.on('message', (m: { type: string }) => {
    if (m.type === 'cancel') controller.abort();
  });
  const options = (workerData as { options: Pick<DiffOptions, 'base' | 'finetuned' | 'merged' | 'spectrum' | 'only'> }).options;
  diffCheckpoints({ ...options, signal: controller.signal, onTensor: (tensor) => post({ type: 'tensor', tensor }) }).then(
    () => {
      post({ type: 'done' });
      port.close();
    },
    (e: unknown) => {
      post(e instanceof CancelledError ? { type: 'cancelled' } : { type: 'error', message: e instanceof Error ? e.message : String(e) });
      port.close();
    },
  );
}
