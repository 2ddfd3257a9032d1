// One tensor of a delta report as float32 values, for what the kernel pipeline does not do: the spectrum,
// a merged output's three-way check, an adapter's folded delta, and TAIA_DIFF_KERNEL=js.
import { throwIfAborted } from '../errors';
import { addDeltaRows } from '../lora/fold';
import { matrixShape, rowBlocks, RowReader, tensorDelta } from './pipeline';
import { Pair } from './pairs';
import { SpectrumEstimator } from './spectrum';
import { DeltaAccumulator } from './stats';
import { expectedSource, MergedRecord, mergedSource } from './threeWay';
import { DeltaOptions, TensorDelta } from './types';

export type Readers = Record<'base' | 'finetuned' | 'merged', RowReader>;

/** One tensor as float32 values: for the spectrum, a merged output's three-way check, an adapter's folded delta, and TAIA_DIFF_KERNEL=js. */
export async function diffTensor(
  p: Pair,
  opts: DeltaOptions,
  recipe: MergedRecord | undefined,
  readers: Readers,
): Promise<TensorDelta> {
  const shape = p.base.info.shape;
  const [rows, cols] = matrixShape(shape);
  const acc = new DeltaAccumulator(rows * cols);
  const spectrum =
    opts.spectrum && shape.length === 2 && rows > 1 && cols > 1
      ? new SpectrumEstimator(rows, cols, opts.spectrum)
      : undefined;
  let equalsBase = p.merged !== undefined;
  let equalsFt = p.merged !== undefined;
  const blocks = rowBlocks(rows, cols);
  const pass = async (visit: (row0: number, b: Float32Array, f: Float32Array, m?: Float32Array) => void) => {
    for (const [row0, n] of blocks) {
      throwIfAborted(opts.signal);
      const [b, f, m] = await Promise.all([
        readers.base.read(p.base, row0, n, cols),
        p.lora ? undefined : readers.finetuned.read(p.finetuned!, row0, n, cols),
        p.merged ? readers.merged.read(p.merged, row0, n, cols) : undefined,
      ]);
      let fv = f;
      if (p.lora) {
        fv = Float32Array.from(b);
        addDeltaRows(fv, row0, p.lora);
      }
      visit(row0, b, fv!, m);
    }
  };
  await pass((row0, b, f, m) => {
    acc.add(b, f);
    if (spectrum) spectrum.addRowsPass1(row0, difference(f, b));
    if (m) {
      for (let i = 0; i < m.length && (equalsBase || equalsFt); i++) {
        if (equalsBase && !sameValue(m[i], b[i])) equalsBase = false;
        // A merged tensor may be rounded to its own dtype: "equal" to the fine-tune within bf16 rounding.
        if (equalsFt && !sameValue(m[i], f[i]) && !(Math.abs(m[i] - f[i]) <= Math.abs(f[i]) * 2 ** -8))
          equalsFt = false;
      }
    }
  });
  if (spectrum) await pass((row0, b, f) => spectrum.addRowsPass2(row0, difference(f, b)));
  const t = tensorDelta(p, acc);
  if (spectrum) t.spectrum = spectrum.result();
  if (p.merged) {
    // The class the merge gave the tensor (recorded in provenance), so the check applies the recorded rules as the merge did.
    const expected = recipe ? expectedSource(recipe, p.cls, p.name) : undefined;
    t.merged = { source: mergedSource(equalsBase, equalsFt, expected), expected };
  }
  return t;
}

function sameValue(a: number, b: number): boolean {
  return a === b || (a !== a && b !== b);
}

function difference(f: Float32Array, b: Float32Array): Float32Array {
  const d = new Float32Array(f.length);
  for (let i = 0; i < f.length; i++) d[i] = f[i] - b[i];
  return d;
}
