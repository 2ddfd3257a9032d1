import { parseArgs } from 'node:util';
import { executeMerge } from '../core/merge/execute';
import { closeInputs, MergePlan, OutputDtype, planMerge } from '../core/merge/plan';
import { BUILTIN_RECIPE_NAMES, loadRecipe } from '../core/merge/recipes';
import { scaleAndLayers } from './variantArgs';
import { BLOCKS } from '../core/classify/types';
import { findArchitectureDir } from '../core/classify/classify';
import { formatBytes, parseSize } from '../core/util/size';
import { terminalSafe } from '../core/util/format';
import { DEFAULT_MAX_SHARD_SIZE, DEFAULT_RECIPE } from '../core/merge/defaults';
import { outputLine, summarizePlan, summaryLines } from '../core/merge/summary';
import { tensorRecord } from '../core/merge/provenance';
import { ProgressLine } from './progress';
import { withCancellation } from './signals';
import { Command, UsageError } from './usage';

const DTYPES: readonly OutputDtype[] = ['keep', 'bf16', 'f16', 'f32'];

export const mergeCommand: Command = {
  name: 'merge',
  summary: 'write a TAIA (or other recipe) merge of a base model and its fine-tune or LoRA adapter',
  usage: `taia merge --base DIR --finetuned DIR --out DIR [--recipe R] [--scale F] [--layers A-B]
           [--dtype keep|bf16|f16|f32] [--max-shard-size SIZE] [--architectures DIR] [--allow-unknown]
           [--dry-run] [--json] [--force] [--quiet]

  --finetuned      a full fine-tuned model folder or a PEFT LoRA adapter folder
  --recipe R       ${BUILTIN_RECIPE_NAMES.join(' | ')} (default taia), or a YAML/JSON recipe file;
                   'taia recipes' explains each
  --scale F        base + F*(finetuned - base) on the tensors taken from the fine-tune (default 1)
  --layers A-B     take the fine-tune only in layers A..B (inclusive); other layers come from base
  --dtype D        output dtype of float tensors (default keep: each tensor's stored dtype)
  --max-shard-size maximum bytes of tensor data per shard, e.g. 5GB (default), 500MB, 2GiB
  --architectures  a folder of architecture files (*.json) used before the built-in ones (default: the
                   nearest .taia/architectures above the base model, else above the current folder)
  --allow-unknown  write even when unrecognised tensors look like layer weights (they follow the
                   recipe's default); without it such a merge stops and lists them
  --dry-run        print the plan (source and operation of every tensor, counts per block); write nothing
  --json           with --dry-run: the plan as JSON; otherwise the result as JSON
  --force          replace an existing output folder
  --quiet          no plan headline and no progress line`,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        base: { type: 'string' },
        finetuned: { type: 'string' },
        out: { type: 'string' },
        recipe: { type: 'string', default: DEFAULT_RECIPE },
        scale: { type: 'string' },
        layers: { type: 'string' },
        dtype: { type: 'string', default: 'keep' },
        'max-shard-size': { type: 'string', default: DEFAULT_MAX_SHARD_SIZE },
        architectures: { type: 'string' },
        'allow-unknown': { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        json: { type: 'boolean' },
        force: { type: 'boolean' },
        quiet: { type: 'boolean' },
      },
    });
    for (const k of ['base', 'finetuned', 'out'] as const) if (!values[k]) throw new UsageError(`--${k} is required`);
    if (!values.recipe!.trim())
      throw new UsageError(
        `--recipe needs a built-in recipe's name (${BUILTIN_RECIPE_NAMES.join(', ')}) or a recipe file`,
      );
    if (!DTYPES.includes(values.dtype as OutputDtype))
      throw new UsageError(`--dtype must be one of ${DTYPES.join(', ')}`);
    const { scale = 1, layers } = scaleAndLayers(values);
    let maxShardBytes: number;
    try {
      maxShardBytes = parseSize(values['max-shard-size']!);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const plan = await planMerge({
      base: values.base!,
      finetuned: values.finetuned!,
      out: values.out!,
      recipe: await loadRecipe(values.recipe!),
      scale,
      layers,
      dtype: values.dtype as OutputDtype,
      maxShardBytes,
      force: values.force === true,
      allowUnknown: values['allow-unknown'] === true,
      architectureDirs: await architectureDirs(values.base!, values.architectures),
      dryRun: values['dry-run'] === true,
    });
    if (values['dry-run']) {
      await closeInputs(plan);
      process.stdout.write(
        values.json ? JSON.stringify(planToJson(plan), null, 2) + '\n' : terminalSafe(formatPlan(plan)),
      );
      return 0;
    }
    if (!values.quiet && !values.json)
      process.stderr.write(summaryLines(summarizePlan(plan)).map(terminalSafe).join('\n') + '\n');
    const bar = new ProgressLine('merging', values.quiet || values.json);
    try {
      const result = await withCancellation((signal) =>
        executeMerge(plan, (p) => bar.update(p.bytesDone, p.bytesTotal, p.tensor), signal),
      );
      bar.done();
      if (values.json) {
        process.stdout.write(
          JSON.stringify({ ...result, peakRssBytes: process.resourceUsage().maxRSS * 1024 }, null, 2) + '\n',
        );
      } else {
        const gflops =
          result.loraSeconds > 0
            ? `, LoRA folding ${(result.loraFlops / result.loraSeconds / 1e9).toFixed(2)} GFLOP/s on the ${result.loraKernel} kernel`
            : '';
        process.stdout.write(
          `wrote ${result.out} (${formatBytes(result.bytes)} in ${result.files.filter((f) => f.endsWith('.safetensors')).length} weight file(s), ${result.seconds.toFixed(2)} s, ${formatBytes(result.bytes / result.seconds)}/s${gflops})\n`,
        );
      }
      return 0;
    } finally {
      bar.done();
    }
  },
};

