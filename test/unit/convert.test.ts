import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  f16BitsToF32,
  f32BitsToBf16,
  f32BitsToF16,
  fromFloat32,
  toFloat32,
  convertFloat,
} from '../../src/core/safetensors/convert';
import { refBf16, rng } from '../helpers/safetensorsRef';

const bitsOf = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];

/** Reference f16 rounding: pick the nearer of the two truncation neighbours by exact arithmetic. */
function refF16(x: number): number {
  const v = Math.fround(x);
  if (Number.isNaN(v)) return -1;
  let best = 0;
  let bestErr = Infinity;
  // Exhaustive search over all finite halves: slow but independent of the bit-twiddling under test.
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  for (let h = 0; h <= 0x7c00; h++) {
    // Infinity sits one step above the largest finite half (65504 + 32) for rounding purposes.
    const err = Math.abs((h === 0x7c00 ? 65536 : f16BitsToF32(h)) - a);
    if (err < bestErr || (err === bestErr && (h & 1) === 0)) {
      best = h;
      bestErr = err;
    }
  }
  return sign | best;
}

test('bf16: round to nearest even matches the reference on random and edge values', () => {
  const r = rng(42);
  const values = [
    0,
    -0,
    1,
    -1,
    1 + 2 ** -8,
    1 + 3 * 2 ** -8,
    1 + 2 ** -9,
    3.4e38,
    -3.4e38,
    1e-40,
    -1e-45,
    Infinity,
    -Infinity,
    65504,
    0.1,
    1 / 3,
  ];
  for (let i = 0; i < 20000; i++) values.push((r() - 0.5) * 10 ** Math.floor(r() * 20 - 10));
  for (const v of values) assert.equal(f32BitsToBf16(bitsOf(v)), refBf16(v), `value ${v}`);
  // Ties: 1 + 2^-8 lies exactly between 1 and 1 + 2^-7 and goes to the even mantissa (1).
  assert.equal(f32BitsToBf16(bitsOf(1 + 2 ** -8)), 0x3f80);
  assert.equal(f32BitsToBf16(bitsOf(1 + 3 * 2 ** -8)), 0x3f82);
  // NaN stays NaN.
  assert.ok(Number.isNaN(toFloat32(fromFloat32(new Float32Array([NaN]), 'BF16'), 'BF16')[0]));
});

test('f16: round to nearest even, subnormals, overflow to infinity', () => {
  const r = rng(7);
  const values = [
    0,
    1,
    -2,
    65504,
    65519.99,
    65520,
    1e5,
    -1e5,
    2 ** -24,
    2 ** -25,
    2 ** -25 * 1.5,
    3 * 2 ** -26,
    6.1e-5,
    1e-8,
    1 + 2 ** -11,
    1 + 3 * 2 ** -11,
  ];
  for (let i = 0; i < 300; i++) values.push((r() - 0.5) * 10 ** Math.floor(r() * 12 - 8));
  for (const v of values) assert.equal(f32BitsToF16(bitsOf(v)), refF16(v), `value ${v}`);
  assert.equal(f32BitsToF16(bitsOf(65520)), 0x7c00, '65520 rounds to +inf');
  assert.equal(f32BitsToF16(bitsOf(2 ** -25)), 0, 'half the smallest subnormal ties to zero');
  assert.equal(f32BitsToF16(bitsOf(3 * 2 ** -26)), 1, 'above half rounds up to the smallest subnormal');
  assert.equal(f32BitsToF16(bitsOf(NaN)) & 0x7c00, 0x7c00);
  assert.notEqual(f32BitsToF16(bitsOf(NaN)) & 0x3ff, 0, 'NaN stays NaN');
});

test('every f16 and bf16 value survives a trip through float32 unchanged', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const bytes = new Uint8Array(all.buffer);
  for (const dtype of ['F16', 'BF16'] as const) {
    const back = new Uint16Array(fromFloat32(toFloat32(bytes, dtype), dtype).slice().buffer);
    for (let h = 0; h < 65536; h++) {
      const isNaN =
        dtype === 'F16' ? (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0 : (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
      if (!isNaN) assert.equal(back[h], h, `${dtype} 0x${h.toString(16)}`);
    }
  }
});

test('bf16 ↔ f16 ↔ f32 conversions of byte buffers, including unaligned views', () => {
  const values = new Float32Array([0.5, -1.25, 3, 1024, -0.0078125]);
  const bf = fromFloat32(values, 'BF16');
  const f16 = convertFloat(bf, 'BF16', 'F16');
  assert.deepEqual(
    Array.from(toFloat32(f16, 'F16')),
    Array.from(values),
    'exactly representable values convert exactly',
  );
  const f32 = convertFloat(f16, 'F16', 'F32');
  assert.deepEqual(Array.from(new Float32Array(f32.slice().buffer)), Array.from(values));
  // An odd byte offset forces the copy path.
  const shifted = new Uint8Array(bf.length + 1);
  shifted.set(bf, 1);
  assert.deepEqual(Array.from(toFloat32(shifted.subarray(1), 'BF16')), Array.from(values));
  assert.equal(convertFloat(bf, 'BF16', 'BF16'), bf, 'same dtype is a no-op');
});
