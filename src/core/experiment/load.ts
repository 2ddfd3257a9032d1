import { realpath, stat } from 'node:fs/promises';
import { CheckpointError } from '../errors';
import { readRegularText } from '../util/files';
import * as path from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { detectCheckpointKind } from '../checkpoint/discover';
import { builtinRecipe } from '../merge/recipes';
import type { RunConfig } from '../runs/types';
import { ExperimentDefaults, ExperimentProblem, KeyPath, parseExperiment, resolveExperimentPath } from './validate';

/** An experiment file that cannot be run, with every problem and where it is. */
export class ExperimentError extends Error {
  constructor(
    readonly file: string,
    readonly problems: (ExperimentProblem & { line: number; column: number })[],
  ) {
    super(problems.map((p) => `${file}:${p.line}:${p.column}: ${p.message}`).join('\n'));
    this.name = 'ExperimentError';
  }
}

export interface LoadExperimentOptions {
  /**
   * The workspace folder the experiment's paths (base, dataset, recipe file, eval tasks) must resolve
   * inside, after links: an experiment file from a cloned repository must not train on /etc/passwd.
   * Undefined: anywhere (the user allowed it).
   */
  workspace?: string;
  /** How the user allows paths outside the workspace, for the message (a flag or a setting). */
  allowHint?: string;
  /** Values for keys the file leaves out (e.g. `slurm.partition` from the editor's settings). */
  defaults?: ExperimentDefaults;
}

/**
 * Reads an experiment file into a run config: validated, paths resolved against the file's folder,
 * and the base and dataset checked to exist and be what they claim. Throws ExperimentError on errors.
 */
export async function loadExperiment(file: string, opts: LoadExperimentOptions = {}): Promise<RunConfig> {
  const text = await readRegularText(file, 2 ** 20).catch((e: Error) => {
    throw new ExperimentError(file, [
      {
        path: [],
        message: e instanceof CheckpointError ? e.problem : e.message,
        severity: 'error',
        line: 1,
        column: 1,
      },
    ]);
  });
  const parsed = parseExperiment(text, file, opts.defaults);
  const errors = parsed.problems.filter((p) => p.severity === 'error');
  if (errors.length)
    throw new ExperimentError(
      file,
      errors.map((p) => ({ ...p, ...locate(text, p) })),
    );
  const at = (value: string) => resolveExperimentPath(file, value);
  // Optional paths stay empty when not given (engine command may name no base or dataset).
  const maybeAt = (value: string) => (value ? at(value) : '');
  const recipe = parsed.config.merge.recipe;
  const c = parsed.config;
  const config: RunConfig = {
    ...c,
    base: maybeAt(c.base),
    dataset: maybeAt(c.dataset),
    command: typeof c.command === 'string' ? c.command : c.command.map(String),
    cwd: c.engine === 'command' ? at(c.cwd || '.') : maybeAt(c.cwd),
    env: Object.fromEntries(Object.entries(c.env).map(([k, v]) => [k, String(v)])),
    output_dir: maybeAt(c.output_dir),
    merge: { ...parsed.config.merge, recipe: builtinRecipe(recipe) ? recipe : at(recipe) },
    eval: { ...parsed.config.eval, tasks: parsed.config.eval.tasks.map(at) },
    experimentFile: path.resolve(file),
  };
  const missing = await checkPaths(config);
  if (opts.workspace !== undefined)
    missing.push(...(await checkInsideWorkspace(config, opts.workspace, opts.allowHint)));
  if (missing.length)
    throw new ExperimentError(
      file,
      missing.map((p) => ({ ...p, ...locate(text, p) })),
    );
  return config;
}

async function checkPaths(config: RunConfig): Promise<ExperimentProblem[]> {
  const problems: ExperimentProblem[] = [];
  if (config.engine === 'command') {
    const cwd = await stat(config.cwd).catch(() => undefined);
    if (!cwd?.isDirectory())
      problems.push({
        path: ['cwd'],
        message: `'cwd': ${config.cwd} ${cwd ? 'is not a folder' : 'does not exist'}`,
        severity: 'error',
      });
    // The base is optional here; when given, it is what the run's checkpoints merge with.
    if (!config.base) return problems;
  }
  const kind = await detectCheckpointKind(config.base).catch(() => undefined);
  if (kind !== 'model' && kind !== 'merged')
    problems.push({
      path: ['base'],
      message: `'base': ${config.base} is ${kind === 'adapter' ? 'a LoRA adapter, not a model folder' : 'not a model folder (config.json with safetensors weights)'}`,
      severity: 'error',
    });
  if (config.engine === 'command' && !config.dataset) return problems;
  const data = await stat(config.dataset).catch(() => undefined);
  if (!data?.isFile())
    problems.push({
      path: ['dataset'],
      message: `'dataset': ${config.dataset} ${data ? 'is not a file' : 'does not exist'}`,
      severity: 'error',
    });
  return problems;
}

async function checkInsideWorkspace(
  config: RunConfig,
  workspace: string,
  allowHint = 'allow paths outside the workspace',
): Promise<ExperimentProblem[]> {
  const real = (p: string) => realpath(p).catch(() => path.resolve(p));
  const root = await real(workspace);
  // Optional paths left empty (engine command may name no base or dataset) have nothing to check.
  const given: [KeyPath, string][] = [
    [['base'], config.base],
    [['dataset'], config.dataset],
  ];
  const fields: [KeyPath, string][] = [
    ...given.filter(([, p]) => p),
    ...config.eval.tasks.map((t, i): [KeyPath, string] => [['eval', 'tasks', i], t]),
  ];
  if (!builtinRecipe(config.merge.recipe)) fields.push([['merge', 'recipe'], config.merge.recipe]);
  const problems: ExperimentProblem[] = [];
  for (const [at, p] of fields) {
    const rel = path.relative(root, await real(p));
    if (rel.startsWith('..') || path.isAbsolute(rel))
      problems.push({
        path: at,
        message: `'${at.join('.')}': ${p} is outside the workspace ${workspace}; ${allowHint} to use it`,
        severity: 'error',
      });
  }
  return problems;
}

/** 1-based line and column of a problem: its key (or the value of a whole-section problem), or its syntax error offset. */
export function locate(
  text: string,
  problem: { path: KeyPath; range?: [number, number] },
): { line: number; column: number } {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, keepSourceTokens: true });
  const offset = problem.range?.[0] ?? keyOffset(doc.contents, problem.path) ?? 0;
  const { line, col } = counter.linePos(offset);
  return { line, column: col };
}

/** Offset of the key node at the end of a key path (the closest existing ancestor when it is absent). */
export function keyOffset(node: unknown, keyPath: KeyPath): number | undefined {
  let offset: number | undefined;
  let current = node;
  for (const key of keyPath) {
    // A list item (a study's variant): its node.
    if (isSeq(current) && typeof key === 'number') {
      current = current.items[key];
      offset = (current as { range?: [number, number] } | undefined)?.range?.[0] ?? offset;
      continue;
    }
    if (!isMap(current)) break;
    const pair = current.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
    if (!pair || !isScalar(pair.key)) break;
    offset = pair.key.range?.[0];
    current = pair.value;
  }
  return offset;
}
