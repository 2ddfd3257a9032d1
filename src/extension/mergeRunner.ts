import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { MergeRequest, PlanSummary, WorkerMessage } from './mergeProtocol';

export interface MergeCallbacks {
  onPlan?: (plan: PlanSummary) => void;
  onProgress?: (bytesDone: number, bytesTotal: number, tensor: string) => void;
}

export type MergeOutcome = { type: 'done'; out: string; bytes: number; seconds: number; plan: PlanSummary } | { type: 'cancelled' } | { type: 'plan'; plan: PlanSummary };

/**
 * Starts the merge worker bundle (dist/merge-worker.js) for one request and resolves with its outcome;
 * rejects with the worker's error message (`unknownTensors` set when unrecognised layer weights stopped
 * it). `cancel` asks the worker to stop and clean up.
 */
export function runMergeWorker(extensionPath: string, req: MergeRequest, cb: MergeCallbacks = {}): { outcome: Promise<MergeOutcome>; cancel: () => void } {
  const worker = new Worker(path.join(extensionPath, 'dist', 'merge-worker.js'), { workerData: req });
  const outcome = new Promise<MergeOutcome>((resolve, reject) => {
    let plan: PlanSummary | undefined;
    worker.on('message', (m: WorkerMessage) => {
      switch (m.type) {
        case 'plan':
          plan = m.plan;
          cb.onPlan?.(m.plan);
          if (req.type === 'plan') resolve({ type: 'plan', plan });
          break;
        case 'progress':
          cb.onProgress?.(m.bytesDone, m.bytesTotal, m.tensor);
          break;
        case 'done':
          resolve({ type: 'done', out: m.out, bytes: m.bytes, seconds: m.seconds, plan: plan! });
          break;
        case 'cancelled':
          resolve({ type: 'cancelled' });
          break;
        case 'error':
          reject(Object.assign(new Error(m.message), { unknownTensors: m.unknownTensors === true }));
          break;
      }
    });
    worker.on('error', reject);
    // After a result this is a no-op; before one it means the worker died.
    worker.on('exit', (code) => reject(new Error(code === 0 ? 'merge worker stopped without a result' : `merge worker exited with code ${code}`)));
  });
  return { outcome, cancel: () => worker.postMessage({ type: 'cancel' }) };
}
