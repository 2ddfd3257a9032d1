import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import { addDeltaRowsReference, LoraFactors } from '../../src/core/lora/fold';
import { foldKernel, foldKernelName, kernelModule, threadKernel } from '../../src/core/lora/kernel';
import { nativeAddon } from '../../src/core/native/addon';
import { FoldPool } from '../../src/core/lora/pool';
import { foldStream } from '../../src/core/lora/stream';
import { fromFloat32, toFloat32 } from '../../src/core/safetensors/convert';
import { FloatDtype } from '../../src/core/safetensors/dtypes';
import { planMerge } from '../../src/core/merge/plan';
import { executeMerge } from '../../src/core/merge/execute';
import { builtinRecipe } from '../../src/core/merge/recipes';
import { LlamaShape, llamaTensorShapes, randomValues, writeAdapter, writeLlama } from '../helpers/models';
import { tempDir } from '../helpers/tmp';

function factors(rows: number, cols: number, r: number, seed: number): LoraFactors {
  const f32 = (n: number, s: number, scale: number) => Float32Array.from(randomValues(n, s, scale));
  return {
    rows,
    cols,
    r,
    left: f32(rows * r, seed, 0.3),
    right: f32(r * cols, seed + 1, 0.2),
    scale: Math.fround(1.7),
  };
}

/** Weights with the values that stress the epilogue: ±0, subnormals, ±Inf, NaN, values that overflow f16 and ties of bf16. */
function weights(n: number, seed: number): Float32Array {
  const w = Float32Array.from(randomValues(n, seed, 0.08));
  const special = [0, -0, 1e-40, -3e-39, Infinity, -Infinity, NaN, 70000, -65520, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 6e-8];
  for (let i = 0; i < n; i += 7) w[i] = special[(i / 7) % special.length];
  return w;
}

/** Equal bits, except that any NaN equals any NaN (the sign and payload of a NaN result are not specified). */
function assertSameBits(got: Uint8Array, want: Uint8Array, dtype: FloatDtype, what: string) {
  const a = toFloat32(got, dtype);
  const b = toFloat32(want, dtype);
  const ab = new Uint32Array(a.buffer);
  const bb = new Uint32Array(b.buffer);
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) continue;
    if (ab[i] !== bb[i])
      assert.fail(`${what}[${i}]: got ${a[i]} (0x${ab[i].toString(16)}), want ${b[i]} (0x${bb[i].toString(16)})`);
  }
}

// Shapes: edges of the blocks (rows not a multiple of 4, columns not of 8 or 16), r = 1, and column
// panels (r = 16: the WebAssembly kernel's 384 columns and the native one's 1024; r = 300: 16 and 48).
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 5, 2],
  [9, 22, 16],
  [33, 70, 5],
  [13, 403, 16],
  [5, 1100, 16],
  [8, 37, 300],
  [6, 130, 300],
];

/** Runs `body` with TAIA_LORA_KERNEL set to `choice` ('' for the default: the fastest kernel here). */
async function withKernel<T>(choice: string, body: () => T | Promise<T>): Promise<T> {
  const before = process.env.TAIA_LORA_KERNEL;
  if (choice) process.env.TAIA_LORA_KERNEL = choice;
  else delete process.env.TAIA_LORA_KERNEL;
  try {
    return await body();
  } finally {
    if (before === undefined) delete process.env.TAIA_LORA_KERNEL;
    else process.env.TAIA_LORA_KERNEL = before;
  }
}

