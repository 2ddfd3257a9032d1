// Runs a study: every variant is planned first (so a bad variant fails before an hour of evaluation),
// then evaluated unless its cache key file says the same inputs, plan and task files were evaluated
// already. The key is written after the results, so an interrupted variant is evaluated again. Variants
// are evaluated one after another, or, with `launcher: slurm`, as jobs all queued at once.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { exists } from '../checkpoint/weights';
import { VariantSpec, VirtualMerge } from '../merge/virtual';
import { recipeToJson } from '../merge/recipes';
import { TAIA_RESULTS_SUFFIX } from '../results/taiaFormat';
import { writeFileAtomic } from '../util/atomicWrite';
import { evaluationCommandLine } from '../eval/command';
import type { Study, StudyVariant } from './load';
import type { StudyConfig } from './schema';

export const STUDY_RESULTS_DIR = path.join('.taia', 'results', 'studies');
export const STUDY_INDEX = 'study.json';
export const STUDY_KEY_SUFFIX = '.study-key.json';
const KEY_VERSION = 1;

/** One variant for the built-in evaluator: the trainer protocol's evaluation job, as core describes it. */
export interface VariantJob {
  checkpoint: string;
  base: string;
  tasks: string[];
  out: string;
  name: string;
  maxNewTokens: number;
  limit: number;
  engine: StudyConfig['engine'];
  device: StudyConfig['device'];
  backend: StudyConfig['backend'];
  variant: { recipe: string; recipeText?: string; scale?: number; layers?: [number, number] };
}

/** How a runner evaluates: the CLI and the extension each launch the trainer (and commands) their way. */
export interface StudyEvaluator {
  /** The built-in evaluator on one job; the result file, or undefined when cancelled. Throws on failure. */
  evaluate(job: VariantJob): Promise<string | undefined>;
  /** An external evaluation command line (already substituted); false when cancelled. Throws on failure. */
  external(commandLine: string, cwd: string): Promise<boolean>;
  /** Writes a variant to a folder for the external command; the folder is removed by `dispose`. */
  write(spec: VariantSpec): Promise<{ dir: string; dispose(): Promise<void> }>;
  cancelled(): boolean;
  log(message: string): void;
}

export interface VariantOutcome {
  name: string;
  state: 'cached' | 'evaluated' | 'cancelled';
  /** The result file (built-in evaluator) or the command's output folder. */
  results: string;
  seconds: number;
}

/** The study index (`study.json`): what the study page and exports read. */
export interface StudyIndex {
  format: 'taia-study';
  version: 1;
  name: string;
  file: string;
  base: string;
  finetuned: string;
  layerCount?: number;
  tasks: string[];
  variants: {
    name: string;
    recipe: unknown;
    scale?: number;
    layers?: [number, number];
    scan?: StudyVariant['scan'];
    results: string;
    key: string;
  }[];
}

export function studyOutputDir(study: Study): string {
  return path.join(path.dirname(study.file), STUDY_RESULTS_DIR, study.config.name);
}

export function variantSpec(study: Study, v: StudyVariant): VariantSpec {
  return { base: study.config.base, finetuned: study.finetuned, recipe: v.recipe, scale: v.scale, layers: v.layers };
}

export async function runStudy(
  study: Study,
  evaluator: StudyEvaluator,
  onVariant?: (outcome: VariantOutcome, index: number, count: number) => void,
  outDir = studyOutputDir(study),
): Promise<VariantOutcome[]> {
  await mkdir(outDir, { recursive: true });
  const tasks = await Promise.all(
    study.config.eval.tasks.map(async (t) => ({ name: path.basename(t), sha256: sha256(await readFile(t)) })),
  );
  const keys: string[] = [];
  for (const v of study.variants)
    keys.push(
      await variantKey(study, v, tasks).catch((e: Error) =>
        Promise.reject(new Error(`variant '${v.name}': ${e.message}`)),
      ),
    );
  const external = study.config.eval.command !== '';
  const resultsOf = (v: StudyVariant) => path.join(outDir, external ? v.name : `${v.name}${TAIA_RESULTS_SUFFIX}`);
  const index: StudyIndex = {
    format: 'taia-study',
    version: 1,
    name: study.config.name,
    file: study.file,
    base: study.config.base,
    finetuned: study.finetuned,
    layerCount: study.layerCount,
    tasks: study.config.eval.tasks,
    variants: study.variants.map((v, i) => ({
      name: v.name,
      recipe: recipeToJson(v.recipe),
      scale: v.scale,
      layers: v.layers,
      scan: v.scan,
      results: path.basename(resultsOf(v)),
      key: keys[i],
    })),
  };
  await writeFileAtomic(path.join(outDir, STUDY_INDEX), JSON.stringify(index, null, 2) + '\n');
  const evaluate = async (i: number): Promise<VariantOutcome> => {
    const v = study.variants[i];
    const results = resultsOf(v);
    const keyFile = path.join(outDir, `${v.name}${STUDY_KEY_SUFFIX}`);
    const started = performance.now();
    let state: VariantOutcome['state'];
    if ((await cachedKey(keyFile)) === keys[i] && (await exists(results))) state = 'cached';
    else if (evaluator.cancelled()) state = 'cancelled';
    else {
      await rm(keyFile, { force: true });
      const done = external
        ? await runExternal(study, v, results, evaluator)
        : await evaluator.evaluate(builtInJob(study, v, results));
      state = done ? 'evaluated' : 'cancelled';
      if (done)
        await writeFileAtomic(
          keyFile,
          JSON.stringify({ key: keys[i], variant: v.name, evaluated: new Date().toISOString() }, null, 2) + '\n',
        );
    }
    const outcome = { name: v.name, state, results, seconds: (performance.now() - started) / 1000 };
    onVariant?.(outcome, i, study.variants.length);
    return outcome;
  };
  const count = study.variants.length;
  if (study.config.launcher === 'slurm') {
    // A job per variant, all in the queue at once. A failed one stops the study only after the others
    // ended, so that what they evaluated is kept (with its key) for the re-run.
    const settled = await Promise.allSettled(Array.from({ length: count }, (_, i) => evaluate(i)));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<VariantOutcome>).value);
  }
  const outcomes: VariantOutcome[] = [];
  for (let i = 0; i < count; i++) {
    outcomes.push(await evaluate(i));
    if (outcomes[i].state === 'cancelled') break;
  }
  return outcomes;
}

