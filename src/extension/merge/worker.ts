// Runs a merge off the extension host's event loop (a worker thread), so the editor stays responsive.
import { executeMerge } from '../../core/merge/execute';
import { closeInputs, planMerge } from '../../core/merge/plan';
import { loadRecipe } from '../../core/merge/recipes';
import { summarizePlan } from '../../core/merge/summary';
import { serveJob } from '../../core/util/worker';
import type { MergeProgress, MergeRequest, MergeResult } from './protocol';

serveJob<MergeRequest, MergeProgress, MergeResult | undefined>(async (req, { signal, progress }) => {
  const plan = await planMerge({ ...req, recipe: await loadRecipe(req.recipe) });
  progress({ type: 'plan', plan: summarizePlan(plan) });
  if (req.type === 'plan') {
    await closeInputs(plan);
    return undefined;
  }
  let last = 0;
  const result = await executeMerge(
    plan,
    (p) => {
      const now = Date.now();
      if (now - last < 100 && p.bytesDone < p.bytesTotal) return;
      last = now;
      progress({ type: 'progress', bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, tensor: p.tensor });
    },
    signal,
  );
  return { out: result.out, bytes: result.bytes, seconds: result.seconds };
});
