import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { DatasetError } from '../datasets/error';
import type { Turn } from '../datasets/records';

/**
 * An evaluation task file: JSON Lines, one example per line, the task named after the file.
 * - generation: `{"id"?, "prompt" | "messages", "answer": string | number | [aliases]}`, scored by exact
 *   match after answer extraction and normalisation;
 * - multiple choice: `{"id"?, "prompt" | "messages", "choices": [..], "answer": index | letter | choice}`,
 *   scored by the log-likelihood of each choice as a continuation of the prompt.
 * A row with `"template": false` is a raw prompt: its "prompt" goes to the model as it is (after the
 * tokenizer's BOS), not wrapped in the chat template, as lm-evaluation-harness evaluates base models.
 */
export interface TaskExample {
  id: string;
  messages: Turn[];
  /** Accepted answers (generation) or the index of the right choice (multiple choice). */
  answers: string[];
  choices?: string[];
  correct?: number;
  /** The prompt as written, for a raw prompt (`"template": false` here, or `--no-template` for every row). */
  prompt?: string;
  /** false: send `prompt` raw, without the chat template. */
  template: boolean;
}

export interface Task {
  name: string;
  file: string;
  kind: 'generation' | 'multiple_choice';
  examples: TaskExample[];
}

export async function readTaskFile(file: string): Promise<Task> {
  const text = await readFile(file, 'utf-8').catch((e: NodeJS.ErrnoException) => {
    throw new DatasetError(file, `cannot read (${e.code})`, {});
  });
  const examples: TaskExample[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line) as Record<string, unknown>;
    } catch (e) {
      throw new DatasetError(file, `invalid JSON (${(e as Error).message})`, { line: i + 1 });
    }
    examples.push(toExample(file, row, i + 1, examples.length));
  });
  if (examples.length === 0) throw new DatasetError(file, 'has no examples', {});
  const kinds = new Set(examples.map((e) => (e.choices ? 'multiple_choice' : 'generation')));
  if (kinds.size > 1)
    throw new DatasetError(file, 'mixes multiple-choice and generation examples; use one file per task', {});
  return { name: path.basename(file).replace(/\.jsonl?$/, ''), file, kind: [...kinds][0] as Task['kind'], examples };
}

function toExample(file: string, row: Record<string, unknown>, line: number, index: number): TaskExample {
  const fail = (problem: string) => new DatasetError(file, problem, { line });
  const messages: Turn[] | undefined =
    typeof row.prompt === 'string'
      ? [{ role: 'user', content: row.prompt }]
      : Array.isArray(row.messages)
        ? (row.messages as Turn[])
        : undefined;
  if (!messages || messages.some((m) => typeof m?.content !== 'string' || typeof m?.role !== 'string'))
    throw fail('needs "prompt" (a string) or "messages" (role/content turns)');
  if (row.template !== undefined && typeof row.template !== 'boolean')
    throw fail(`"template" must be true or false, got ${JSON.stringify(row.template)}`);
  const template = row.template !== false;
  if (!template && typeof row.prompt !== 'string')
    throw fail('"template": false needs "prompt" (a string): a raw prompt has no turns');
  const prompt = typeof row.prompt === 'string' ? { prompt: row.prompt } : {};
  const id = row.id === undefined ? String(index) : String(row.id);
  if (Array.isArray(row.choices)) {
    const choices = row.choices.map(String);
    const correct = choiceIndex(row.answer, choices);
    if (correct === undefined)
      throw fail(
        `"answer" ${JSON.stringify(row.answer)} is not an index, letter or text of one of the ${choices.length} choices`,
      );
    return { id, messages, answers: [choices[correct]], choices, correct, template, ...prompt };
  }
  const answers = (Array.isArray(row.answer) ? row.answer : [row.answer])
    .filter((a) => typeof a === 'string' || typeof a === 'number')
    .map(String);
  if (answers.length === 0) throw fail('needs "answer": a string, a number or a list of accepted answers');
  return { id, messages, answers, template, ...prompt };
}

function choiceIndex(answer: unknown, choices: string[]): number | undefined {
  if (typeof answer === 'number' && Number.isInteger(answer) && answer >= 0 && answer < choices.length) return answer;
  if (typeof answer !== 'string') return undefined;
  if (/^[A-Z]$/.test(answer) && answer.charCodeAt(0) - 65 < choices.length) return answer.charCodeAt(0) - 65;
  const i = choices.indexOf(answer);
  return i >= 0 ? i : undefined;
}