test('the WebAssembly kernel runs here, and the native one where the addon was built', () => {
  assert.ok(kernelModule(), 'WebAssembly SIMD with shared memory is available in Node');
  assert.ok(threadKernel());
  const native = nativeAddon();
  // .ci/run builds the addon and sets TAIA_EXPECT_BLAS=1: there, the native kernel must be the one in use.
  if (process.env.TAIA_EXPECT_BLAS === '1') {
    assert.ok('addon' in native, `the native addon is missing: ${(native as { reason: string }).reason}`);
    assert.equal(foldKernel()?.kind, 'native');
    assert.match(foldKernelName(foldKernel()), /^native \(8 float32 lanes/);
  }
});

// Each kernel that runs here: the native one in both its compilations (AVX2, where the CPU has it, and
// the baseline x86-64 one that TAIA_LORA_NO_AVX2 forces), and the WebAssembly one.
const KERNELS = ['wasm', 'native', 'native baseline'] as const;
type Kernel = (typeof KERNELS)[number];
const unavailable = (kernel: Kernel) =>
  kernel !== 'wasm' && !('addon' in nativeAddon()) ? 'the native addon is not built here' : undefined;
/** Runs `body` on `kernel`. */
async function onKernel<T>(kernel: Kernel, body: () => T | Promise<T>): Promise<T> {
  if (kernel === 'wasm') return withKernel('wasm', body);
  if (kernel === 'native') return withKernel('', body);
  process.env.TAIA_LORA_NO_AVX2 = '1';
  try {
    const native = nativeAddon();
    assert.ok('addon' in native);
    assert.match(native.addon.foldVectors(), /^8 float32 lanes(, SSE2)?$/);
    return await withKernel('', body);
  } finally {
    delete process.env.TAIA_LORA_NO_AVX2;
  }
}
const kindOf = (kernel: Kernel) => (kernel === 'wasm' ? 'wasm' : 'native');

for (const kernel of KERNELS) {
  test(`the ${kernel} kernel folds float32 rows bit for bit like the reference, from any first row`, (t) => {
    const skip = unavailable(kernel);
    if (skip) return t.skip(skip);
    return onKernel(kernel, () => {
      assert.equal(foldKernel()?.kind, kindOf(kernel));
      for (const [rows, cols, r] of SHAPES) {
        const f = factors(rows + 3, cols, r, rows * 31 + cols);
        const w = weights((rows + 1) * cols, r).subarray(cols); // not at offset 0 of its buffer
        const want = Float32Array.from(w);
        addDeltaRowsReference(want, 2, f);
        threadKernel()!.addRows(w, 2, f);
        assertSameBits(
          new Uint8Array(w.buffer, w.byteOffset, w.byteLength),
          new Uint8Array(want.buffer),
          'F32',
          `${kernel} ${rows}×${cols} r=${r}`,
        );
      }
    });
  });

  test(`the worker pool on the ${kernel} kernel folds stored rows of every dtype pair like decode → reference → encode`, (t) => {
    const skip = unavailable(kernel);
    if (skip) return t.skip(skip);
    return onKernel(kernel, async () => {
      const pool = FoldPool.create(2)!;
      assert.equal(pool.kernel.kind, kindOf(kernel));
      try {
        for (const [rows, cols, r] of SHAPES) {
          const f = factors(rows, cols, r, cols);
          const values = weights(rows * cols, rows);
          for (const inDtype of ['F32', 'BF16', 'F16'] as FloatDtype[]) {
            const stored = fromFloat32(values, inDtype);
            for (const outDtype of ['F32', 'BF16', 'F16'] as FloatDtype[]) {
              const ref = toFloat32(stored, inDtype);
              addDeltaRowsReference(ref, 0, f);
              const want = fromFloat32(ref, outDtype);
              const rowBytes = stored.length / rows;
              const chunks: Uint8Array[] = [];
              await foldStream(pool, {
                factors: f,
                inDtype,
                outDtype,
                read: async (from, to, target) => target.set(stored.subarray(from * rowBytes, to * rowBytes)),
                emit: async (bytes) => void chunks.push(Uint8Array.from(bytes)),
              });
              assertSameBits(
                Buffer.concat(chunks),
                want,
                outDtype,
                `${kernel} ${inDtype}→${outDtype} ${rows}×${cols} r=${r}`,
              );
            }
          }
        }
      } finally {
        await pool.close();
      }
    });
  });
}

test('the native kernel refuses operands outside its memory, and unknown dtypes', (t) => {
  const native = nativeAddon();
  if (!('addon' in native)) return t.skip('the native addon is not built here');
  const memory = new Uint8Array(new SharedArrayBuffer(4096));
  // 4 rows × 16 columns of float32 at 1024 (256 bytes a row), out at 2048, r = 2: left at 0, right at 64.
  const ok = [1024, 0, 2048, 0, 0, 64, 4, 16, 2, 1] as const;
  native.addon.foldRows(memory, ...ok);
  const bad: [string, number, number][] = [
    ['w past the end', 0, 4096 - 255],
    ['out past the end', 2, 4096 - 255],
    ['left past the end', 4, 4096 - 28],
    ['right past the end', 5, 4096 - 124],
    ['a negative offset', 0, -4],
    ['an unknown dtype', 1, 7],
  ];
  for (const [what, at, value] of bad) {
    const call = [...ok] as [number, number, number, number, number, number, number, number, number, number];
    call[at] = value;
    assert.throws(() => native.addon.foldRows(memory, ...call), /taia_native\.foldRows: /, what);
  }
});

test('a failing read fails the fold with its error, and the pool stays usable', async () => {
  const pool = FoldPool.create(2)!;
  try {
    const f = factors(4, 8, 2, 1);
    const source = {
      factors: f,
      inDtype: 'F32' as FloatDtype,
      outDtype: 'F32' as FloatDtype,
      emit: async () => undefined,
    };
    await assert.rejects(
      foldStream(pool, { ...source, read: async () => Promise.reject(new Error('disk gone')) }),
      /disk gone/,
    );
    await foldStream(pool, { ...source, read: async () => undefined });
  } finally {
    await pool.close();
  }
});

test('a LoRA merge in the workers writes the same bytes as the in-thread reference (TAIA_LORA_KERNEL=js)', async () => {
  const root = tempDir();
  const shape: LlamaShape = { layers: 2, hidden: 24, intermediate: 70, vocab: 40, heads: 4, kvHeads: 2 };
  const base = path.join(root, 'base');
  const adapter = path.join(root, 'adapter');
  writeLlama(base, shape, { dtype: 'BF16' });
  writeAdapter(adapter, llamaTensorShapes(shape), {
    r: 6,
    alpha: 12,
    targets: ['q_proj', 'v_proj', 'down_proj', 'up_proj'],
  });
  const merge = async (out: string) => {
    const plan = await planMerge({
      base,
      finetuned: adapter,
      out: path.join(root, out),
      recipe: builtinRecipe('full')!,
      scale: 1,
    });
    return executeMerge(plan);
  };
  await merge('kernel');
  process.env.TAIA_LORA_KERNEL = 'js';
  try {
    assert.equal(kernelModule(), undefined);
    await merge('reference');
  } finally {
    delete process.env.TAIA_LORA_KERNEL;
  }
  const shards = readdirSync(path.join(root, 'kernel')).filter((f) => f.endsWith('.safetensors'));
  assert.ok(shards.length > 0);
  for (const file of shards) {
    const [a, b] = ['kernel', 'reference'].map((d) => readFileSync(path.join(root, d, file)));
    // The headers differ in nothing either: same tensors, same offsets, same metadata.
    assert.ok(a.equals(b), `${file} differs`);
  }
});
