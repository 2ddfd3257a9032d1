// The tensors a delta report compares: base with its fine-tune (or an adapter's folded delta, or its
// stored replacement), and a merged output's tensor for the three-way form.
import { TensorClass } from '../classify/types';
import { CheckpointPair, checkSameShape, matchTensors } from '../checkpoint/pair';
import { CheckpointWeights, WeightRef } from '../checkpoint/weights';
import { isFloatDtype } from '../safetensors/dtypes';
import { loraFactors, LoraFactors } from '../lora/fold';

export interface Pair {
  name: string;
  cls: TensorClass;
  base: WeightRef;
  finetuned?: WeightRef;
  lora?: LoraFactors;
  merged?: WeightRef;
}

/** Float tensors of base paired with the other side, in storage order; names on one side only are listed. */
export async function pairTensors(
  pair: CheckpointPair,
  merged: CheckpointWeights | undefined,
): Promise<{ pairs: Pair[]; onlyInBase: string[]; onlyInFinetuned: string[] }> {
  const { base, classifier, family, adapter, finetuned } = pair;
  const classify = (ref: WeightRef): Pair => ({
    name: ref.info.name,
    cls: classifier.classify(ref.info.name, family),
    base: ref,
    merged: merged?.get(ref.info.name),
  });
  const pairs: Pair[] = [];
  if (finetuned) {
    const { both, onlyInBase, onlyInFinetuned } = matchTensors(base.tensors, finetuned);
    for (const [b, f] of both) {
      checkSameShape(b, f);
      pairs.push({ ...classify(b), finetuned: f });
    }
    return {
      pairs: pairs.filter(floats),
      onlyInBase: onlyInBase.map((r) => r.info.name),
      onlyInFinetuned: onlyInFinetuned.map((r) => r.info.name),
    };
  }
  for (const b of base.tensors) {
    const m = adapter!.modules.find((x) => x.target === b.info.name);
    pairs.push({
      ...classify(b),
      lora: m ? await loraFactors(m) : undefined,
      finetuned: adapter!.replacements.get(b.info.name) ?? b,
    });
  }
  return { pairs: pairs.filter(floats), onlyInBase: [], onlyInFinetuned: [] };
}

function floats(p: Pair): boolean {
  return isFloatDtype(p.base.info.dtype) && isFloatDtype(p.finetuned!.info.dtype);
}

export function bytesOf(p: Pair): number {
  return p.base.info.end - p.base.info.begin;
}
