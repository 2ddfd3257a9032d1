// The demo workspace before anything runs: the shipped base model, the fine-tuning data, the downstream
// task files and the experiment file. `npm run demo` fills it and runs the workflow through the CLI;
// the extension's "Create the demo workspace" writes it for the walkthrough to run step by step.
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { makeWorld } from './world';

export const DEMO_EXPERIMENT = 'word-games.taia.yaml';

export interface DemoExperiment {
  name: string;
  base: string;
  dataset: string;
  engine: 'tfjs';
  train: Record<string, number | string>;
  merge: { recipe: string };
  eval: { tasks: string[] };
}

/**
 * Writes the demo workspace into `ws` (which must not exist, or be empty) from the base model folder
 * `baseModel`; `quick` shortens training (the tests), `seed` seeds the fine-tune (the order of its
 * data; the world and the base stay the same). Returns the experiment written.
 */
export function writeDemoWorkspace(
  ws: string,
  baseModel: string,
  opts: { quick?: boolean; seed?: number } = {},
): DemoExperiment {
  if (!existsSync(path.join(baseModel, 'model.safetensors')))
    throw new Error(`${baseModel}: the demo's base model is missing`);
  for (const d of ['models', 'data', 'tasks', 'results', 'report']) mkdirSync(path.join(ws, d), { recursive: true });
  cpSync(baseModel, path.join(ws, 'models', 'base'), { recursive: true });
  const world = makeWorld();
  const writeJsonl = (file: string, rows: unknown[]) =>
    writeFileSync(path.join(ws, file), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  writeJsonl('data/word-games.jsonl', world.finetuning);
  for (const [name, rows] of Object.entries(world.tasks)) writeJsonl(`tasks/${name}.jsonl`, rows);
  const experiment: DemoExperiment = {
    name: 'word-games',
    base: 'models/base',
    dataset: 'data/word-games.jsonl',
    engine: 'tfjs',
    train: {
      method: 'full',
      max_steps: opts.quick ? 6 : 150,
      batch_size: 16,
      max_seq_length: 96,
      learning_rate: 5e-4,
      lr_scheduler_type: 'cosine',
      warmup_steps: opts.quick ? 1 : 10,
      seed: opts.seed ?? 7,
      logging_steps: 1,
    },
    merge: { recipe: 'taia' },
    eval: { tasks: Object.keys(world.tasks).map((t) => `tasks/${t}.jsonl`) },
  };
  writeFileSync(
    path.join(ws, DEMO_EXPERIMENT),
    `# The demo's fine-tune: word games in the instruction format, out of distribution for tasks/.\n${stringify(experiment)}`,
  );
  return experiment;
}
