import { test } from 'node:test';
import assert from 'node:assert/strict';
import { transposeMatrix } from '../../src/trainer/engines/tfjs/wasmTranspose';

test('the blocked transpose swaps the last two axes of every matrix in a batch, edges included', () => {
  for (const [batch, rows, cols] of [
    [1, 1, 1],
    [1, 1, 9],
    [1, 13, 1],
    [2, 9, 17],
    [3, 16, 8],
    [1, 1024, 688],
  ]) {
    const src = Float32Array.from({ length: batch * rows * cols }, (_, i) => i + 0.5);
    const dst = new Float32Array(src.length).fill(NaN);
    for (let b = 0; b < batch; b++) transposeMatrix(src, dst, b * rows * cols, rows, cols);
    for (let b = 0; b < batch; b++) {
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          const at = b * rows * cols;
          if (dst[at + j * rows + i] !== src[at + i * cols + j])
            assert.fail(`${batch}×${rows}×${cols}: [${b}][${j}][${i}]`);
        }
      }
    }
  }
});
