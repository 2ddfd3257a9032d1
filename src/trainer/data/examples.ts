import { readDatasetRows } from '../../core/datasets/rows';
import type { Turn } from '../../core/datasets/records';
import { rng } from '../../core/util/random';
import type { ChatTokenizer } from './tokenizer';

/** One tokenized training example: ids and which of them carry loss. */
export interface Example {
  ids: Int32Array;
  /** 1 where the token is a training target. */
  train: Uint8Array;
}

/**
 * Renders each conversation with the chat template and marks the tokens of assistant turns, found as
 * the growth of the token sequence from "history + generation prompt" to "history + the reply", as TRL's
 * assistant-only loss does. Rows with no assistant turn (raw text) train on every token.
 */
export function tokenizeConversation(
  tok: ChatTokenizer,
  messages: Turn[],
  trainOn: 'responses' | 'all',
  maxTokens: number,
): Example {
  const ids = tok.encode(tok.render(messages, false)).slice(0, maxTokens);
  const train = new Uint8Array(ids.length);
  const replies = messages.map((m, i) => (m.role === 'assistant' ? i : -1)).filter((i) => i > 0);
  if (trainOn === 'all' || replies.length === 0) train.fill(1);
  else {
    for (const i of replies) {
      const from = tok.encode(tok.render(messages.slice(0, i), true)).length;
      const to = tok.encode(tok.render(messages.slice(0, i + 1), false)).length;
      train.fill(1, Math.min(from, ids.length), Math.min(to, ids.length));
    }
  }
  return { ids: Int32Array.from(ids), train };
}

/** No token of a tokenizer spans more characters than this (long whitespace runs are the longest, ~30). */
const MAX_CHARS_PER_TOKEN = 64;

/**
 * Reads and tokenizes a whole dataset; a bad row is a DatasetError naming the file and line. Examples
 * left with no token to train on (the response cut off by the length limit) are skipped and counted.
 */
export async function loadExamples(
  file: string,
  tok: ChatTokenizer,
  trainOn: 'responses' | 'all',
  maxTokens: number,
  warn: (text: string) => void,
  signal?: AbortSignal,
): Promise<{ examples: Example[]; skipped: number }> {
  const rows = await readDatasetRows(file, { limit: Number.MAX_SAFE_INTEGER, signal });
  const budget = maxTokens * MAX_CHARS_PER_TOKEN;
  let truncated = 0;
  const all = rows.map((r) => {
    const long = r.messages.some((m) => m.content.length > budget);
    if (long) truncated++;
    // Cut before tokenizing: a 50 MB row would exhaust memory in the tokenizer, and all of it past the first
    // `budget` characters of a turn lies beyond maxTokens tokens, which are cut anyway.
    const messages = long
      ? r.messages.map((m) => (m.content.length > budget ? { ...m, content: m.content.slice(0, budget) } : m))
      : r.messages;
    return tokenizeConversation(tok, messages, trainOn, maxTokens);
  });
  if (truncated)
    warn(
      `warning: ${truncated} row(s) of ${file} have a turn longer than ${budget} characters; it is cut there before tokenizing (max_seq_length keeps fewer tokens than that anyway)`,
    );
  const examples = all.filter((e) => e.ids.length >= 2 && e.train.subarray(1).some((t) => t === 1));
  if (examples.length === 0)
    throw new Error(
      `${file}: no example has a token to train on within ${maxTokens} tokens (raise train.max_seq_length)`,
    );
  return { examples, skipped: all.length - examples.length };
}

/** A micro-batch: next-token inputs, targets and loss weights, each [batch·seq] row-major. */
export interface Batch {
  inputs: Int32Array;
  labels: Int32Array;
  weights: Float32Array;
  /** Target tokens that carry loss. */
  tokens: number;
}

/**
 * The data order of a run: epoch e visits the examples in a permutation seeded by (seed, e), so the
 * micro-batch of any global index can be rebuilt on resume without replaying the run.
 */
export class DataOrder {
  readonly batchSize: number;
  readonly microBatchesPerEpoch: number;
  private cached?: { epoch: number; order: Uint32Array };

  constructor(
    readonly examples: Example[],
    batchSize: number,
    readonly seqLen: number,
    readonly seed: number,
    readonly padId: number,
  ) {
    this.batchSize = Math.min(batchSize, examples.length);
    this.microBatchesPerEpoch = Math.max(1, Math.floor(examples.length / this.batchSize));
  }

  /** The example indices epoch `epoch` visits, in order: a seeded shuffle (the PyTorch engine ports it). */
  permutation(epoch: number): Uint32Array {
    if (this.cached?.epoch !== epoch) {
      const order = Uint32Array.from(this.examples.keys());
      const random = rng(this.seed * 1_000_003 + epoch);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      this.cached = { epoch, order };
    }
    return this.cached.order;
  }

  /** Micro-batch number `index` counted from the start of training. */
  batch(index: number): Batch {
    const epoch = Math.floor(index / this.microBatchesPerEpoch);
    const first = (index % this.microBatchesPerEpoch) * this.batchSize;
    const order = this.permutation(epoch);
    const { seqLen: T, batchSize: B } = this;
    const inputs = new Int32Array(B * T).fill(this.padId);
    const labels = new Int32Array(B * T).fill(this.padId);
    const weights = new Float32Array(B * T);
    let tokens = 0;
    for (let b = 0; b < B; b++) {
      const e = this.examples[order[first + b]];
      const n = Math.min(e.ids.length - 1, T);
      inputs.set(e.ids.subarray(0, n), b * T);
      labels.set(e.ids.subarray(1, n + 1), b * T);
      for (let t = 0; t < n; t++) {
        weights[b * T + t] = e.train[t + 1];
        tokens += e.train[t + 1];
      }
    }
    return { inputs, labels, weights, tokens };
  }
}

/** Sequence length of a run: the configured maximum, or less when every example is shorter. */
export function sequenceLength(examples: Example[], maxSeqLength: number): number {
  return Math.min(
    maxSeqLength,
    examples.reduce((m, e) => Math.max(m, e.ids.length - 1), 1),
  );
}
