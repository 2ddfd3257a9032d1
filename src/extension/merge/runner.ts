import * as path from 'node:path';
import { CancelledError } from '../../core/errors';
import { startJob } from '../../core/util/worker';
import type { MergeProgress, MergeRequest, MergeResult, PlanSummary } from './protocol';

export interface MergeCallbacks {
  onPlan?: (plan: PlanSummary) => void;
  onProgress?: (bytesDone: number, bytesTotal: number, tensor: string) => void;
}

export type MergeOutcome =
  | { type: 'done'; out: string; bytes: number; seconds: number; plan: PlanSummary }
  | { type: 'cancelled' }
  | { type: 'plan'; plan: PlanSummary };

/**
 * Starts the merge worker bundle (dist/merge-worker.js) for one request and resolves with its outcome;
 * rejects with the worker's error message. `cancel` asks the worker to stop and clean up.
 */
export function runMergeWorker(
  extensionPath: string,
  req: MergeRequest,
  cb: MergeCallbacks = {},
): { outcome: Promise<MergeOutcome>; cancel: () => void } {
  let plan: PlanSummary | undefined;
  const job = startJob<MergeRequest, MergeProgress, MergeResult | undefined>(
    path.join(extensionPath, 'dist', 'merge-worker.js'),
    req,
    (m) => {
      if (m.type === 'plan') {
        plan = m.plan;
        cb.onPlan?.(m.plan);
      } else cb.onProgress?.(m.bytesDone, m.bytesTotal, m.tensor);
    },
    'merge worker',
  );
  const outcome = job.result.then(
    (result): MergeOutcome => {
      if (!plan) throw new Error('merge worker finished without a plan');
      return result ? { type: 'done', ...result, plan } : { type: 'plan', plan };
    },
    (e: unknown): MergeOutcome => {
      if (e instanceof CancelledError) return { type: 'cancelled' };
      throw e;
    },
  );
  return { outcome, cancel: job.cancel };
}
