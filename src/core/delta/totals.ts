// Per-block totals of a delta report: norms add in squares, so the relative change is per block, not an average.
import { Block, BLOCKS } from '../classify/types';
import { elementCount } from '../safetensors/dtypes';
import { BlockTotals, TensorDelta } from './types';

export function blockTotals(tensors: TensorDelta[]): Record<Block, BlockTotals> {
  const out = Object.fromEntries(
    BLOCKS.map((b) => [b, { tensors: 0, changedTensors: 0, parameters: 0, normBase: 0, normDelta: 0, relative: 0 }]),
  ) as Record<Block, BlockTotals>;
  for (const t of tensors) {
    const b = out[t.block];
    b.tensors++;
    if (t.changedFraction > 0) b.changedTensors++;
    b.parameters += elementCount(t.shape);
    b.normBase += t.normBase ** 2;
    b.normDelta += t.normDelta ** 2;
  }
  for (const b of Object.values(out)) {
    b.normBase = Math.sqrt(b.normBase);
    b.normDelta = Math.sqrt(b.normDelta);
    b.relative = b.normBase > 0 ? b.normDelta / b.normBase : 0;
  }
  return out;
}
