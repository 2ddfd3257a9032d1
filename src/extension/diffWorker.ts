// Computes a weight-delta report off the extension host's event loop, streaming each tensor's result.
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { CancelledError } from '../core/errors';
import { diffCheckpoints, DiffOptions } from '../core/delta/diff';
import type { ToWebview } from '../webview/deltaReview/protocol';

const port = parentPort!;
const post = (m: ToWebview) => port.postMessage(m);
const controller = new AbortController();
port.on('message', (m: { type: string }) => {
  if (m.type === 'cancel') controller.abort();
});

const req = workerData as Pick<DiffOptions, 'base' | 'finetuned' | 'merged' | 'spectrum'>;
let last = 0;
diffCheckpoints({
  ...req,
  // Statistics are compute-bound: spread tensors over the cores, in bundles beside this one.
  parallel: { workers: availableParallelism(), script: path.join(__dirname, 'diff-part-worker.js') },
  signal: controller.signal,
  onTensor: (tensor) => post({ type: 'tensor', tensor }),
  onProgress: (p) => {
    const now = Date.now();
    if (now - last < 100) return;
    last = now;
    post({ type: 'progress', bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, tensors: p.index, count: p.count });
  },
}).then(
  (report) => {
    post({ type: 'done', report });
    port.close();
  },
  (e: unknown) => {
    post(e instanceof CancelledError ? { type: 'cancelled' } : { type: 'error', message: e instanceof Error ? e.message : String(e) });
    port.close();
  },
);
