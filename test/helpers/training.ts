// Small but real training inputs: a Llama model folder with a byte-level tokenizer, instruction
// datasets in Alpaca form, and experiment configs, all written by the tests themselves.
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { BYTE_VOCAB_SIZE, writeByteLevelTokenizer } from '../../src/trainer/data/byteTokenizer';
import { LlamaShape, writeLlama } from './models';

export const TINY: LlamaShape = {
  layers: 2,
  hidden: 32,
  intermediate: 64,
  vocab: BYTE_VOCAB_SIZE,
  heads: 4,
  kvHeads: 2,
};

/** A trainable model folder: random matrices, unit norm weights (as a freshly initialised Llama), byte tokenizer. */
export function writeTinyModel(dir: string, shape: LlamaShape = TINY, seed = 1): void {
  writeLlama(dir, shape, {
    dtype: 'F32',
    seed,
    values: (name, _shape, base) => (name.endsWith('norm.weight') ? base.map(() => 1) : base.map((v) => v * 4)),
  });
  writeByteLevelTokenizer(dir);
}

/** Arithmetic questions in Alpaca form: short, learnable, and each answer follows from its prompt. */
export function writeAlpacaDataset(file: string, rows: number): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const lines = Array.from({ length: rows }, (_, i) =>
    JSON.stringify({ instruction: `add ${i % 7} and ${(i * 3) % 5}`, input: '', output: `${(i % 7) + ((i * 3) % 5)}` }),
  );
  writeFileSync(file, lines.join('\n') + '\n');
}

/** Writes an experiment file; `overrides` are merged section by section. */
export function writeExperiment(file: string, overrides: Record<string, unknown>): void {
  const base = {
    base: 'model',
    dataset: 'data/train.jsonl',
    train: {
      method: 'full',
      max_steps: 8,
      batch_size: 4,
      max_seq_length: 48,
      learning_rate: 0.01,
      lr_scheduler_type: 'constant',
      seed: 7,
    },
  };
  const merged: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(overrides))
    merged[k] = typeof v === 'object' && v && !Array.isArray(v) ? { ...(merged[k] as object), ...v } : v;
  writeFileSync(file, stringify(merged));
}
