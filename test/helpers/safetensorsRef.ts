// A reference safetensors encoder written straight from the specification, independent of
// src/core, so tests of the reader are not tests of our writer against itself.
import { writeFileSync } from 'node:fs';

export interface RefTensor {
  name: string;
  dtype: string;
  shape: number[];
  data: Uint8Array;
}

export function encodeSafetensors(
  tensors: RefTensor[],
  metadata?: Record<string, string>,
  opts: { align?: boolean } = {},
): Buffer {
  // Null prototype: a tensor named `__proto__` must become a key, not the object's prototype.
  const header: Record<string, unknown> = Object.create(null);
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  let json = JSON.stringify(header);
  if (opts.align !== false) while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const jsonBytes = Buffer.from(json, 'utf-8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(jsonBytes.length));
  return Buffer.concat([
    prefix,
    jsonBytes,
    ...tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)),
  ]);
}

export function writeSafetensors(file: string, tensors: RefTensor[], metadata?: Record<string, string>): void {
  writeFileSync(file, encodeSafetensors(tensors, metadata));
}

/** Reads a file's header with plain JSON, for asserting on what our writer produced. */
export function readRefHeader(buf: Buffer): { headerLength: number; header: Record<string, any> } {
  const n = Number(buf.readBigUInt64LE(0));
  return { headerLength: n, header: JSON.parse(buf.subarray(8, 8 + n).toString('utf-8')) };
}

export { rng } from '../../src/core/util/random';

/**
 * bfloat16 reference: the representable neighbours of x are found by truncation, and the nearer one
 * is picked by exact float64 arithmetic (ties to the even mantissa), without bit tricks on rounding.
 */
export function refBf16(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  if (Number.isNaN(x)) return 0x7fc0;
  const lo = u[0] >>> 16;
  const hi = lo + 1;
  const val = (bits: number) => {
    u[0] = (bits & 0xffff) << 16;
    return f[0];
  };
  const x32 = Math.fround(x);
  const dl = Math.abs(x32 - val(lo));
  // Rounding treats infinity as the next step above the largest finite value (2^128).
  const dh = Math.abs(Math.abs(x32) - ((hi & 0x7f80) === 0x7f80 ? 2 ** 128 : Math.abs(val(hi))));
  if ((lo & 0x7f80) === 0x7f80) return lo; // already inf
  if (dl < dh) return lo;
  if (dh < dl) return hi & 0xffff;
  return (lo & 1 ? hi : lo) & 0xffff;
}

export function bf16ToNumber(h: number): number {
  const u = new Uint32Array([h << 16]);
  return new Float32Array(u.buffer)[0];
}

/** Encodes numbers as little-endian bf16 bytes with the reference rounding. */
export function bf16Bytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = refBf16(values[i]);
  return new Uint8Array(out.buffer);
}

export function f32Bytes(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

export function bf16Values(bytes: Uint8Array): Float64Array {
  const h = new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return Float64Array.from(h, bf16ToNumber);
}
