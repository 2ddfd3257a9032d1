import { CHUNK_ELEMENTS } from '../checkpoint/chunks';
import { throwIfAborted } from '../errors';
import { FloatDtype } from '../safetensors/dtypes';
import type { LoraFactors } from './fold';
import { FoldPool } from './pool';

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
 * is folded, each in its own slot of the shared memory.
 */
export async function foldStream(pool: FoldPool, s: FoldSource): Promise<void> {
  const f = s.factors;
  const rowsPerChunk = Math.max(1, Math.floor(CHUNK_ELEMENTS / f.cols));
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
  try {
    for (let i = 0; i < chunks; i++) {
      await reading;
      throwIfAborted(s.signal);
      reading = i + 1 < chunks ? read(i + 1) : undefined;
      const [from, to] = span(i);
      await pool.fold(i % 2, from, to - from);
      // Slot i % 2's output is free again once chunk i − 2 was written, which ended before chunk i − 1 started.
      await writing;
      writing = handled(s.emit(mem.output(i % 2, to - from)));
    }
    await writing;
  } catch (e) {
    // Nothing may still use the files or the slots once this returns.
    await Promise.allSettled([reading, writing]);
    throw e;
  }
}
