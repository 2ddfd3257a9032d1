// The one message contract between a trainer child process and whoever launched it (the extension or
// the CLI). Both sides import this file; every message carries the protocol version, and anything that
// does not parse is a ProtocolError naming what was wrong, never a silent hang.
import type { Backend, Device, OwnEngine } from '../core/experiment/schema';

export const PROTOCOL_VERSION = 4;

/** What the built-in evaluator is asked to do (see engines/tfjs/evaluate.ts). */
export interface EvaluateJob {
  checkpoint: string;
  base?: string;
  tasks: string[];
  /** The result file to write (`*.taia-results.json`). */
  out: string;
  /** Model name in the result file. */
  name: string;
  maxNewTokens: number;
  limit: number;
  /** Every prompt raw, without the chat template (`taia eval --no-template`); else per row (`"template": false`). */
  noTemplate?: boolean;
  /** tfjs: the built-in engine; torch: transformers in Python (TAIA_PYTHON), on the same prompts and token ids. */
  engine: OwnEngine;
  device: Device;
  /** The built-in engine's backend. */
  backend: Backend;
  /**
   * Evaluate the merge of `base` and `checkpoint` (a fine-tune or an adapter) under this recipe instead
   * of `checkpoint` itself: read tensor by tensor from the inputs (tfjs), or written to a temporary
   * folder (torch; to `keepAt` and kept, when given).
   */
  variant?: {
    /** A built-in recipe or a recipe file; with `recipeText`, only the recipe's name. */
    recipe: string;
    /** The recipe document itself, for recipes made on the fly (a study's per-layer scans). */
    recipeText?: string;
    scale?: number;
    layers?: [number, number];
    keepAt?: string;
  };
}

/** Parent → trainer. */
export type ParentMessage =
  | { v: number; type: 'start'; runDir: string; resume: boolean }
  | { v: number; type: 'evaluate'; job: EvaluateJob }
  /** Stop after the current step, save a checkpoint, exit. */
  | { v: number; type: 'cancel' };

/** Trainer → parent. */
export type TrainerMessage =
  /** Sent before the job is known, so it names no engine; 'started' names the backend the job runs on. */
  | { v: number; type: 'hello'; pid: number }
  | {
      v: number;
      type: 'started';
      runId: string;
      backend: string;
      totalSteps: number;
      startStep: number;
      parameters: number;
      trainableParameters: number;
      examples: number;
    }
  /** `engine: command` runs another tool, which may not log the epoch, learning rate, gradient norm or throughput. */
  | {
      v: number;
      type: 'progress';
      step: number;
      totalSteps: number;
      epoch?: number;
      loss: number;
      lr?: number;
      gradNorm?: number;
      tokensPerSecond?: number;
      etaSeconds: number;
    }
  | { v: number; type: 'evalProgress'; done: number; total: number; task: string }
  | { v: number; type: 'checkpoint'; step: number; path: string }
  | { v: number; type: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  | { v: number; type: 'error'; message: string }
  /** For an evaluation, `step` counts examples and `results` is the file written. */
  | {
      v: number;
      type: 'done';
      state: 'done' | 'cancelled';
      step: number;
      finalLoss?: number;
      checkpoint?: string;
      results?: string;
    };

export class ProtocolError extends Error {
  constructor(
    problem: string,
    readonly received: unknown,
  ) {
    super(`trainer protocol: ${problem}`);
    this.name = 'ProtocolError';
  }
}

type Shape = Record<string, 'string' | 'number' | 'boolean' | 'object' | 'string?' | 'number?'>;

const TRAINER_SHAPES: Record<TrainerMessage['type'], Shape> = {
  hello: { pid: 'number' },
  started: {
    runId: 'string',
    backend: 'string',
    totalSteps: 'number',
    startStep: 'number',
    parameters: 'number',
    trainableParameters: 'number',
    examples: 'number',
  },
  progress: {
    step: 'number',
    totalSteps: 'number',
    epoch: 'number?',
    loss: 'number',
    lr: 'number?',
    gradNorm: 'number?',
    tokensPerSecond: 'number?',
    etaSeconds: 'number',
  },
  evalProgress: { done: 'number', total: 'number', task: 'string' },
  checkpoint: { step: 'number', path: 'string' },
  log: { level: 'string', message: 'string' },
  error: { message: 'string' },
  done: { state: 'string', step: 'number', finalLoss: 'number?', checkpoint: 'string?', results: 'string?' },
};

const PARENT_SHAPES: Record<ParentMessage['type'], Shape> = {
  start: { runDir: 'string', resume: 'boolean' },
  evaluate: { job: 'object' },
  cancel: {},
};

function check<T>(shapes: Record<string, Shape>, value: unknown): T {
  if (typeof value !== 'object' || value === null)
    throw new ProtocolError(`expected a message object, got ${JSON.stringify(value)}`, value);
  const m = value as Record<string, unknown>;
  if (m.v !== PROTOCOL_VERSION)
    throw new ProtocolError(
      `version ${JSON.stringify(m.v)} received, this side speaks ${PROTOCOL_VERSION} (extension and trainer are from different builds)`,
      value,
    );
  const shape = typeof m.type === 'string' ? shapes[m.type] : undefined;
  if (!shape) throw new ProtocolError(`unknown message type ${JSON.stringify(m.type)}`, value);
  for (const [key, kind] of Object.entries(shape)) {
    const optional = kind.endsWith('?');
    if (optional && m[key] === undefined) continue;
    // NaN loss is a real outcome of a diverging run, so numbers are only required to be numbers.
    if (typeof m[key] !== kind.replace('?', '') || m[key] === null)
      throw new ProtocolError(
        `'${m.type}' message: '${key}' should be a ${kind.replace('?', '')}, got ${JSON.stringify(m[key])}`,
        value,
      );
  }
  return value as T;
}

export const parseTrainerMessage = (value: unknown): TrainerMessage => check<TrainerMessage>(TRAINER_SHAPES, value);
export const parseParentMessage = (value: unknown): ParentMessage => check<ParentMessage>(PARENT_SHAPES, value);

/** A message as written by its sender: the version is filled in by `message`. */
export type Unversioned<M> = M extends unknown ? Omit<M, 'v'> : never;

export function message<M extends TrainerMessage | ParentMessage>(m: Unversioned<M>): M {
  return { v: PROTOCOL_VERSION, ...m } as M;
}
