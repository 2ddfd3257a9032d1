import * as path from 'node:path';
import { detectCheckpointKind } from '../../../core/checkpoint/discover';
import { exactMatch } from '../../../core/eval/scoring';
import { readTaskFile, Task, TaskExample } from '../../../core/eval/tasks';
import { openLoraAdapter } from '../../../core/lora/adapter';
import { addDeltaRows, loraFactors } from '../../../core/lora/fold';
import { toFloat32 } from '../../../core/safetensors/convert';
import type { FloatDtype } from '../../../core/safetensors/dtypes';
import { readJsonObject } from '../../../core/util/json';
import { ChatTokenizer } from '../../data/tokenizer';
import { initBackend, tf } from './backend';
import { readFloatTensors } from './checkpoint';
import { DecodingSession } from './inference';
import { llamaConfig, LlamaWeights, llamaTensorShapes } from './llama';
import { Rotary } from './ops';

export interface EvalRequest {
  /** A model folder, or a PEFT adapter folder (folded into its base). */
  checkpoint: string;
  /** Base model of an adapter when its adapter_config.json does not name a local folder. */
  base?: string;
  tasks: string[];
  maxNewTokens: number;
  /** At most this many examples per task (0: all). */
  limit: number;
  device: 'auto' | 'gpu' | 'cpu';
  backend: 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
}

/** One scored example, as the result file's per-example records keep it. */
export interface ExampleRecord {
  task: string;
  id: string;
  prediction: string;
  target: string;
  metrics: Record<string, number>;
}

export interface TaskScore {
  task: string;
  kind: Task['kind'];
  n: number;
  /** Mean of each metric over the examples, with its standard error (√(p(1−p)/(n−1)) for 0/1 metrics, as lm-eval reports). */
  metrics: Record<string, { value: number; stderr: number }>;
}

export interface EvalHooks {
  started(info: { backend: string; examples: number }): void;
  progress(done: number, total: number, task: string): void;
  log(message: string): void;
  cancelled(): boolean;
}

/**
 * Evaluates a checkpoint on task files with the built-in engine: greedy decoding with a KV cache for
 * generation tasks (exact match after extraction and normalisation), log-likelihood of each choice for
 * multiple choice (acc, and acc_norm by the choice's length in bytes, as lm-evaluation-harness).
 */
export async function evaluateWithTfjs(req: EvalRequest, hooks: EvalHooks): Promise<{ scores: TaskScore[]; records: ExampleRecord[]; cancelled: boolean }> {
  const tasks = await Promise.all(req.tasks.map(readTaskFile));
  const backend = await initBackend(req.device, req.backend, [path.dirname(req.checkpoint)]);
  const { weights, tokenizer } = await loadForInference(req);
  const maxLen = 4096;
  const rotary = new Rotary(weights.config.headDim, maxLen, weights.config.ropeTheta);
  const selected = tasks.map((t) => ({ task: t, examples: req.limit > 0 ? t.examples.slice(0, req.limit) : t.examples }));
  const total = selected.reduce((n, t) => n + t.examples.length, 0);
  hooks.started({ backend: backend.description, examples: total });
  const records: ExampleRecord[] = [];
  const scores: TaskScore[] = [];
  let done = 0;
  try {
    for (const { task, examples } of selected) {
      const taskRecords: ExampleRecord[] = [];
      for (const ex of examples) {
        if (hooks.cancelled()) return { scores, records, cancelled: true };
        const score = task.kind === 'generation' ? generate : chooseByLikelihood;
        taskRecords.push({ task: task.name, ...score(weights, rotary, tokenizer, ex, req.maxNewTokens) });
        hooks.progress(++done, total, task.name);
        await new Promise((r) => setImmediate(r));
      }
      records.push(...taskRecords);
      scores.push(summarise(task, taskRecords));
    }
    return { scores, records, cancelled: false };
  } finally {
    rotary.dispose();
    weights.dispose();
  }
}

function generate(w: LlamaWeights, rotary: Rotary, tok: ChatTokenizer, ex: TaskExample, maxNew: number): Omit<ExampleRecord, 'task'> {
  const session = new DecodingSession(w, rotary);
  try {
    let logp = session.feed(tok.encode(tok.render(ex.messages, true)));
    const vocab = w.config.vocabSize;
    const out: number[] = [];
    for (let i = 0; i < maxNew; i++) {
      const last = logp.subarray(logp.length - vocab);
      let best = 0;
      for (let v = 1; v < vocab; v++) if (last[v] > last[best]) best = v;
      if (best === tok.ids.eos) break;
      out.push(best);
      logp = session.feed([best]);
    }
    const prediction = tok.decode(out);
    const { correct } = exactMatch(prediction, ex.answers);
    return { id: ex.id, prediction, target: ex.answers[0], metrics: { exact_match: correct ? 1 : 0 } };
  } finally {
    session.dispose();
  }
}

