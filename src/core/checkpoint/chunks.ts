import { elementCount } from '../safetensors/dtypes';
import { WeightRef } from './weights';

/** Elements per chunk of streamed work: bounds memory whatever the tensor size (16 MiB of float32). */
export const CHUNK_ELEMENTS = 4 * 2 ** 20;

/** Bytes per element of a stored tensor (a fraction for sub-byte dtypes). */
export function storedWidth(ref: WeightRef): number {
  return (ref.info.end - ref.info.begin) / Math.max(elementCount(ref.info.shape), 1);
}

/** Reads elements [i·CHUNK, (i+1)·CHUNK) of a tensor into `target`. */
export function readElements(ref: WeightRef, chunk: number, target: Buffer): Promise<Buffer> {
  const n = elementCount(ref.info.shape);
  const w = storedWidth(ref);
  return ref.file.readRange(
    ref.info,
    chunk * CHUNK_ELEMENTS * w,
    Math.min(n, (chunk + 1) * CHUNK_ELEMENTS) * w,
    target,
  );
}
