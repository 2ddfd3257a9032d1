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

/**
 * A study's inputs in `root`: base and fine-tune (the tiny Llama in bf16, seeds 1 and 2), a multiple-choice
 * task (mc.jsonl, 4 rows) and a generation task (gen.jsonl, 2 rows).
 */
export function writeStudyWorld(root: string): void {
  for (const [dir, seed] of [
    ['base', 1],
    ['ft', 2],
  ] as const) {
    writeLlama(path.join(root, dir), TINY, { dtype: 'BF16', seed });
    writeByteLevelTokenizer(path.join(root, dir));
  }
  writeFileSync(
    path.join(root, 'mc.jsonl'),
    [0, 1, 2, 3]
      .map((i) => JSON.stringify({ id: `m${i}`, prompt: `question ${i}`, choices: ['yes', 'no'], answer: i % 2 }))
      .join('\n') + '\n',
  );
  writeFileSync(
    path.join(root, 'gen.jsonl'),
    [0, 1].map((i) => JSON.stringify({ id: `g${i}`, prompt: `say ${i}`, answer: String(i) })).join('\n') + '\n',
  );
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
