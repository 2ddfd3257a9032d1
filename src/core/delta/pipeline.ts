// Streams tensors of a pair in row blocks: the WebAssembly kernel's pipeline for plain statistics, and
// float32 row readers for the passes that need values (spectrum, three-way, adapter, TAIA_DIFF_KERNEL=js).
import { storedWidth } from '../checkpoint/chunks';
import { WeightRef } from '../checkpoint/weights';
import { throwIfAborted } from '../errors';
import { toFloat32 } from '../safetensors/convert';
import { alignedBuffer } from '../safetensors/reader';
import { elementCount, FloatDtype } from '../safetensors/dtypes';
import { WasmDeltaKernel } from './kernel';
import { Pair } from './pairs';
import { DeltaAccumulator } from './stats';
import { TensorDelta } from './types';

const CHUNK = 4 * 2 ** 20;

/** Views a tensor as [rows, cols] with cols its last dimension, for row-block streaming. */
export function matrixShape(shape: number[]): [number, number] {
  const cols = shape.length === 0 ? 1 : Math.max(1, shape[shape.length - 1]);
  return [elementCount(shape) / cols, cols];
}

/** A tensor's entry of the report from its accumulated statistics. */
export function tensorDelta(p: Pair, acc: DeltaAccumulator): TensorDelta {
  return {
    name: p.name,
    layer: p.cls.layer,
    block: p.cls.block,
    module: p.cls.module,
    expert: p.cls.expert,
    known: p.cls.known,
    shape: p.base.info.shape,
    dtype: { base: p.base.info.dtype, finetuned: p.lora ? `${p.base.info.dtype}+LoRA` : p.finetuned!.info.dtype },
    ...acc.result(),
  };
}

/** Row blocks [row0, n] of a tensor viewed as [rows, cols], each at most CHUNK elements (or one row). */
export function rowBlocks(rows: number, cols: number): (readonly [row0: number, n: number])[] {
  const rowsPerChunk = Math.max(1, Math.floor(CHUNK / cols));
  const blocks: (readonly [number, number])[] = [];
  for (let row0 = 0; row0 < rows; row0 += rowsPerChunk) blocks.push([row0, Math.min(rowsPerChunk, rows - row0)]);
  return blocks;
}

/**
 * The statistics of many tensors through the WebAssembly kernel as one pipeline: the stored bytes of
 * each chunk are read straight into the kernel's memory, and the next chunk, of this tensor or the next
 * one, is read (off this thread, by libuv) while the kernel works on the current one.
 */
export async function kernelPipeline(
  pairs: Pair[],
  kernel: WasmDeltaKernel,
  signal: AbortSignal | undefined,
  record: (t: TensorDelta) => void,
): Promise<void> {
  const jobs: { pair: Pair; row0: number; n: number; cols: number; first: boolean; last: boolean }[] = [];
  let baseBytes = 0;
  let ftBytes = 0;
  for (const pair of pairs) {
    const [rows, cols] = matrixShape(pair.base.info.shape);
    const blocks = rowBlocks(rows, cols);
    blocks.forEach(([row0, n], k) => {
      jobs.push({ pair, row0, n, cols, first: k === 0, last: k === blocks.length - 1 });
      baseBytes = Math.max(baseBytes, n * cols * storedWidth(pair.base));
      ftBytes = Math.max(ftBytes, n * cols * storedWidth(pair.finetuned!));
    });
  }
  kernel.reserve(baseBytes, ftBytes);
  const read = (job: (typeof jobs)[number], slot: number) => {
    const [b, f] = kernel.inputs(
      slot,
      job.n * job.cols * storedWidth(job.pair.base),
      job.n * job.cols * storedWidth(job.pair.finetuned!),
    );
    return Promise.all([
      readRows(job.pair.base, job.row0, job.n, job.cols, b),
      readRows(job.pair.finetuned!, job.row0, job.n, job.cols, f),
    ]);
  };
  let acc: DeltaAccumulator | undefined;
  let reading = jobs.length ? read(jobs[0], 0) : undefined;
  for (let k = 0; k < jobs.length; k++) {
    await reading;
    throwIfAborted(signal);
    if (k + 1 < jobs.length) reading = read(jobs[k + 1], (k + 1) % 2);
    const { pair, n, cols, first, last } = jobs[k];
    if (first) acc = new DeltaAccumulator(elementCount(pair.base.info.shape));
    kernel.add(acc!, k % 2, n * cols, pair.base.info.dtype as FloatDtype, pair.finetuned!.info.dtype as FloatDtype);
    if (last) record(tensorDelta(pair, acc!));
  }
}

/** Reusable buffers per input, so streaming a model allocates nothing per chunk. */
export class RowReader {
  private raw = alignedBuffer(0);
  private values = new Float32Array(0);

  async read(ref: WeightRef, row0: number, n: number, cols: number): Promise<Float32Array> {
    const bytes = n * cols * storedWidth(ref);
    if (this.raw.length < bytes) this.raw = alignedBuffer(bytes);
    if (this.values.length < n * cols) this.values = new Float32Array(n * cols);
    return toFloat32(await readRows(ref, row0, n, cols, this.raw), ref.info.dtype as FloatDtype, this.values);
  }
}

/** The stored bytes of rows [row0, row0 + n) of a tensor viewed as [rows, cols], into `target`. */
export function readRows(ref: WeightRef, row0: number, n: number, cols: number, target: Buffer): Promise<Buffer> {
  const w = storedWidth(ref);
  return ref.file.readRange(ref.info, row0 * cols * w, (row0 + n) * cols * w, target);
}
