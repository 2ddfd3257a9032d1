import type {
  EvalHooks,
  EvalRequest,
  LanguageModel,
  LoglikelihoodRequest,
  ModelToEvaluate,
} from '../../evaluate/types';
import { writtenVariant } from '../../../core/merge/virtual';
import { EngineMessage, startPython, torchScript } from './python';

/** Examples per request: enough to fill a GPU batch, few enough that progress and cancel stay responsive. */
const EXAMPLES_PER_REQUEST = 32;

/**
 * The PyTorch engine as the evaluator's model: taia_torch_eval.py loads the checkpoint with
 * transformers (an adapter folded in with PEFT) and answers log-likelihood and greedy-generation
 * requests on token ids the evaluator made, so both engines score the same inputs.
 */
export async function openTorchModel(
  model: ModelToEvaluate,
  req: EvalRequest,
  hooks: EvalHooks,
): Promise<LanguageModel> {
  if (!model.variant) return openTorch(model, req, hooks);
  // transformers loads folders, so a variant is written (executeMerge) and removed after, unless kept.
  hooks.log(
    `writing the '${model.variant.recipe.name}' variant for transformers${model.variant.keepAt ? ` to ${model.variant.keepAt}` : ' to a temporary folder'}`,
  );
  const written = await writtenVariant(model.variant, model.variant.keepAt);
  try {
    const lm = await openTorch({ modelDir: written.dir }, req, hooks);
    return { ...lm, dispose: () => lm.dispose().finally(() => written.dispose()) };
  } catch (e) {
    await written.dispose();
    throw e;
  }
}

async function openTorch(model: ModelToEvaluate, req: EvalRequest, hooks: EvalHooks): Promise<LanguageModel> {
  const pending = new Map<number, { count: number; resolve(values: unknown[]): void; reject(e: Error): void }>();
  let ready: (description: string) => void = () => undefined;
  const loaded = new Promise<string>((resolve) => (ready = resolve));
  const onMessage = (m: EngineMessage): void => {
    if (m.type === 'ready') ready(`torch on ${String(m.device)} (${String(m.dtype)})`);
    else if (m.type === 'result') {
      const waiting = pending.get(Number(m.id));
      pending.delete(Number(m.id));
      if (!waiting) throw new Error(`taia_torch_eval.py answered request ${String(m.id)}, which was not asked`);
      if (Array.isArray(m.values) && m.values.length === waiting.count) return waiting.resolve(m.values);
      // The request fails with the reason, and the process is stopped (startPython kills it on a throw).
      const error = new Error(
        `taia_torch_eval.py answered request ${String(m.id)} with ${Array.isArray(m.values) ? m.values.length : 'no'} values for ${waiting.count} questions`,
      );
      waiting.reject(error);
      throw error;
    }
  };
  const args = [
    torchScript('taia_torch_eval.py'),
    '--model',
    model.modelDir,
    ...(model.adapterDir ? ['--adapter', model.adapterDir] : []),
    '--device',
    req.device,
  ];
  const python = startPython(args, onMessage, hooks.log);
  // Whatever is still unanswered when the process ends fails with its reason.
  const ended = python.exited.then(
    () => new Error('taia_torch_eval.py exited before answering (see its output)'),
    (e: Error) => e,
  );
  let gone: Error | undefined;
  void ended.then((e) => {
    gone = e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  });
  const description = await Promise.race([loaded, ended.then((e) => Promise.reject(e))]);
  let nextId = 0;
  const ask = <T>(request: Record<string, unknown>, count: number): Promise<T[]> =>
    new Promise<unknown[]>((resolve, reject) => {
      if (gone) return reject(gone);
      const id = nextId++;
      pending.set(id, { count, resolve, reject });
      python.send({ ...request, id });
    }) as Promise<T[]>;
  return {
    description,
    batchSize: EXAMPLES_PER_REQUEST,
    loglikelihood: (requests: LoglikelihoodRequest[]) =>
      ask<number>({ type: 'loglikelihood', requests }, requests.length),
    generate: (prompts: number[][], maxNewTokens: number, stop: number) =>
      ask<number[]>({ type: 'generate', prompts, maxNewTokens, stop }, prompts.length),
    async dispose() {
      python.end();
      await ended;
    },
  };
}
