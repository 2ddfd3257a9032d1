import type { TrainConfig } from '../core/experiment/schema';

/** Warm-up steps of a run: warmup_steps when set, else warmup_ratio of all steps (rounded up, as transformers). */
export function warmupSteps(train: TrainConfig, totalSteps: number): number {
  return train.warmup_steps > 0 ? train.warmup_steps : Math.ceil(train.warmup_ratio * totalSteps);
}

/**
 * Learning rate of optimizer step `step` (0-based), with the same lambdas as transformers'
 * get_{constant,linear,cosine}_schedule_with_warmup.
 */
export function learningRate(train: TrainConfig, step: number, totalSteps: number): number {
  const warmup = warmupSteps(train, totalSteps);
  const peak = train.learning_rate;
  if (step < warmup) return (peak * step) / Math.max(1, warmup);
  const progress = (step - warmup) / Math.max(1, totalSteps - warmup);
  switch (train.lr_scheduler_type) {
    case 'constant':
      return peak;
    case 'linear':
      return peak * Math.max(0, 1 - progress);
    case 'cosine':
      return peak * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
  }
}
