import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { matMulFlagsAreFast, tf } from './backend';

// tfjs's WASM backend sends a matmul to XNNPACK (SIMD) only when neither transpose flag is set; with a
// flag, and in every gradient tfjs derives itself, it runs a scalar loop 5-10x slower. So these ops write
// the transposes out, unless a system BLAS does the matmuls (matMulFlagsAreFast): it takes the flags at
// full speed, and the transposes would only copy memory.

/** y = x Wᵀ for a trainable W in Hugging Face's [out, in] layout; gradients for both. */
export function linear(x: Tensor2D, w: Tensor2D): Tensor2D {
  const flags = matMulFlagsAreFast();
  const op = customOp((xi: Tensor, wi: Tensor, save: (t: Tensor[]) => void) => {
    // Saved, not captured: tfjs disposes forward intermediates unless they are handed to the backward pass.
    save([xi, wi]);
    return {
      value: flags
        ? tf.matMul(xi as Tensor2D, wi as Tensor2D, false, true)
        : tf.matMul(xi as Tensor2D, tf.transpose(wi as Tensor2D)),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sw] = saved as Tensor2D[];
        const dw = flags ? tf.matMul(dy as Tensor2D, sx, true, false) : tf.matMul(tf.transpose(dy as Tensor2D), sx);
        return [tf.matMul(dy as Tensor2D, sw), dw];
      },
    };
  });
  return op(x, w) as Tensor2D;
}

/** y = x Wᵀ for a frozen W (LoRA's base weights): only dx is computed, the dominant saving of LoRA. */
export function frozenLinear(x: Tensor2D, w: Tensor2D, wT: Tensor2D): Tensor2D {
  const op = customOp((xi: Tensor) => ({
    value: tf.matMul(xi as Tensor2D, wT),
    gradFunc: (dy: Tensor) => [tf.matMul(dy as Tensor2D, w)],
  }));
  return op(x) as Tensor2D;
}

/**
 * Row lookup in an embedding table. Forward is a gather; the backward scatter-adds rows in JavaScript,
 * because the WASM backend has no UnsortedSegmentSum (tf.gather's gradient) and a one-hot matmul would
 * cost tokens × vocabulary × width.
 */
export function embedding(table: Tensor2D, ids: Int32Array, trainable: boolean): Tensor2D {
  const idx = tf.tensor1d(ids, 'int32');
  if (!trainable) return tf.gather(table, idx) as Tensor2D;
  const [rows, width] = table.shape;
  const op = customOp((t: Tensor) => ({
    value: tf.gather(t as Tensor2D, idx),
    gradFunc: (dy: Tensor) => {
      const g = dy.dataSync();
      const out = new Float32Array(rows * width);
      for (let i = 0; i < ids.length; i++) {
        const dst = ids[i] * width;
        const src = i * width;
        for (let j = 0; j < width; j++) out[dst + j] += g[src + j];
      }
      return [tf.tensor2d(out, [rows, width])];
    },
  }));
  return op(table) as Tensor2D;
}

/**
 * RMSNorm as Llama computes it: x / sqrt(mean(x²) + ε) · w, over the last axis. The gradient is written
 * out: tfjs's derived one sums dw over the rows with a Sum across axis 0, about ten times slower on wasm
 * than the same sum as a matmul by a row of ones, and spends a kernel per intermediate it keeps.
 */
export function rmsNorm(x: Tensor2D, w: Tensor1D, eps: number): Tensor2D {
  const op = customOp((xi: Tensor, wi: Tensor, save: (t: Tensor[]) => void) => {
    const r = tf.rsqrt(tf.add(tf.mean(tf.square(xi), -1, true), eps)); // [n, 1]
    const xhat = tf.mul(xi, r);
    save([xhat, r, wi]);
    return {
      value: tf.mul(xhat, wi),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sxhat, sr, sw] = saved;
        // dx = r · (g − x̂ · mean(g ⊙ x̂)) with g = dy ⊙ w, the gradient with respect to x̂.
        const g = tf.mul(dy, sw);
        const dx = tf.mul(sr, tf.sub(g, tf.mul(sxhat, tf.mean(tf.mul(g, sxhat), -1, true))));
        const rows = sxhat.shape[0];
        const dw = tf.reshape(tf.matMul(tf.ones([1, rows]), tf.mul(dy, sxhat) as Tensor2D), sw.shape);
        return [dx, dw];
      },
    };
  });
  return op(x, w) as Tensor2D;
}

/** SiLU (swish): x · σ(x). */
export function silu(x: Tensor): Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

/**
 * Rotary position embedding in Hugging Face's rotate_half convention: x·cos + rotate_half(x)·sin, where
 * rotate_half([a, b]) = [−b, a] over the two halves of the head dimension. rotate_half is a signed
 * permutation applied as a flag-free matmul (R forward, Rᵀ backward), which is faster on WASM than
 * split and concat.
 */
export class Rotary {
  readonly cos: Tensor2D;
  readonly sin: Tensor2D;
  private readonly r: Tensor2D;
  private readonly rT: Tensor2D;

  constructor(
    readonly headDim: number,
    seqLen: number,
    theta: number,
  ) {
    const half = headDim / 2;
    const cos = new Float32Array(seqLen * headDim);
    const sin = new Float32Array(seqLen * headDim);
    for (let t = 0; t < seqLen; t++) {
      for (let i = 0; i < half; i++) {
        // Computed in float64 then rounded, as close to PyTorch's float32 table as a scalar loop gets.
        const angle = t * Math.pow(theta, -(2 * i) / headDim);
        cos[t * headDim + i] = cos[t * headDim + i + half] = Math.cos(angle);
        sin[t * headDim + i] = sin[t * headDim + i + half] = Math.sin(angle);
      }
    }
    this.cos = tf.keep(tf.tensor2d(cos, [seqLen, headDim]));
    this.sin = tf.keep(tf.tensor2d(sin, [seqLen, headDim]));
    const r = new Float32Array(headDim * headDim);
    for (let i = 0; i < half; i++) {
      r[(i + half) * headDim + i] = -1; // out[i] = −x[i + half]
      r[i * headDim + i + half] = 1; // out[i + half] = x[i]
    }
    this.r = tf.keep(tf.tensor2d(r, [headDim, headDim]));
    this.rT = tf.keep(tf.transpose(this.r));
  }

  /** x: [..., n, headDim] at positions offset…offset+n−1 (all of the table when n is the table's length). */
  apply(x: Tensor, offset = 0): Tensor {
    const n = x.shape[x.rank - 2];
    const whole = offset === 0 && n === this.cos.shape[0];
    const cos = whole ? this.cos : tf.slice(this.cos, [offset, 0], [n, this.headDim]);
    const sin = whole ? this.sin : tf.slice(this.sin, [offset, 0], [n, this.headDim]);
    const flat = tf.reshape(x, [-1, this.headDim]) as Tensor2D;
    const rotated = tf.reshape(frozenLinear(flat, this.rT, this.r), x.shape);
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
  }

  dispose(): void {
    tf.dispose([this.cos, this.sin, this.r, this.rT]);
  }
}

interface Custom {
  value: Tensor;
  gradFunc: (dy: Tensor, saved: Tensor[]) => Tensor[];
}

/** tf.customGrad with plain tensor parameters (its own typing mixes the tensors with the save function). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function customOp(f: (...args: any[]) => Custom): (...inputs: Tensor[]) => Tensor {
  return tf.customGrad(f as never) as unknown as (...inputs: Tensor[]) => Tensor;
}