/** The folder given, else the nearest .taia/architectures above base, else above the current folder. */
async function architectureDirs(base: string, given: string | undefined): Promise<string[]> {
  if (given !== undefined) return [given];
  const found = (await findArchitectureDir(base)) ?? (await findArchitectureDir(process.cwd()));
  return found ? [found] : [];
}

function formatPlan(plan: MergePlan): string {
  const lines = plan.tensors.map((t) => {
    const where = t.cls.layer === null ? '-' : String(t.cls.layer);
    return `${t.source.padEnd(9)} ${t.op.padEnd(7)} ${t.dtype.padEnd(5)} ${t.cls.block.padEnd(9)} ${where.padStart(3)} ${t.name}${t.cls.known ? '' : '  (unknown name)'}`;
  });
  const counts = BLOCKS.filter((b) => plan.counts[b].base + plan.counts[b].finetuned > 0).map(
    (b) =>
      `  ${b.padEnd(10)} from fine-tune ${String(plan.counts[b].finetuned).padStart(5)}   from base ${String(plan.counts[b].base).padStart(5)}`,
  );
  return [
    `source    op      dtype block     lay tensor`,
    ...lines,
    '',
    ...summaryLines(summarizePlan(plan)),
    'counts per block:',
    ...counts,
    `${outputLine(summarizePlan(plan))} (dry run: nothing written)`,
    '',
  ].join('\n');
}

function planToJson(plan: MergePlan): unknown {
  const o = plan.options;
  return {
    base: o.base,
    finetuned: o.finetuned,
    finetunedKind: plan.finetunedKind,
    out: o.out,
    recipe: o.recipe.name,
    scale: o.scale,
    layers: o.layers ?? null,
    dtype: o.dtype,
    family: plan.family ?? null,
    architectureFiles: plan.architectureFiles,
    counts: plan.counts,
    notes: plan.notes,
    unknown: plan.unknown,
    outputBytes: plan.outputBytes,
    tensors: plan.tensors.map((t) => ({ ...tensorRecord(t), shape: t.shape })),
  };
}
