import { FloatDtype } from './dtypes';

// Conversions between the float dtypes models are stored in. Computation happens in float32; every
// narrowing conversion rounds to nearest, ties to even, as PyTorch's `.to(dtype)` does.
// Typed arrays use the platform's byte order; every platform Node supports for this is little-endian,
// matching safetensors.

/** float32 bits → bfloat16 bits, round to nearest even; NaN stays a (quiet) NaN. */
export function f32BitsToBf16(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x0040) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** float32 bits → IEEE half bits, round to nearest even, with subnormals, overflow to ±inf, NaN kept. */
export function f32BitsToF16(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: rounds to zero
    const m = mant | 0x800000; // implicit leading 1
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let r = m >>> shift;
    if (rest > half || (rest === half && r & 1)) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && r & 1)) r++; // a carry into the exponent is correct, up to inf
  return sign | r;
}

/** IEEE half bits → float32 value. */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

const F16_TABLE = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = f16BitsToF32(h);
  return t;
})();

/** A Uint8Array whose offset allows a view of `bytesPerElement`; copies only when misaligned. */
function aligned(bytes: Uint8Array, bytesPerElement: number): Uint8Array {
  return bytes.byteOffset % bytesPerElement === 0 ? bytes : new Uint8Array(bytes);
}

/** Decodes float bytes of any supported dtype to float32 values (a fresh array). */
export function toFloat32(bytes: Uint8Array, dtype: FloatDtype, out?: Float32Array): Float32Array {
  const n = dtype === 'F32' ? bytes.length / 4 : bytes.length / 2;
  const result = out ? out.subarray(0, n) : new Float32Array(n);
  if (dtype === 'F32') {
    const b = aligned(bytes, 4);
    result.set(new Float32Array(b.buffer, b.byteOffset, n));
    return result;
  }
  const b = aligned(bytes, 2);
  const h = new Uint16Array(b.buffer, b.byteOffset, n);
  if (dtype === 'BF16') {
    const bits = new Uint32Array(result.buffer, result.byteOffset, n);
    for (let i = 0; i < n; i++) bits[i] = h[i] << 16;
  } else {
    for (let i = 0; i < n; i++) result[i] = F16_TABLE[h[i]];
  }
  return result;
}

/** Encodes float32 values to bytes of `dtype` with round-to-nearest-even (a fresh buffer unless `out`). */
export function fromFloat32(values: Float32Array, dtype: FloatDtype, out?: Uint8Array): Uint8Array {
  const n = values.length;
  const width = dtype === 'F32' ? 4 : 2;
  const bytes = out ? out.subarray(0, n * width) : new Uint8Array(n * width);
  if (dtype === 'F32') {
    bytes.set(new Uint8Array(values.buffer, values.byteOffset, n * 4));
    return bytes;
  }
  const b = aligned(bytes, 2);
  const h = new Uint16Array(b.buffer, b.byteOffset, n);
  const bits = new Uint32Array(values.buffer, values.byteOffset, n);
  if (dtype === 'BF16') for (let i = 0; i < n; i++) h[i] = f32BitsToBf16(bits[i]);
  else for (let i = 0; i < n; i++) h[i] = f32BitsToF16(bits[i]);
  if (b !== bytes) bytes.set(b);
  return bytes;
}

/** Converts float bytes between dtypes; the same dtype returns the input untouched. */
export function convertFloat(bytes: Uint8Array, from: FloatDtype, to: FloatDtype): Uint8Array {
  return from === to ? bytes : fromFloat32(toFloat32(bytes, from), to);
}
