// The delta report: statistics of Δ = fine-tune − base per tensor and per block, and with a merged
// output, the three-way check against its recipe. The entry; each job lives in its own module.
import * as path from 'node:path';
import { closePair, openPair } from '../checkpoint/pair';
import { CheckpointWeights } from '../checkpoint/weights';
import { throwIfAborted } from '../errors';
import { wasmKernel } from './kernel';
import { balance, inWorkers } from './parallel';
import { bytesOf, pairTensors } from './pairs';
import { kernelPipeline, RowReader } from './pipeline';
import { SPECTRUM_METHOD } from './spectrum';
import { diffTensor, Readers } from './tensor';
import { mergedRecipe, threeWay } from './threeWay';
import { blockTotals } from './totals';
import { DELTA_REPORT_VERSION, DeltaOptions, DeltaReport, TensorDelta } from './types';

export { DELTA_REPORT_VERSION } from './types';
export type { BlockTotals, DeltaOptions, DeltaReport, MergedSource, TensorDelta, ThreeWay } from './types';

/**
 * Streams base and fine-tune (and a merged output) tensor by tensor, in row blocks, computing the
 * statistics of Δ per tensor; with `spectrum`, 2-D tensors get a second streamed pass for the
 * singular values. Memory stays bounded by the chunk size, whatever the model size.
 */
export async function diffCheckpoints(opts: DeltaOptions): Promise<DeltaReport> {
  const started = performance.now();
  const pair = await openPair(opts.base, opts.finetuned);
  let merged: CheckpointWeights | undefined;
  try {
    if (opts.merged) merged = await CheckpointWeights.open(opts.merged);
    const recipe = opts.merged ? await mergedRecipe(opts.merged) : undefined;
    const { pairs, onlyInBase, onlyInFinetuned } = await pairTensors(pair, merged);
    if (opts.only) {
      const only = new Set(opts.only);
      pairs.splice(0, pairs.length, ...pairs.filter((p) => only.has(p.name)));
    }
    const bytesTotal = pairs.reduce((n, p) => n + bytesOf(p), 0);
    let bytesDone = 0;
    let index = 0;
    const results = new Map<string, TensorDelta>();
    const sizes = new Map(pairs.map((p) => [p.name, bytesOf(p)]));
    const record = (t: TensorDelta) => {
      results.set(t.name, t);
      bytesDone += sizes.get(t.name)!;
      opts.onTensor?.(t);
      opts.onProgress?.({ tensor: t.name, index: ++index, count: pairs.length, bytesDone, bytesTotal });
    };
    opts.onProgress?.({ tensor: '', index: 0, count: pairs.length, bytesDone, bytesTotal });
    const workers = Math.min(opts.parallel?.workers ?? 1, pairs.length);
    if (opts.parallel && workers > 1) {
      await inWorkers(opts, opts.parallel.script, balance(pairs, workers), record);
    } else {
      const readers: Readers = { base: new RowReader(), finetuned: new RowReader(), merged: new RowReader() };
      const kernel = wasmKernel();
      // Statistics only (no spectrum, merged output or adapter): one pipeline through the kernel.
      const piped = kernel && !opts.spectrum ? pairs.filter((p) => !p.merged && !p.lora) : [];
      if (piped.length) await kernelPipeline(piped, kernel!, opts.signal, record);
      for (const p of pairs) {
        if (piped.includes(p)) continue;
        throwIfAborted(opts.signal);
        record(await diffTensor(p, opts, recipe, readers));
      }
    }
    const tensors = pairs.map((p) => results.get(p.name)!);
    return {
      version: DELTA_REPORT_VERSION,
      base: path.resolve(opts.base),
      finetuned: path.resolve(opts.finetuned),
      finetunedKind: pair.kind,
      family: pair.family,
      layers: tensors.reduce((m, t) => Math.max(m, (t.layer ?? -1) + 1), 0),
      spectrumMethod: opts.spectrum ? SPECTRUM_METHOD : undefined,
      tensors,
      blocks: blockTotals(tensors),
      onlyInBase,
      onlyInFinetuned,
      threeWay: opts.merged ? threeWay(path.resolve(opts.merged), recipe, tensors) : undefined,
      bytesRead: bytesDone * (opts.merged ? 3 : 2),
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await closePair(pair);
    await merged?.close();
  }
}
