// A merge that is read instead of written: the evaluator loads a variant of base and fine-tune tensor by
// tensor, with no merged copy on disk. It plans with planMerge and produces each tensor with
// executeMerge's own writeTensor, so a tensor's bytes here are the bytes the written merge stores.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { byteLength, Dtype } from '../safetensors/dtypes';
import { ChunkBuffers, executeMerge, Job, writeTensor } from './execute';
import { closeInputs, MergePlan, planMerge, PlannedTensor } from './plan';
import { Recipe } from './recipes';

/** One variant of a fine-tune: the merge options minus everything about writing. */
export interface VariantSpec {
  base: string;
  finetuned: string;
  recipe: Recipe;
  scale?: number;
  layers?: [number, number];
}

export class VirtualMerge {
  private readonly job: Job;
  private readonly byName: ReadonlyMap<string, PlannedTensor>;

  private constructor(readonly plan: MergePlan) {
    this.byName = new Map(plan.tensors.map((t) => [t.name, t]));
    this.job = {
      writer: { write: async () => undefined },
      buffers: new ChunkBuffers(),
      scale: plan.options.scale,
      bytesDone: 0,
      loraFlops: 0,
      loraSeconds: 0,
    };
  }

  /** Plans the variant exactly as `taia merge` would (same checks, same notes); reads only headers. */
  static async open(spec: VariantSpec): Promise<VirtualMerge> {
    return new VirtualMerge(await planMerge({ ...spec, scale: spec.scale ?? 1, out: '' }, { virtual: true }));
  }

  /** Output tensor names in the written merge's order. */
  get names(): string[] {
    return this.plan.tensors.map((t) => t.name);
  }

  tensor(name: string): { shape: number[]; dtype: Dtype } | undefined {
    return this.byName.get(name);
  }

  /** The tensor's bytes as the written merge would store them (its dtype, little-endian). */
  async read(name: string): Promise<Uint8Array> {
    const t = this.byName.get(name);
    if (!t) throw new Error(`the merge plan has no tensor '${name}'`);
    const out = new Uint8Array(byteLength(t.dtype, t.shape) ?? 0);
    let at = 0;
    this.job.writer = {
      write: async (_name, chunk) => {
        out.set(chunk, at);
        at += chunk.length;
      },
    };
    await writeTensor(t, this.job);
    if (at !== out.length) throw new Error(`'${name}': produced ${at} bytes where the plan expects ${out.length}`);
    return out;
  }

  close(): Promise<void> {
    return closeInputs(this.plan);
  }
}

/**
 * For a consumer that needs a model folder (the PyTorch engine, an external evaluation command): the
 * variant written by executeMerge, to `keepAt` if given, else to a temporary folder that `dispose`
 * removes.
 */
export async function writtenVariant(
  spec: VariantSpec,
  keepAt?: string,
): Promise<{ dir: string; dispose(): Promise<void> }> {
  const temp = keepAt ? undefined : await mkdtemp(path.join(tmpdir(), 'taia-variant-'));
  const dispose = async () => (temp ? rm(temp, { recursive: true, force: true }) : undefined);
  const dir = keepAt ?? path.join(temp!, 'model');
  try {
    await executeMerge(await planMerge({ ...spec, scale: spec.scale ?? 1, out: dir, force: keepAt !== undefined }));
  } catch (e) {
    await dispose();
    throw e;
  }
  return { dir, dispose };
}
