// Computes a weight-delta report off the extension host's event loop, streaming each tensor's result.
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { diffCheckpoints, DeltaOptions, DeltaReport } from '../../core/delta/diff';
import { serveJob } from '../../core/util/worker';
import type { DeltaProgress } from '../../webview/deltaReview/protocol';

type DeltaRequest = Pick<DeltaOptions, 'base' | 'finetuned' | 'merged' | 'spectrum'>;

serveJob<DeltaRequest, DeltaProgress, DeltaReport>((req, { signal, progress }) => {
  let last = 0;
  return diffCheckpoints({
    ...req,
    // Statistics are compute-bound: spread tensors over the cores, in bundles beside this one.
    parallel: { workers: availableParallelism(), script: path.join(__dirname, 'diff-part-worker.js') },
    signal,
    onTensor: (tensor) => progress({ type: 'tensor', tensor }),
    onProgress: (p) => {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      progress({
        type: 'progress',
        bytesDone: p.bytesDone,
        bytesTotal: p.bytesTotal,
        tensors: p.index,
        count: p.count,
      });
    },
  });
});
