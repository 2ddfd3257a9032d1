import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as tfCore from '@tensorflow/tfjs-core';
import { loadEngineBundle, type EngineModules } from '../helpers/engineBundle';
import { rng } from '../../src/core/util/random';

// The wasm backend's matmuls on a system BLAS (nativeBlas.ts), and the ops that rely on its transpose
// flags, checked against float64 arithmetic written out here. Without OpenBLAS the BLAS cases are
// skipped, unless TAIA_EXPECT_BLAS=1 (set by .ci/run, which installs it): then its absence fails.

type Tf = typeof tfCore;
interface Engine extends EngineModules {
  tf: Tf;
  initBackend(device: string, backend: string, roots: string[]): Promise<{ description: string }>;
  loadNativeBlas(): { addon: { sgemm(...a: unknown[]): void } } | { reason: string };
  linear(x: tfCore.Tensor2D, w: tfCore.Tensor2D): tfCore.Tensor2D;
  rmsNorm(x: tfCore.Tensor2D, w: tfCore.Tensor1D, eps: number): tfCore.Tensor2D;
}

/** C = op(A)·op(B) in float64 for row-major a [m×k or k×m], b [k×n or n×k]. */
function product(a: Float32Array, b: Float32Array, m: number, n: number, k: number, ta: boolean, tb: boolean) {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
      c[i * n + j] = s;
    }
  return c;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol = 2e-5) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++)
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i])));
  assert.ok(worst <= tol, `${what}: largest relative error ${worst.toExponential(2)} > ${tol}`);
}

const random = (n: number, seed: number) => {
  const r = rng(1000 + seed);
  return Float32Array.from({ length: n }, () => r() - 0.5);
};

