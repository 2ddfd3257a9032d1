// Runs a merge off the extension host's event loop (a worker thread), so the editor stays responsive.
import { parentPort, workerData } from 'node:worker_threads';
import { CancelledError } from '../core/errors';
import { executeMerge } from '../core/merge/execute';
import { closeInputs, planMerge, UnknownTensorsError } from '../core/merge/plan';
import { loadRecipe } from '../core/merge/recipes';
import type { CancelMessage, MergeRequest, WorkerMessage } from './mergeProtocol';

const port = parentPort!;
const post = (m: WorkerMessage) => port.postMessage(m);
const controller = new AbortController();
port.on('message', (m: CancelMessage) => {
  if (m.type === 'cancel') controller.abort();
});

async function run(req: MergeRequest): Promise<void> {
  const plan = await planMerge({ ...req, recipe: await loadRecipe(req.recipe) });
  post({
    type: 'plan',
    plan: {
      recipe: plan.options.recipe.name,
      recipeDescription: plan.options.recipe.description,
      finetunedKind: plan.finetunedKind,
      tensors: plan.tensors.length,
      outputBytes: plan.outputBytes,
      counts: plan.counts,
      notes: plan.notes,
      unknown: plan.unknown,
    },
  });
  if (req.type === 'plan') return closeInputs(plan);
  let last = 0;
  const result = await executeMerge(
    plan,
    (p) => {
      const now = Date.now();
      if (now - last < 100 && p.bytesDone < p.bytesTotal) return;
      last = now;
      post({ type: 'progress', bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, tensor: p.tensor });
    },
    controller.signal,
  );
  post({ type: 'done', out: result.out, bytes: result.bytes, seconds: result.seconds });
}

run(workerData as MergeRequest).then(
  () => port.close(),
  (e: unknown) => {
    post(e instanceof CancelledError ? { type: 'cancelled' } : { type: 'error', message: e instanceof Error ? e.message : String(e), unknownTensors: e instanceof UnknownTensorsError });
    port.close();
  },
);
