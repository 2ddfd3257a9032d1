import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { diffCheckpoints } from '../../src/core/delta/diff';
import { wasmKernel, WasmDeltaKernel } from '../../src/core/delta/kernel';
import { DeltaAccumulator, DeltaStats } from '../../src/core/delta/stats';
import { fromFloat32, toFloat32 } from '../../src/core/safetensors/convert';
import { FloatDtype } from '../../src/core/safetensors/dtypes';
import { randomValues, writeLlama } from '../helpers/models';
import { tempDir } from '../helpers/tmp';

// The WebAssembly kernel against the JS reference (DeltaAccumulator.add), chunk by chunk, on the
// stored bytes of every dtype pair.

const DTYPES: FloatDtype[] = ['BF16', 'F16', 'F32'];

function kernel(): WasmDeltaKernel {
  const k = wasmKernel();
  assert.ok(k, 'Node 20 has WebAssembly SIMD: the kernel must load');
  return k;
}

/** A base and a fine-tune of n values with everything the kernel special-cases planted. */
function pair(n: number, seed: number): [Float32Array, Float32Array] {
  const b = Float32Array.from(randomValues(n, seed));
  const f = Float32Array.from(randomValues(n, seed + 1, 1e-3), (d, i) => b[i] + (i % 3 === 0 ? 0 : d));
  const plant = (i: number, x: number, y: number) => {
    if (i < n) [b[i], f[i]] = [x, y];
  };
  plant(5, NaN, 1);
  plant(70, 0.5, Infinity);
  plant(71, -Infinity, -Infinity);
  plant(200, NaN, NaN);
  plant(300, 0, -0); // unchanged: -0 == +0
  plant(301, 0, 0);
  plant(400, 2 ** -20, 0.75); // exponents far apart: Δ rounds in float32, max|Δ| must not
  plant(777, 3e20, 1e20); // squares beyond float32
  plant(n - 1, -0.3, 0.4); // the tail, after the last whole block
  return [b, f];
}

/** Statistics of the pair stored as (bt, ft), fed in chunks of the given sizes, by the reference and by the kernel. */
function both(
  b: Float32Array,
  f: Float32Array,
  bt: FloatDtype,
  ft: FloatDtype,
  chunks: number[],
): [DeltaStats, DeltaStats] {
  const bBytes = fromFloat32(b, bt);
  const fBytes = fromFloat32(f, ft);
  const wb = bBytes.length / b.length;
  const wf = fBytes.length / f.length;
  const reference = new DeltaAccumulator(b.length);
  const wasm = new DeltaAccumulator(b.length);
  const k = kernel();
  k.reserve(Math.max(...chunks) * wb, Math.max(...chunks) * wf);
  for (let at = 0, c = 0; at < b.length; c++) {
    const n = Math.min(chunks[c % chunks.length], b.length - at);
    const bChunk = bBytes.subarray(at * wb, (at + n) * wb);
    const fChunk = fBytes.subarray(at * wf, (at + n) * wf);
    reference.add(toFloat32(bChunk, bt), toFloat32(fChunk, ft));
    const [bIn, fIn] = k.inputs(c % 2, bChunk.length, fChunk.length);
    bIn.set(bChunk);
    fIn.set(fChunk);
    k.add(wasm, c % 2, n, bt, ft);
    at += n;
  }
  return [reference.result(), wasm.result()];
}

function assertMatches(actual: DeltaStats, expected: DeltaStats, what: string): void {
  for (const key of ['normBase', 'normDelta', 'relative', 'cosine'] as const) {
    const e = expected[key];
    assert.ok(Math.abs(actual[key] - e) <= 1e-6 * Math.abs(e), `${what} ${key}: ${actual[key]} vs ${e}`);
  }
  // Exact: the largest |Δ|, the counts, and the sampled elements behind the histogram.
  assert.equal(actual.maxAbs, expected.maxAbs, `${what} maxAbs`);
  assert.equal(actual.changedFraction, expected.changedFraction, `${what} changedFraction`);
  assert.deepEqual(actual.nonFinite, expected.nonFinite, `${what} nonFinite`);
  assert.deepEqual(actual.histogram, expected.histogram, `${what} histogram`);
}

