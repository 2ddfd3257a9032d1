import { CHUNK_ELEMENTS } from '../checkpoint/chunks';
import { throwIfAborted } from '../errors';
import { FloatDtype } from '../safetensors/dtypes';
import type { LoraFactors } from './fold';
import { FoldPool } from './pool';

/** Chunks a tensor is folded in at least (when it has the rows). */
const PIPELINE = 8;

/** A stored weight to fold: where its rows come from and where the folded bytes go. */
export interface FoldSource {
  factors: LoraFactors;
  inDtype: FloatDtype;
  outDtype: FloatDtype;
  /** Reads stored rows [from, to) into `target`. */
  read(from: number, to: number, target: Buffer): Promise<unknown>;
  /** Writes the next chunk of output; `bytes` is reused once the promise settles. */
  emit(bytes: Uint8Array): Promise<void>;
  signal?: AbortSignal;
}

/**
 * W + L·R chunk by chunk in the pool's workers: chunk i+1 is read and chunk i−1 written while chunk i
 * is folded, each in its own slot of the shared memory. Returns the seconds spent folding.
 */
export async function foldStream(pool: FoldPool, s: FoldSource): Promise<number> {
  const f = s.factors;
  // At least PIPELINE chunks per tensor, so that its reads and writes overlap its folding (most
  // attention projections are a single full chunk).
  const rowsPerChunk = Math.max(1, Math.min(Math.floor(CHUNK_ELEMENTS / f.cols), Math.ceil(f.rows / PIPELINE)));
  const chunks = Math.ceil(f.rows / rowsPerChunk);
  const mem = pool.memory;
  mem.prepare(f, Math.min(rowsPerChunk, f.rows), s.inDtype, s.outDtype);
  const span = (i: number) => [i * rowsPerChunk, Math.min(f.rows, (i + 1) * rowsPerChunk)];
  // A read or write that fails while a fold runs is awaited (and thrown) later: marked handled now.
  const handled = <T>(p: Promise<T>) => {
    p.catch(() => undefined);
    return p;
  };
  const read = (i: number) => {
    const [from, to] = span(i);
    return handled(s.read(from, to, mem.input(i % 2, to - from)));
  };
  let reading = chunks > 0 ? read(0) : undefined;
  let writing: Promise<void> = Promise.resolve();
  let folding = 0;
  try {
    for (let i = 0; i < chunks; i++) {
      await reading;
      throwIfAborted(s.signal);
      reading = i + 1 < chunks ? read(i + 1) : undefined;
      const [from, to] = span(i);
      const started = performance.now();
      await pool.fold(i % 2, from, to - from);
      folding += performance.now() - started;
      // Slot i % 2's output is free again once chunk i − 2 was written, which ended before chunk i − 1 started.
      await writing;
      writing = handled(s.emit(mem.output(i % 2, to - from)));
    }
    await writing;
    return folding / 1000;
  } catch (e) {
    // Nothing may still use the files or the slots once this returns.
    await Promise.allSettled([reading, writing]);
    throw e;
  }
}