function builtInJob(study: Study, v: StudyVariant, out: string): VariantJob {
  const c = study.config;
  return {
    checkpoint: study.finetuned,
    base: c.base,
    tasks: c.eval.tasks,
    out,
    name: `${c.name}:${v.name}`,
    maxNewTokens: c.eval.max_new_tokens,
    limit: c.eval.limit,
    engine: c.engine,
    device: c.device,
    backend: c.backend,
    variant: { recipe: v.recipeRef, recipeText: v.recipeText, scale: v.scale, layers: v.layers },
  };
}

async function runExternal(study: Study, v: StudyVariant, outDir: string, evaluator: StudyEvaluator): Promise<boolean> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const written = await evaluator.write(variantSpec(study, v));
  try {
    const line = evaluationCommandLine(study.config.eval.command, {
      checkpoint: written.dir,
      output: outDir,
      tasks: study.config.eval.tasks,
    });
    evaluator.log(`$ ${line}`);
    return await evaluator.external(line, path.dirname(study.file));
  } finally {
    await written.dispose();
  }
}

/**
 * The cache key of a variant: the inputs' safetensors header hashes, sizes and modification times, the plan
 * itself (source and operation of every tensor, scale), the task files' contents and the evaluation
 * settings that change scores. Planning also checks the variant as `taia merge` would.
 */
async function variantKey(study: Study, v: StudyVariant, tasks: { name: string; sha256: string }[]): Promise<string> {
  const merge = await VirtualMerge.open(variantSpec(study, v));
  try {
    const { plan } = merge;
    // A header hash misses a retrained checkpoint of the same layout; the modification time does not
    // (a copy without -p only costs a re-evaluation). Hashing every byte would cost a read of the model.
    const headers = (files: { path: string; size: number; headerSha256: string }[]) =>
      Promise.all(
        files.map(async (f) => [path.basename(f.path), f.size, f.headerSha256, (await stat(f.path)).mtimeMs]),
      );
    const c = study.config;
    return sha256(
      JSON.stringify({
        v: KEY_VERSION,
        base: await headers(plan.inputs.base.files),
        finetuned: await headers((plan.inputs.finetuned ?? plan.inputs.adapter!.weights).files),
        plan: plan.tensors.map((t) => [t.name, t.source, t.op, t.dtype]),
        scale: plan.options.scale,
        // The small files that change scores without changing a tensor: LoRA scaling, rope, chat template.
        files: await smallFiles([
          path.join(plan.configSource, 'config.json'),
          path.join(study.finetuned, 'adapter_config.json'),
          ...['tokenizer.json', 'tokenizer_config.json'].flatMap((f) => [
            path.join(study.finetuned, f),
            path.join(study.config.base, f),
          ]),
        ]),
        tasks,
        eval: { engine: c.engine, maxNewTokens: c.eval.max_new_tokens, limit: c.eval.limit, command: c.eval.command },
      }),
    );
  } finally {
    await merge.close();
  }
}

async function smallFiles(files: string[]): Promise<(string | null)[]> {
  return Promise.all(files.map((f) => readFile(f).then(sha256, () => null)));
}

async function cachedKey(file: string): Promise<string | undefined> {
  try {
    const key = (JSON.parse(await readFile(file, 'utf-8')) as { key?: unknown }).key;
    return typeof key === 'string' ? key : undefined;
  } catch {
    return undefined;
  }
}

function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