describe('matmuls on a system BLAS', () => {
  let engine: Engine;
  let blas = false;
  let skip = '';

  before(async () => {
    engine = (await loadEngineBundle()) as Engine;
    const loaded = engine.loadNativeBlas();
    blas = 'addon' in loaded;
    if (!blas && process.env.TAIA_EXPECT_BLAS === '1')
      assert.fail(`TAIA_EXPECT_BLAS=1 but no BLAS: ${(loaded as { reason: string }).reason}`);
    skip = blas ? '' : `no system BLAS here (${(loaded as { reason: string }).reason})`;
    const choice = await engine.initBackend('cpu', 'wasm', []);
    if (blas) assert.match(choice.description, /matmuls on OpenBLAS/);
  });

  it('every transpose flag and batch broadcast equals float64 products', (t) => {
    if (skip) return t.skip(skip);
    const { tf } = engine;
    const cases: [number[], number[], boolean, boolean][] = [
      [[7, 5], [5, 3], false, false],
      [[5, 7], [5, 3], true, false],
      [[7, 5], [3, 5], false, true],
      [[5, 7], [3, 5], true, true],
      [[4, 9, 6], [4, 6, 2], false, false],
      [[2, 3, 6, 9], [2, 3, 2, 6], true, true],
      [[1, 9, 6], [3, 6, 2], false, false],
      [[3, 9, 6], [1, 2, 6], false, true],
      [[64, 300], [300, 130], false, false],
    ];
    cases.forEach(([sa, sb, ta, tb], i) => {
      const a = random(
        sa.reduce((x, y) => x * y),
        2 * i,
      );
      const b = random(
        sb.reduce((x, y) => x * y),
        2 * i + 1,
      );
      const out = tf.tidy(() => tf.matMul(tf.tensor(a, sa), tf.tensor(b, sb), ta, tb));
      const [m, k] = ta ? sa.slice(-2).reverse() : sa.slice(-2);
      const n = tb ? sb.at(-2)! : sb.at(-1)!;
      const batch = Math.max(a.length / (m * k), b.length / (k * n));
      assert.deepEqual(out.shape, [...(a.length / (m * k) >= b.length / (k * n) ? sa : sb).slice(0, -2), m, n]);
      const expected = new Float64Array(batch * m * n);
      for (let s = 0; s < batch; s++) {
        const as = a.length === m * k ? 0 : s;
        const bs = b.length === k * n ? 0 : s;
        expected.set(
          product(a.subarray(as * m * k, (as + 1) * m * k), b.subarray(bs * k * n, (bs + 1) * k * n), m, n, k, ta, tb),
          s * m * n,
        );
      }
      assertClose(out.dataSync(), expected, `${sa}·${sb} (${ta}, ${tb})`);
      out.dispose();
    });
  });

  it('batch dimensions that broadcast against each other multiply slice by slice', (t) => {
    if (skip) return t.skip(skip);
    const { tf } = engine;
    const a = random(2 * 4 * 3, 50);
    const b = random(3 * 3 * 5, 51);
    const out = tf.tidy(() => tf.matMul(tf.tensor(a, [2, 1, 4, 3]), tf.tensor(b, [1, 3, 3, 5])));
    assert.deepEqual(out.shape, [2, 3, 4, 5]);
    const got = out.dataSync();
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 3; j++)
        assertClose(
          got.subarray((i * 3 + j) * 20, (i * 3 + j + 1) * 20),
          product(a.subarray(i * 12, (i + 1) * 12), b.subarray(j * 15, (j + 1) * 15), 4, 5, 3, false, false),
          `slice ${i},${j}`,
        );
    out.dispose();
  });

  it('the addon refuses an operand that lies outside the buffer', (t) => {
    if (skip) return t.skip(skip);
    const loaded = engine.loadNativeBlas() as { addon: { sgemm(...a: unknown[]): void } };
    const heap = new ArrayBuffer(4 * 12);
    // 2×2 · 2×2 into 2×2 fits in 12 floats; a batch of two does not.
    loaded.addon.sgemm(heap, 1, 2, 2, 2, false, false, 0, 0, 16, 0, 32);
    assert.throws(() => loaded.addon.sgemm(heap, 2, 2, 2, 2, false, false, 0, 4, 16, 4, 32), /outside the buffer/);
    assert.throws(() => loaded.addon.sgemm(heap, 1, 2, 2, 2, false, false, 2, 0, 16, 0, 32), /outside the buffer/);
  });

  it("linear's gradients with transpose flags equal float64 arithmetic", (t) => {
    if (skip) return t.skip(skip);
    const { tf, linear } = engine;
    const [n, din, dout] = [6, 5, 4];
    const x = random(n * din, 60);
    const w = random(dout * din, 61);
    const dy = random(n * dout, 62);
    const [gx, gw] = tf.grads((xi: tfCore.Tensor, wi: tfCore.Tensor) =>
      tf.sum(tf.mul(linear(xi as tfCore.Tensor2D, wi as tfCore.Tensor2D), tf.tensor2d(dy, [n, dout]))),
    )([tf.tensor2d(x, [n, din]), tf.tensor2d(w, [dout, din])]);
    assertClose(gx.dataSync(), product(dy, w, n, din, dout, false, false), 'dx = dy·W');
    assertClose(gw.dataSync(), product(dy, x, dout, din, n, true, false), 'dW = dyᵀ·x');
  });

  it("RMSNorm's written-out gradient equals the one tfjs derives", async () => {
    const { tf, rmsNorm } = engine;
    for (const backend of blas ? ['wasm', 'cpu'] : ['cpu']) {
      await engine.initBackend('cpu', backend, []);
      const [n, d, eps] = [7, 12, 1e-6];
      const x = tf.tensor2d(random(n * d, 70), [n, d]);
      const w = tf.tensor1d(random(d, 71));
      const dy = tf.tensor2d(random(n * d, 72), [n, d]);
      const written = tf.grads((xi: tfCore.Tensor, wi: tfCore.Tensor) =>
        tf.sum(tf.mul(rmsNorm(xi as tfCore.Tensor2D, wi as tfCore.Tensor1D, eps), dy)),
      )([x, w]);
      const derived = tf.grads((xi: tfCore.Tensor, wi: tfCore.Tensor) =>
        tf.sum(tf.mul(tf.mul(tf.mul(xi, tf.rsqrt(tf.add(tf.mean(tf.square(xi), -1, true), eps))), wi), dy)),
      )([x, w]);
      assertClose(written[0].dataSync(), derived[0].dataSync(), `${backend}: dx`, 1e-5);
      assertClose(written[1].dataSync(), derived[1].dataSync(), `${backend}: dw`, 1e-5);
      const fwd = rmsNorm(x, w, eps).dataSync();
      const xs = x.dataSync();
      const ws = w.dataSync();
      const expected = new Float64Array(n * d);
      for (let i = 0; i < n; i++) {
        let ms = 0;
        for (let j = 0; j < d; j++) ms += xs[i * d + j] ** 2 / d;
        for (let j = 0; j < d; j++) expected[i * d + j] = (xs[i * d + j] / Math.sqrt(ms + eps)) * ws[j];
      }
      assertClose(fwd, expected, `${backend}: forward`, 1e-5);
    }
  });
});
