// Spreads a delta report's tensors over worker threads (./partWorker), each computing a share by name.
import { startJob } from '../util/worker';
import { bytesOf, Pair } from './pairs';
import { DeltaOptions, TensorDelta } from './types';

/** workerData.role of a part worker. */
export const DELTA_PART_ROLE = 'taia-delta-part';

/** What a part worker is given: its share of the tensors, by name. */
export interface PartRequest {
  role: typeof DELTA_PART_ROLE;
  options: Pick<DeltaOptions, 'base' | 'finetuned' | 'merged' | 'spectrum' | 'only'>;
}

/** Splits tensors into `n` shares of about equal bytes (largest first, each to the lightest share). */
export function balance(pairs: Pair[], n: number): string[][] {
  const shares = Array.from({ length: n }, () => ({ bytes: 0, names: [] as string[] }));
  for (const p of [...pairs].sort((a, b) => bytesOf(b) - bytesOf(a))) {
    const lightest = shares.reduce((a, b) => (b.bytes < a.bytes ? b : a));
    lightest.bytes += bytesOf(p);
    lightest.names.push(p.name);
  }
  return shares.map((s) => s.names);
}

/** Runs each share in a worker thread; resolves when all finished, rejects on the first error or on cancel. */
export async function inWorkers(
  opts: DeltaOptions,
  script: string,
  shares: string[][],
  record: (t: TensorDelta) => void,
): Promise<void> {
  const base = { base: opts.base, finetuned: opts.finetuned, merged: opts.merged, spectrum: opts.spectrum };
  const jobs = shares.map((only) =>
    startJob<PartRequest, TensorDelta, void>(
      script,
      { role: DELTA_PART_ROLE, options: { ...base, only } },
      record,
      'delta worker',
    ),
  );
  const cancel = () => jobs.forEach((j) => j.cancel());
  opts.signal?.addEventListener('abort', cancel);
  try {
    // The first failure stops the other parts; the error reported is the first one.
    const outcomes = await Promise.allSettled(
      jobs.map((j) =>
        j.result.catch((e: unknown) => {
          cancel();
          throw e;
        }),
      ),
    );
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  } finally {
    opts.signal?.removeEventListener('abort', cancel);
  }
}
