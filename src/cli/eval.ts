import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { Backend, Device, EXPERIMENT_SCHEMA, OWN_ENGINES, OwnEngine } from '../core/experiment/schema';
import { checkValue } from '../core/experiment/validate';
import { BUILTIN_RECIPE_NAMES } from '../core/merge/recipes';
import { SlurmError } from '../core/slurm/commands';
import { evaluateAsSlurmJob } from '../core/slurm/evaluate';
import { slurmSettings } from '../core/slurm/submit';
import { scaleAndLayers } from './variantArgs';
import { TAIA_RESULTS_SUFFIX, TaiaResultsFile } from '../core/results/taiaFormat';
import { launchTrainer } from '../trainer/client';
import { EvaluateJob } from '../trainer/protocol';
import { ProgressLine } from './progress';
import { cliLaunch, ctrlC, POLL_MS } from './slurm';
import { Command, UsageError } from './usage';

const BACKENDS = EXPERIMENT_SCHEMA.backend.values;
/** An evaluation runs on an engine that scores by itself (`engine: command` trains with someone else's tool). */
const ENGINES = OWN_ENGINES;
const DEVICES = EXPERIMENT_SCHEMA.device.values;

export const evalCommand: Command = {
  name: 'eval',
  summary: 'evaluate a checkpoint on task files and write a result file',
  usage:
    'taia eval CHECKPOINT --tasks FILE [--tasks FILE…] [--out FILE.taia-results.json] [--name NAME] [--base DIR]\n' +
    'taia eval --base DIR --finetuned DIR --recipe R [--scale F] [--layers A-B] [--keep-merge DIR] --tasks FILE…\n' +
    '                 [--max-new-tokens 64] [--limit N] [--engine tfjs|torch] [--device auto|gpu|cpu]\n' +
    '                 [--backend auto|wasm|cpu|…] [--launcher local|slurm] [--slurm KEY=VALUE…] [--no-template] [--quiet]\n\n' +
    '  Task files are JSON Lines: {"prompt", "answer"} rows are generated greedily and scored by exact match\n' +
    '  after answer extraction; {"prompt", "choices", "answer"} rows are scored by log-likelihood (acc, acc_norm).\n' +
    '  A row with "template": false, or every row with --no-template, is a raw prompt: not wrapped in the chat\n' +
    "  template (the way base models are evaluated), only preceded by the tokenizer's BOS token.\n" +
    '  CHECKPOINT may be a PEFT adapter: it is folded into its base (adapter_config.json, or --base).\n' +
    '  --engine torch scores with transformers in $TAIA_PYTHON (default python3) on the same prompts and token ids;\n' +
    "  --backend picks the built-in (tfjs) engine's backend.\n" +
    '  With --finetuned and --recipe it evaluates that merge of base and fine-tune (or adapter) without writing it:\n' +
    '  the built-in engine reads it tensor by tensor; --engine torch gets a written merge in a temporary folder,\n' +
    '  removed afterwards (kept in DIR with --keep-merge).\n' +
    '  --launcher slurm runs the evaluation as a Slurm job (files beside the result file, in NAME.slurm/); --slurm sets\n' +
    "  a key of the experiment file's slurm section, e.g. --slurm partition=gpu --slurm gpus_per_node=1 --slurm modules=cuda/12.1",
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        tasks: { type: 'string', multiple: true },
        out: { type: 'string' },
        name: { type: 'string' },
        base: { type: 'string' },
        'max-new-tokens': { type: 'string', default: '64' },
        limit: { type: 'string', default: '0' },
        engine: { type: 'string', default: 'tfjs' },
        device: { type: 'string' },
        backend: { type: 'string', default: 'auto' },
        'no-template': { type: 'boolean' },
        quiet: { type: 'boolean', short: 'q' },
        finetuned: { type: 'string' },
        recipe: { type: 'string' },
        scale: { type: 'string' },
        layers: { type: 'string' },
        'keep-merge': { type: 'string' },
        launcher: { type: 'string', default: 'local' },
        slurm: { type: 'string', multiple: true },
      },
    });
    if (values.launcher !== 'local' && values.launcher !== 'slurm')
      throw new UsageError('--launcher must be local or slurm');
    if (values.slurm?.length && values.launcher !== 'slurm') throw new UsageError('--slurm needs --launcher slurm');
    const variant = variantOptions(values);
    if (variant && positionals.length > 0)
      throw new UsageError('give either a CHECKPOINT or --finetuned with --recipe, not both');
    if (variant && !values.base) throw new UsageError('--recipe needs --base');
    if (!variant && positionals.length !== 1) throw new UsageError('expected one checkpoint folder');
    if (!values.tasks?.length) throw new UsageError('give at least one --tasks FILE');
    const backend = values.backend as Backend;
    if (!BACKENDS.includes(backend)) throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}`);
    const engine = values.engine as OwnEngine;
    if (!ENGINES.includes(engine)) throw new UsageError(`--engine must be one of ${ENGINES.join(', ')}`);
    const device = (values.device ?? (backend === 'cpu' || backend === 'wasm' ? 'cpu' : 'auto')) as Device;
    if (!DEVICES.includes(device)) throw new UsageError(`--device must be one of ${DEVICES.join(', ')}`);
    const count = (flag: string, text: string, min: number) => {
      const n = Number(text);
      if (!Number.isInteger(n) || n < min) throw new UsageError(`--${flag} must be an integer ≥ ${min}, got '${text}'`);
      return n;
    };
    const checkpoint = path.resolve(variant ? values.finetuned! : positionals[0]);
    const name =
      values.name ??
      (variant ? `${path.basename(checkpoint)}-${path.basename(variant.recipe)}` : path.basename(checkpoint));
    const out = path.resolve(values.out ?? `${name}${TAIA_RESULTS_SUFFIX}`);
    if (!out.endsWith(TAIA_RESULTS_SUFFIX)) throw new UsageError(`--out must end with ${TAIA_RESULTS_SUFFIX}`);
    const job: EvaluateJob = {
      checkpoint,
      base: values.base && path.resolve(values.base),
      tasks: values.tasks.map((t) => path.resolve(t)),
      out,
      name,
      maxNewTokens: count('max-new-tokens', values['max-new-tokens']!, 1),
      limit: count('limit', values.limit!, 0),
      engine,
      device,
      backend,
      variant,
      ...(values['no-template'] ? { noTemplate: true } : {}),
    };
    if (values.launcher === 'slurm')
      return evaluateOnSlurm(job, slurmOverrides(values.slurm ?? []), values.quiet === true);
    return evaluateInTerminal(job, values.quiet === true);
  },
};

/** --finetuned/--recipe/--scale/--layers as the job's merge variant; undefined when evaluating a checkpoint as it is. */
function variantOptions(values: {
  finetuned?: string;
  recipe?: string;
  scale?: string;
  layers?: string;
  'keep-merge'?: string;
}): EvaluateJob['variant'] {
  if (values.finetuned === undefined && values.recipe === undefined) {
    if (values.scale !== undefined || values.layers !== undefined || values['keep-merge'] !== undefined)
      throw new UsageError('--scale, --layers and --keep-merge need --finetuned and --recipe');
    return undefined;
  }
  if (!values.finetuned || !values.recipe) throw new UsageError('--finetuned and --recipe go together');
  const { scale, layers } = scaleAndLayers(values);
  const recipe = BUILTIN_RECIPE_NAMES.includes(values.recipe) ? values.recipe : path.resolve(values.recipe);
  return { recipe, scale, layers, keepAt: values['keep-merge'] && path.resolve(values['keep-merge']) };
}

/** `--slurm key=value` pairs, checked against the experiment schema's slurm section (lists: repeat the key). */
function slurmOverrides(pairs: string[]): Record<string, unknown> {
  const fields = EXPERIMENT_SCHEMA.slurm.fields as Record<string, Parameters<typeof checkValue>[0]>;
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq > 0 ? pair.slice(0, eq) : pair;
    const spec = fields[key];
    if (!spec || eq < 0)
      throw new UsageError(`--slurm takes KEY=VALUE with KEY one of ${Object.keys(fields).join(', ')}; got '${pair}'`);
    const text = pair.slice(eq + 1);
    const value =
      spec.type === 'string[]'
        ? [...((out[key] as string[]) ?? []), text]
        : spec.type === 'integer' || spec.type === 'number'
          ? Number(text)
          : spec.type === 'boolean'
            ? text === 'true'
            : text;
    const wrong = checkValue(spec, value);
    if (wrong) throw new UsageError(`--slurm ${key}: ${wrong}`);
    out[key] = value;
  }
  return out;
}

async function evaluateOnSlurm(job: EvaluateJob, overrides: Record<string, unknown>, quiet: boolean): Promise<number> {
  // Ctrl-C stops following and leaves the job to run (scancel stops it), as for `taia train`.
  const interrupt = ctrlC();
  try {
    const ended = await evaluateAsSlurmJob(job, slurmSettings(overrides), cliLaunch(), {
      pollMs: POLL_MS,
      submitted: (s) =>
        process.stderr.write(`submitted Slurm job ${s.jobId} (script: ${s.script}; output: ${s.output})\n`),
      state: (line) => quiet || process.stderr.write(`${line}\n`),
      cancelled: () => false,
      left: interrupt.pressed,
    });
    if (ended.state === 'left') {
      process.stderr.write(`taia: stopped following; job ${ended.jobId} goes on (its output: ${ended.output})\n`);
      return 1;
    }
    if (ended.state !== 'done') {
      process.stderr.write(`taia: evaluation failed: ${ended.state === 'failed' ? ended.error : ended.state}\n`);
      return 1;
    }
  } catch (e) {
    if (!(e instanceof SlurmError)) throw e;
    process.stderr.write(`taia: ${e.message}\n`);
    return 1;
  } finally {
    interrupt.dispose();
  }
  printResults(JSON.parse(await readFile(job.out, 'utf-8')) as TaiaResultsFile, job.out);
  return 0;
}

function printResults(written: TaiaResultsFile, results: string): void {
  for (const [task, t] of Object.entries(written.tasks)) {
    const metrics = Object.entries(t.metrics).map(
      ([m, v]) => `${m} ${v.value.toFixed(4)} ± ${(v.stderr ?? 0).toFixed(4)}`,
    );
    process.stdout.write(`${task} (n=${t.n}): ${metrics.join(', ')}\n`);
  }
  process.stdout.write(`results: ${results}\n`);
}

/**
 * Runs one evaluation in the trainer child process with a progress line; Ctrl-C cancels it. Resolves
 * to the result file, or undefined when cancelled; throws with the trainer's reason when it fails.
 */
export async function evaluateWithProgress(
  job: EvaluateJob,
  quiet: boolean,
  label = 'eval',
): Promise<string | undefined> {
  const progress = new ProgressLine(label, quiet, String);
  let results: string | undefined;
  const handle = launchTrainer({
    script: path.join(__dirname, 'trainer.js'),
    job: { evaluate: job },
    onMessage: (m) => {
      if (m.type === 'evalProgress') progress.update(m.done, m.total, m.task);
      else if (m.type === 'log' && !quiet) {
        progress.done();
        process.stderr.write(`${m.message}\n`);
      } else if (m.type === 'done') results = m.results;
    },
  });
  const onSignal = () => handle.cancel();
  process.on('SIGINT', onSignal);
  try {
    const outcome = await handle.outcome;
    progress.done();
    if (outcome.state === 'failed') throw new EvaluationFailed(outcome.error ?? 'unknown reason');
    return outcome.state === 'cancelled' ? undefined : results;
  } finally {
    process.off('SIGINT', onSignal);
  }
}

export class EvaluationFailed extends Error {}

async function evaluateInTerminal(job: EvaluateJob, quiet: boolean): Promise<number> {
  let results: string | undefined;
  try {
    results = await evaluateWithProgress(job, quiet);
  } catch (e) {
    if (!(e instanceof EvaluationFailed)) throw e;
    process.stderr.write(`taia: evaluation failed: ${e.message}\n`);
    return 1;
  }
  if (!results) {
    process.stderr.write('taia: evaluation cancelled; nothing was written\n');
    return 130;
  }
  printResults(JSON.parse(await readFile(results, 'utf-8')) as TaiaResultsFile, results);
  return 0;
}
