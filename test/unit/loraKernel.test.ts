import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import { addDeltaRowsReference, LoraFactors } from '../../src/core/lora/fold';
import { kernelModule, threadKernel } from '../../src/core/lora/kernel';
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

// Shapes: edges of the 4×4 blocks (rows, cols not multiples of 4), r = 1, and column panels (r = 16: 192 columns).
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 5, 2],
  [9, 22, 16],
  [33, 70, 5],
  [13, 403, 16],
  [8, 37, 300],
];

test('the WebAssembly kernel runs here', () => {
  assert.ok(kernelModule(), 'WebAssembly SIMD with shared memory is available in Node');
  assert.ok(threadKernel());
});

test('the kernel folds float32 rows bit for bit like the reference, from any first row', () => {
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
      `${rows}×${cols} r=${r}`,
    );
  }
});

test('the worker pool folds stored rows of every dtype pair like decode → reference → encode', async () => {
  const pool = FoldPool.create(2)!;
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
          assertSameBits(Buffer.concat(chunks), want, outDtype, `${inDtype}→${outDtype} ${rows}×${cols} r=${r}`);
        }
      }
    }
  } finally {
    await pool.close();
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
