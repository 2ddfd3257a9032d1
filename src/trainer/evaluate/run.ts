import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { detectCheckpointKind } from '../../core/checkpoint/discover';
import { exactMatch } from '../../core/eval/scoring';
import { readTaskFile, Task, TaskExample } from '../../core/eval/tasks';
import { readLoraConfig } from '../../core/lora/adapter';
import { loadRecipe, parseRecipe } from '../../core/merge/recipes';
import { ChatTokenizer } from '../data/tokenizer';
import type { EvalHooks, EvalRequest, ExampleRecord, LanguageModel, ModelToEvaluate, TaskScore } from './types';

export type OpenModel = (model: ModelToEvaluate, req: EvalRequest, hooks: EvalHooks) => Promise<LanguageModel>;

/**
 * Evaluates a checkpoint on task files with the model `open` loads: greedy decoding for generation
 * tasks (exact match after extraction and normalisation), the log-likelihood of each choice for
 * multiple choice (acc, and acc_norm by the choice's length in bytes, as lm-evaluation-harness).
 * Prompts are rendered and tokenized here, so every engine scores the same token ids.
 */
export async function evaluateTasks(
  req: EvalRequest,
  hooks: EvalHooks,
  open: OpenModel,
): Promise<{ scores: TaskScore[]; records: ExampleRecord[]; cancelled: boolean; backend: string }> {
  const tasks = await Promise.all(req.tasks.map(readTaskFile));
  const model = await resolveModel(req);
  // The tokenizer of the evaluated folder when it has one (a fine-tune may add tokens), else the base's.
  const tokenizer = await ChatTokenizer.load(
    existsSync(path.join(req.checkpoint, 'tokenizer.json')) ? req.checkpoint : model.modelDir,
  );
  const lm = await open(model, req, hooks);
  const selected = tasks.map((t) => ({
    task: t,
    examples: req.limit > 0 ? t.examples.slice(0, req.limit) : t.examples,
  }));
  const total = selected.reduce((n, t) => n + t.examples.length, 0);
  hooks.started({ backend: lm.description, examples: total });
  const records: ExampleRecord[] = [];
  const scores: TaskScore[] = [];
  let done = 0;
  try {
    for (const { task, examples } of selected) {
      const taskRecords: ExampleRecord[] = [];
      for (let i = 0; i < examples.length; i += lm.batchSize) {
        if (hooks.cancelled()) return { scores, records, cancelled: true, backend: lm.description };
        const batch = examples.slice(i, i + lm.batchSize);
        const score = task.kind === 'generation' ? generate : chooseByLikelihood;
        const prompts = batch.map((ex) => promptIds(tokenizer, task, ex, req.noTemplate === true));
        for (const r of await score(lm, tokenizer, batch, prompts, req.maxNewTokens))
          taskRecords.push({ task: task.name, ...r });
        done += batch.length;
        hooks.progress(done, total, task.name);
      }
      records.push(...taskRecords);
      scores.push(summarise(task, taskRecords));
    }
    return { scores, records, cancelled: false, backend: lm.description };
  } finally {
    await lm.dispose();
  }
}

type Scored = Omit<ExampleRecord, 'task'>;

/** The prompt's token ids: the chat template with the generation prompt, or the raw prompt. */
function promptIds(tok: ChatTokenizer, task: Task, ex: TaskExample, noTemplate: boolean): number[] {
  if (ex.template && !noTemplate) return tok.encode(tok.render(ex.messages, true));
  if (ex.prompt === undefined)
    throw new Error(
      `${task.file}: example ${ex.id} has "messages", which need the chat template; give it a "prompt" to evaluate it without one`,
    );
  return tok.encode(tok.renderRaw(ex.prompt));
}
/** The example's question as the task file gives it (the turns before the answer), kept with its record for the per-example view. */
const promptText = (ex: TaskExample) =>
  ex.messages.map((m) => (ex.messages.length > 1 ? `${m.role}: ${m.content}` : m.content)).join('\n');

async function generate(
  lm: LanguageModel,
  tok: ChatTokenizer,
  examples: TaskExample[],
  prompts: number[][],
  maxNew: number,
): Promise<Scored[]> {
  const outputs = await lm.generate(prompts, maxNew, tok.ids.eos);
  return examples.map((ex, i) => {
    const prediction = tok.decode(outputs[i]);
    return {
      id: ex.id,
      prompt: promptText(ex),
      prediction,
      target: ex.answers[0],
      metrics: { exact_match: exactMatch(prediction, ex.answers).correct ? 1 : 0 },
    };
  });
}

async function chooseByLikelihood(
  lm: LanguageModel,
  tok: ChatTokenizer,
  examples: TaskExample[],
  prompts: number[][],
): Promise<Scored[]> {
  const requests = examples.flatMap((ex, i) => {
    const context = prompts[i];
    return ex.choices!.map((choice) => ({ context, continuation: tok.encode(choice) }));
  });
  const logp = await lm.loglikelihood(requests);
  let next = 0;
  return examples.map((ex) => {
    const scores = ex.choices!.map((choice) => {
      const sum = logp[next++];
      return { sum, norm: sum / Math.max(1, Buffer.byteLength(choice)) };
    });
    const argmax = (key: 'sum' | 'norm') => scores.reduce((best, s, i) => (s[key] > scores[best][key] ? i : best), 0);
    const picked = argmax('sum');
    return {
      id: ex.id,
      prompt: promptText(ex),
      prediction: ex.choices![picked],
      target: ex.choices![ex.correct!],
      metrics: { acc: picked === ex.correct ? 1 : 0, acc_norm: argmax('norm') === ex.correct ? 1 : 0 },
      loglikelihoods: scores.map((s) => s.sum),
    };
  });
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

/** A merge variant of base and fine-tune; a model folder as it is; an adapter with the base its adapter_config.json names (relative to it), or `req.base`. */
async function resolveModel(req: EvalRequest): Promise<ModelToEvaluate> {
  if (req.variant) {
    if (!req.base) throw new Error(`${req.checkpoint}: a merge variant needs its base (--base)`);
    const { recipe, recipeText, scale, layers, keepAt } = req.variant;
    return {
      modelDir: req.base,
      variant: {
        base: req.base,
        finetuned: req.checkpoint,
        recipe: recipeText ? parseRecipe(recipeText, recipe) : await loadRecipe(recipe),
        scale,
        layers,
        keepAt,
      },
    };
  }
  const kind = await detectCheckpointKind(req.checkpoint);
  if (!kind) throw new Error(`${req.checkpoint}: not a model folder or a PEFT adapter`);
  if (kind !== 'adapter') return { modelDir: req.checkpoint };
  const config = await readLoraConfig(req.checkpoint);
  if (config.useDora) throw new Error(`${req.checkpoint}: DoRA adapters are not supported`);
  const modelDir = req.base ?? (config.baseModel ? path.resolve(req.checkpoint, config.baseModel) : '');
  const baseKind = modelDir ? await detectCheckpointKind(modelDir) : undefined;
  if (!baseKind || baseKind === 'adapter')
    throw new Error(
      `${req.checkpoint}: its base model ${config.baseModel ?? '(not named)'} is not a local model folder; give it with --base`,
    );
  return { modelDir, adapterDir: req.checkpoint };
}
