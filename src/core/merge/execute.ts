import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ShardedWriter } from '../checkpoint/shardedWriter';
import { PROVENANCE_FILE } from '../checkpoint/discover';
import { exists } from '../checkpoint/weights';
import { TORCH_DTYPE } from '../checkpoint/files';
import { CheckpointError, OutputExistsError, throwIfAborted } from '../errors';
import { fromFloat32, toFloat32 } from '../safetensors/convert';
import { elementCount, FloatDtype } from '../safetensors/dtypes';
import { alignedBuffer } from '../safetensors/reader';
import { addDeltaRows, loraFactors } from '../lora/fold';
import { foldKernelName } from '../lora/kernel';
import { FoldPool } from '../lora/pool';
import { foldStream } from '../lora/stream';
import { readAhead } from '../util/pipeline';
import { CHUNK_ELEMENTS, readElements, storedWidth } from '../checkpoint/chunks';
import { TOOL_NAME, TOOL_VERSION } from '../version';
import { closeInputs, MergePlan, PlannedTensor } from './plan';
import { buildProvenance, serialiseProvenance } from './provenance';
import { mergeTempName } from './recover';

export interface MergeProgress {
  tensor: string;
  index: number;
  count: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface MergeResult {
  out: string;
  files: string[];
  bytes: number;
  seconds: number;
  /** LoRA folding work, 2·rows·cols·r per folded module, and the time spent computing it (reads and writes overlap it). */
  loraFlops: number;
  loraSeconds: number;
  /** What folded the LoRA modules, in words (see foldKernelName), when there were any. */
  loraKernel?: string;
}

/** Small files a loadable model folder needs besides its weights. */

/**
 * Executes a plan: streams every tensor into a temporary folder beside the output, then renames it
 * into place. On error or cancellation the temporary folder is removed; inputs are only read.
 * Closes the plan's inputs in every case.
 */
export async function executeMerge(
  plan: MergePlan,
  onProgress?: (p: MergeProgress) => void,
  signal?: AbortSignal,
): Promise<MergeResult> {
  const started = performance.now();
  const out = path.resolve(plan.options.out);
  const tmp = mergeTempName(out);
  let writer: ShardedWriter | undefined;
  let pool: FoldPool | undefined;
  try {
    if ((await exists(out)) && !plan.options.force) throw new OutputExistsError(out);
    await mkdir(tmp, { recursive: true });
    const metadata = {
      format: 'pt',
      taia_recipe: plan.options.recipe.name,
      taia_scale: String(plan.options.scale),
      taia_tool: `${TOOL_NAME} ${TOOL_VERSION}`,
    };
    writer = new ShardedWriter(tmp, plan.tensors, plan.options.maxShardBytes, metadata);
    // LoRA weights fold in worker threads, one per core (undefined: the in-thread reference folds).
    pool = plan.tensors.some((t) => t.op === 'lora') ? FoldPool.create() : undefined;
    const job: Job = {
      writer,
      buffers: new ChunkBuffers(),
      scale: plan.options.scale,
      bytesDone: 0,
      loraFlops: 0,
      loraSeconds: 0,
      pool,
      signal,
    };
    for (let i = 0; i < plan.tensors.length; i++) {
      throwIfAborted(signal);
      const t = plan.tensors[i];
      onProgress?.({
        tensor: t.name,
        index: i,
        count: plan.tensors.length,
        bytesDone: job.bytesDone,
        bytesTotal: plan.outputBytes,
      });
      await writeTensor(t, job);
    }
    await writer.finish();
    writer = undefined;
    await copySmallFiles(plan, tmp);
    await writeFile(path.join(tmp, PROVENANCE_FILE), serialiseProvenance(buildProvenance(plan)));
    throwIfAborted(signal);
    await moveIntoPlace(tmp, out);
    onProgress?.({
      tensor: '',
      index: plan.tensors.length,
      count: plan.tensors.length,
      bytesDone: plan.outputBytes,
      bytesTotal: plan.outputBytes,
    });
    return {
      out,
      files: (await readdir(out)).sort(),
      bytes: plan.outputBytes,
      seconds: (performance.now() - started) / 1000,
      loraFlops: job.loraFlops,
      loraSeconds: job.loraSeconds,
      loraKernel: job.loraFlops > 0 ? foldKernelName(pool?.kernel) : undefined,
    };
  } catch (e) {
    await writer?.abort();
    await rm(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    await pool?.close();
    await closeInputs(plan);
  }
}

/**
 * Bytes per read and write of a tensor copied untouched. Smaller than the chunk buffers: copying a
 * 2.2 GB model in 4 MiB pieces took a median 1.48 s (kernel time 0.97 s) against 4.11 s (3.42 s) in
 * 16 MiB pieces, five alternating runs each on the 2-core machine (bench/merge.mjs's model).
 */
const COPY_BYTES = 4 * 2 ** 20;

/** Two slots of reusable buffers, so chunk i+1 can be read while chunk i is transformed and written. */
export class ChunkBuffers {
  private readonly raw = [0, 1].map(() => [alignedBuffer(CHUNK_ELEMENTS * 4), alignedBuffer(CHUNK_ELEMENTS * 4)]);
  readonly work = new Float32Array(CHUNK_ELEMENTS);
  readonly other = new Float32Array(CHUNK_ELEMENTS);
  readonly encoded = alignedBuffer(CHUNK_ELEMENTS * 4);

  input(slot: 0 | 1, which: 0 | 1 = 0): Buffer {
    return this.raw[slot][which];
  }
}

/** Producing a tensor's bytes: by executeMerge into shards, by a virtual merge (virtual.ts) into memory. */
export interface Job {
  /** Receives each tensor's output bytes in order; the chunk's buffer is reused after the call. */
  writer: Pick<ShardedWriter, 'write'>;
  buffers: ChunkBuffers;
  scale: number;
  bytesDone: number;
  loraFlops: number;
  loraSeconds: number;
  pool?: FoldPool;
  signal?: AbortSignal;
}

export async function writeTensor(t: PlannedTensor, job: Job): Promise<void> {
  const { buffers: buf, signal } = job;
  const from = t.from;
  const n = elementCount(t.shape);
  const outDtype = t.dtype as FloatDtype;
  const emit = async (bytes: Uint8Array) => {
    await job.writer.write(t.name, bytes);
    job.bytesDone += bytes.length;
  };
  const chunks = Math.ceil(n / CHUNK_ELEMENTS);
  const convert = () =>
    readAhead(
      chunks,
      (i, slot) => readElements(from, i, buf.input(slot)),
      (bytes) => emit(fromFloat32(toFloat32(bytes, from.info.dtype as FloatDtype, buf.work), outDtype, buf.encoded)),
      signal,
    );
  switch (t.op) {
    case 'copy':
    case 'replace': {
      // A replacement stored in another dtype converts like any tensor.
      if (t.dtype !== from.info.dtype) return convert();
      // Bytes pass through untouched: exact for every dtype.
      const size = from.info.end - from.info.begin;
      const step = COPY_BYTES;
      return readAhead(
        Math.ceil(size / step),
        (i, slot) => from.file.readRange(from.info, i * step, Math.min(size, (i + 1) * step), buf.input(slot)),
        emit,
        signal,
      );
    }
    case 'convert':
      return convert();
    case 'scale': {
      // base + s·(finetuned − base), computed in float32.
      const base = t.base!;
      const s = job.scale;
      return readAhead(
        chunks,
        async (i, slot) =>
          Promise.all([readElements(from, i, buf.input(slot, 0)), readElements(base, i, buf.input(slot, 1))]),
        ([f, b]) => {
          const fv = toFloat32(f, from.info.dtype as FloatDtype, buf.work);
          const bv = toFloat32(b, base.info.dtype as FloatDtype, buf.other);
          for (let k = 0; k < fv.length; k++) fv[k] = bv[k] + s * (fv[k] - bv[k]);
          return emit(fromFloat32(fv, outDtype, buf.encoded));
        },
        signal,
      );
    }
    case 'lora': {
      await foldLora(t, job, emit);
      if (t.lora!.part === 'weight') job.loraFlops += 2 * n * t.lora!.module.r;
      return;
    }
  }
}

/** W + scale·ΔW, row block by row block, so memory stays bounded for any matrix. */
async function foldLora(t: PlannedTensor, job: Job, emit: (b: Uint8Array) => Promise<void>): Promise<void> {
  const { module, part } = t.lora!;
  const from = t.from;
  const inDtype = from.info.dtype as FloatDtype;
  const outDtype = t.dtype as FloatDtype;
  const buf = job.buffers;
  if (part === 'bias') {
    const b = toFloat32(await from.file.read(from.info.name), inDtype);
    const lb = module.bias!;
    const delta = toFloat32(await lb.file.read(lb.info.name), lb.info.dtype as FloatDtype);
    if (delta.length !== b.length)
      throw new CheckpointError(
        lb.file.path,
        `has ${delta.length} elements but '${from.info.name}' has ${b.length}`,
        lb.info.name,
      );
    const s = module.scaling * job.scale;
    for (let k = 0; k < b.length; k++) b[k] += s * delta[k];
    return emit(fromFloat32(b, outDtype));
  }
  const factors = await loraFactors(module, job.scale);
  const cols = factors.cols;
  const rowBytes = cols * storedWidth(from);
  const read = (row0: number, row1: number, target: Buffer) =>
    from.file.readRange(from.info, row0 * rowBytes, row1 * rowBytes, target);
  if (job.pool) {
    job.loraSeconds += await foldStream(job.pool, { factors, inDtype, outDtype, read, emit, signal: job.signal });
    return;
  }
  const rowsPerChunk = Math.max(1, Math.floor(CHUNK_ELEMENTS / cols));
  const rowChunks = Math.ceil(factors.rows / rowsPerChunk);
  // A row wider than a chunk still fits: the work buffers grow for it.
  const work = cols > CHUNK_ELEMENTS ? new Float32Array(cols) : buf.work;
  const encoded = cols > CHUNK_ELEMENTS ? alignedBuffer(cols * 4) : buf.encoded;
  const inputs =
    cols > CHUNK_ELEMENTS ? [alignedBuffer(cols * 4), alignedBuffer(cols * 4)] : [buf.input(0), buf.input(1)];
  await readAhead(
    rowChunks,
    (i, slot) => read(i * rowsPerChunk, Math.min(factors.rows, (i + 1) * rowsPerChunk), inputs[slot]),
    (bytes, i) => {
      const w = toFloat32(bytes, inDtype, work);
      const started = performance.now();
      addDeltaRows(w, i * rowsPerChunk, factors);
      job.loraSeconds += (performance.now() - started) / 1000;
      return emit(fromFloat32(w, outDtype, encoded));
    },
    job.signal,
  );
}

async function copySmallFiles(plan: MergePlan, tmp: string): Promise<void> {
  for (const src of plan.smallFiles) await copyFile(src, path.join(tmp, path.basename(src)));
  if (plan.options.dtype !== 'keep') {
    // The config states the weights' dtype; keep it truthful after conversion.
    const configPath = path.join(tmp, 'config.json');
    const config = JSON.parse(await readFile(configPath, 'utf-8')) as Record<string, unknown>;
    const dtype = TORCH_DTYPE[{ bf16: 'BF16', f16: 'F16', f32: 'F32' }[plan.options.dtype] as FloatDtype];
    config.torch_dtype = dtype;
    if ('dtype' in config) config.dtype = dtype;
    await writeFile(configPath, JSON.stringify(config, null, 2) + '\n');
  }
}

/** Renames the finished folder into place; an existing output (with --force) is swapped out first. */
async function moveIntoPlace(tmp: string, out: string): Promise<void> {
  if (!(await exists(out))) return rename(tmp, out);
  const old = `${tmp}-old`;
  await rename(out, old);
  await rename(tmp, out);
  await rm(old, { recursive: true, force: true });
}
