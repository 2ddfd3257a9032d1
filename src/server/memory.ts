// A rough training memory estimate, to warn before a run that cannot fit its device is started.
import type { BaseModel } from './checkpoints';

/** The engine trains in float32. */
const BYTES = 4;
/** Activations kept per token, per hidden unit, per layer (attention and MLP intermediates, roughly). */
const ACTIVATION_FACTOR = 16;

export interface MemoryEstimate {
  weights: number;
  grads: number;
  optimizer: number;
  activations: number;
  total: number;
}

/**
 * Full fine-tuning keeps gradients and AdamW's two moments for every parameter; LoRA only for the
 * adapter matrices (r × (in + out) per targeted module), on top of the frozen weights.
 */
export function estimateMemory(
  model: BaseModel,
  train: { method: string; batch_size: number; max_seq_length: number },
  lora: { r: number; target_modules: string[] },
): MemoryEstimate {
  const trainable = train.method === 'full' ? model.parameters : adapterParameters(model, lora);
  const weights = (model.parameters + (train.method === 'full' ? 0 : trainable)) * BYTES;
  const grads = trainable * BYTES;
  const optimizer = 2 * trainable * BYTES;
  const activations =
    train.batch_size * train.max_seq_length * (model.hidden ?? 0) * (model.layers ?? 0) * ACTIVATION_FACTOR * BYTES;
  return { weights, grads, optimizer, activations, total: weights + grads + optimizer + activations };
}

function adapterParameters(model: BaseModel, lora: { r: number; target_modules: string[] }): number {
  let n = 0;
  for (const name of new Set(lora.target_modules))
    for (const [out, inp] of model.linear.get(name) ?? []) n += lora.r * (out + inp);
  return n;
}

/** Memory of the device a run trains on: RAM for cpu, a configured size for a GPU (unknown otherwise); `auto` without a GPU size falls back to the CPU. */
export function deviceMemory(device: string, totalMem: number, gpuBytes: number | undefined): number | undefined {
  if (device === 'cpu') return totalMem;
  return gpuBytes ?? (device === 'auto' ? totalMem : undefined);
}