function chooseByLikelihood(w: LlamaWeights, rotary: Rotary, tok: ChatTokenizer, ex: TaskExample): Omit<ExampleRecord, 'task'> {
  const context = tok.encode(tok.render(ex.messages, true));
  const vocab = w.config.vocabSize;
  const scores = ex.choices!.map((choice) => {
    const continuation = tok.encode(choice);
    const session = new DecodingSession(w, rotary);
    try {
      // Log-probabilities of the continuation's tokens, each given everything before it.
      const logp = session.feed([...context, ...continuation].slice(0, -1));
      let sum = 0;
      continuation.forEach((t, i) => (sum += logp[(context.length - 1 + i) * vocab + t]));
      return { sum, norm: sum / Math.max(1, Buffer.byteLength(choice)) };
    } finally {
      session.dispose();
    }
  });
  const argmax = (key: 'sum' | 'norm') => scores.reduce((best, s, i) => (s[key] > scores[best][key] ? i : best), 0);
  const picked = argmax('sum');
  return { id: ex.id, prediction: ex.choices![picked], target: ex.choices![ex.correct!], metrics: { acc: picked === ex.correct ? 1 : 0, acc_norm: argmax('norm') === ex.correct ? 1 : 0 } };
}

function summarise(task: Task, records: ExampleRecord[]): TaskScore {
  const names = Object.keys(records[0]?.metrics ?? {});
  const n = records.length;
  const metrics = Object.fromEntries(
    names.map((m) => {
      const value = records.reduce((s, r) => s + r.metrics[m], 0) / Math.max(n, 1);
      return [m, { value, stderr: n > 1 ? Math.sqrt((value * (1 - value)) / (n - 1)) : 0 }];
    }),
  );
  return { task: task.name, kind: task.kind, n, metrics };
}

/** Frozen weights of a model folder, or of an adapter folded into its base with the merge's own LoRA code. */
async function loadForInference(req: EvalRequest): Promise<{ weights: LlamaWeights; tokenizer: ChatTokenizer }> {
  const kind = await detectCheckpointKind(req.checkpoint);
  if (!kind) throw new Error(`${req.checkpoint}: not a model folder or a PEFT adapter`);
  let modelDir = req.checkpoint;
  let adapter;
  if (kind === 'adapter') {
    adapter = await openLoraAdapter(req.checkpoint);
    modelDir = req.base ?? (adapter.config.baseModel ? path.resolve(req.checkpoint, adapter.config.baseModel) : '');
    if (!modelDir || !(await detectCheckpointKind(modelDir))) throw new Error(`${req.checkpoint}: its base model ${adapter.config.baseModel ?? '(not named)'} is not a local model folder; give it with --base`);
  }
  const config = llamaConfig(await readJsonObject(path.join(modelDir, 'config.json')), path.join(modelDir, 'config.json'));
  const values = await readFloatTensors(modelDir, llamaTensorShapes(config));
  if (adapter) {
    try {
      if (adapter.config.useDora) throw new Error(`${req.checkpoint}: DoRA adapters are not supported`);
      for (const m of adapter.modules) {
        const target = values.get(m.target);
        if (!target) throw new Error(`${req.checkpoint}: adapts '${m.target}', which the base does not have`);
        addDeltaRows(target, 0, await loraFactors(m));
      }
      for (const [name, ref] of adapter.replacements) {
        if (values.has(name)) values.set(name, toFloat32(await ref.file.read(ref.info.name), ref.info.dtype as FloatDtype));
      }
    } finally {
      await adapter.weights.close();
    }
  }
  const tensors = new Map([...values].map(([name, v]) => [name, tf.tensor(v, llamaTensorShapes(config).get(name))]));
  // The tokenizer of the evaluated folder when it has one (a fine-tune may add tokens), else the base's.
  const tokenizer = await ChatTokenizer.load(req.checkpoint).catch(() => ChatTokenizer.load(modelDir));
  return { weights: new LlamaWeights(config, tensors, false), tokenizer };
}