test('wasm kernel: every dtype pair matches the reference, NaN/Inf counted and kept out of the norms', () => {
  const [b, f] = pair(100_003, 1);
  for (const bt of DTYPES) {
    for (const ft of DTYPES) {
      const [expected, actual] = both(b, f, bt, ft, [100_003]);
      assertMatches(actual, expected, `${bt}/${ft}`);
    }
  }
  // Planted values surviving every dtype: NaN at 5 and 200 (base), ±Inf at 70, 71 (F16 also
  // overflows 3e20 and 1e20 to Inf at 777).
  const [bf16] = both(b, f, 'BF16', 'BF16', [100_003]);
  assert.deepEqual(bf16.nonFinite, { base: { nan: 2, inf: 1 }, finetuned: { nan: 1, inf: 2 } });
  const [f16] = both(b, f, 'F16', 'F16', [100_003]);
  assert.deepEqual(f16.nonFinite, { base: { nan: 2, inf: 2 }, finetuned: { nan: 1, inf: 3 } });
  assert.ok(bf16.maxAbs > 1e20, 'the huge planted pair is finite in bf16 and dominates max|Δ|');
});

test('wasm kernel: odd lengths and chunk boundaries anywhere give the reference results', () => {
  for (const n of [1, 3, 63, 64, 65, 129, 1001]) {
    const [b, f] = pair(n, n);
    for (const dtype of DTYPES) {
      const [expected, actual] = both(b, f, dtype, dtype, [n]);
      assertMatches(actual, expected, `${dtype} n=${n}`);
    }
  }
  const [b, f] = pair(20_000, 7);
  for (const chunks of [[1000], [333, 4097, 5], [7, 64, 65]]) {
    const [expected, actual] = both(b, f, 'BF16', 'F16', chunks);
    assertMatches(actual, expected, `chunks ${chunks}`);
  }
});

test('wasm kernel: unchanged, all-zero and tiny tensors', () => {
  const b = Float32Array.from(randomValues(5000, 3));
  const [same] = both(b, b, 'BF16', 'BF16', [5000]);
  assert.equal(same.normDelta, 0);
  assert.equal(same.changedFraction, 0);
  assert.ok(Math.abs(same.cosine - 1) < 1e-12);
  const zeros = new Float32Array(1000);
  const [expectedZero, actualZero] = both(zeros, zeros, 'F32', 'F32', [1000]);
  assertMatches(actualZero, expectedZero, 'zeros');
  assert.equal(actualZero.normBase, 0);
  // Values whose float32 squares underflow: the kernel redoes the chunk in float64.
  const tiny = b.map((x) => x * 2 ** -80);
  const [expected, actual] = both(
    tiny,
    b.map((x, i) => (i % 2 ? x * 2 ** -79 : x * 2 ** -80)),
    'F32',
    'F32',
    [5000],
  );
  assertMatches(actual, expected, 'tiny');
  assert.ok(actual.normBase > 0 && actual.normDelta > 0);
});

/** Runs `fn` with the JS reference forced. */
async function withJsKernel<T>(fn: () => T | Promise<T>): Promise<T> {
  process.env.TAIA_DIFF_KERNEL = 'js';
  try {
    return await fn();
  } finally {
    delete process.env.TAIA_DIFF_KERNEL;
  }
}

test('TAIA_DIFF_KERNEL=js turns the kernel off', async () => {
  assert.equal(await withJsKernel(wasmKernel), undefined);
  assert.ok(wasmKernel());
});

test('taia diff of a bf16 pair: the kernel report matches the reference one, tensor by tensor', async () => {
  const root = tempDir();
  const shape = { layers: 2, hidden: 64, intermediate: 96, vocab: 130, heads: 4, kvHeads: 2 };
  const base = path.join(root, 'base');
  const ft = path.join(root, 'ft');
  writeLlama(base, shape, { dtype: 'BF16', seed: 1 });
  writeLlama(ft, shape, {
    dtype: 'BF16',
    seed: 1,
    values: (name, _s, v) => (name.includes('norm') ? v : v.map((x, i) => (i === 9 ? NaN : x + (i % 5) * 1e-3))),
  });
  const expected = await withJsKernel(() => diffCheckpoints({ base, finetuned: ft }));
  const actual = await diffCheckpoints({ base, finetuned: ft });
  assert.equal(actual.tensors.length, expected.tensors.length);
  actual.tensors.forEach((t, i) => assertMatches(t, expected.tensors[i], t.name));
  assert.equal(
    actual.tensors.filter((t) => t.nonFinite.finetuned.nan === 1).length,
    actual.tensors.filter((t) => !t.name.includes('norm')).length,
  );
});
