import { realpath } from 'node:fs/promises';
import * as path from 'node:path';
import { Classifier } from '../classify/classify';
import { Block, BLOCKS, TensorClass } from '../classify/types';
import { CheckpointWeights, exists, WeightRef } from '../checkpoint/weights';
import { isDirectory } from '../checkpoint/discover';
import { checkSameShape, closePair, matchTensors, openPair, sameShape } from '../checkpoint/pair';
import { CheckpointError, OptionError, OutputExistsError } from '../errors';
import { Dtype, FloatDtype, isFloatDtype, byteLength } from '../safetensors/dtypes';
import { checkRealInside, isRegularFile } from '../util/files';
import { CONFIG_FILES, TOKENIZER_FILES } from '../checkpoint/files';
import { expectedTargetShape, LoraAdapter, LoraModule } from '../lora/adapter';
import { DEFAULT_MAX_SHARD_BYTES } from './defaults';
import { Recipe, Source, sourceWithinLayers } from './recipes';
import { recoverOutput } from './recover';

export type OutputDtype = 'keep' | 'bf16' | 'f16' | 'f32';

export interface MergeOptions {
  base: string;
  finetuned: string;
  out: string;
  recipe: Recipe;
  /** base + scale·(finetuned − base) on tensors taken from the fine-tune; 1 = take them as they are. */
  scale?: number;
  /** Inclusive layer range: layer tensors outside it come from base whatever the recipe says. */
  layers?: [number, number];
  dtype?: OutputDtype;
  maxShardBytes?: number;
  /** Replace an existing output folder. */
  force?: boolean;
  /** Folders of architecture files to use in front of the bundled ones; default: the nearest `.taia/architectures` above base. */
  architectureDirs?: string[];
  /** Write even when unknown tensors look like layer weights (they follow the recipe's default). */
  allowUnknown?: boolean;
  /** Only plan: what dead merges left beside the output is reported, not recovered. */
  dryRun?: boolean;
}

/**
 * How a tensor is produced: copied as stored, converted to another float dtype, interpolated between
 * base and fine-tune, a LoRA delta folded into the base tensor, or an adapter's stored replacement.
 */
export type Operation = 'copy' | 'convert' | 'scale' | 'lora' | 'replace';

export interface PlannedTensor {
  name: string;
  cls: TensorClass;
  source: Source;
  op: Operation;
  shape: number[];
  dtype: Dtype;
  /** The bytes the output starts from: base or fine-tuned tensor (or the adapter's replacement). */
  from: WeightRef;
  /** With op 'scale': the base tensor to interpolate from. */
  base?: WeightRef;
  /** With op 'lora': the delta to add to `from`, as a weight (`module`) or as lora_B.bias (`biasOf`). */
  lora?: { module: LoraModule; part: 'weight' | 'bias' };
}

export interface BlockCount {
  base: number;
  finetuned: number;
}

export interface MergePlan {
  options: Required<Omit<MergeOptions, 'layers' | 'architectureDirs' | 'dryRun'>> & Pick<MergeOptions, 'layers'>;
  finetunedKind: 'model' | 'adapter';
  family?: string;
  tensors: PlannedTensor[];
  counts: Record<Block, BlockCount>;
  /** Tensor names no architecture rule knows; they follow the recipe's default, and are reported. */
  unknown: string[];
  /** Things a user should know (tied head omitted, LoRA modules skipped, ...). */
  notes: string[];
  /** The architecture files whose rules classified at least one tensor. */
  architectureFiles: string[];
  outputBytes: number;
  /** Folder whose config.json the output gets; tokenizer files come from `tokenizerSource`. */
  configSource: string;
  tokenizerSource: string;
  /** Config and tokenizer files the output gets, checked while planning so a dry run refuses what the merge would. */
  smallFiles: string[];
  /** Open inputs; `closeInputs` releases them. */
  inputs: { base: CheckpointWeights; finetuned?: CheckpointWeights; adapter?: LoraAdapter };
}

const DTYPE_OF: Record<Exclude<OutputDtype, 'keep'>, FloatDtype> = { bf16: 'BF16', f16: 'F16', f32: 'F32' };

export async function closeInputs(plan: Pick<MergePlan, 'inputs'>): Promise<void> {
  await closePair(plan.inputs);
}

/** Checks the output is not one of the inputs (or inside one, or containing one). */
async function checkOutputPath(opts: MergeOptions): Promise<void> {
  const real = async (p: string) => realpath(p).catch(() => path.resolve(p));
  const out = await real(opts.out);
  for (const input of [opts.base, opts.finetuned]) {
    const inp = await real(input);
    const rel = path.relative(inp, out);
    const back = path.relative(out, inp);
    if (rel === '' || !rel.startsWith('..') || !back.startsWith('..')) {
      throw new CheckpointError(
        opts.out,
        `output folder must not be, contain or lie inside an input (${input}): inputs are never modified`,
      );
    }
  }
}

/**
 * Resolves inputs and decides, for every tensor, where it comes from and how it is made. Reads only
 * headers and small JSON files. This is also the dry run, and what a virtual merge reads.
 */
export async function planMerge(opts: MergeOptions, mode: { virtual?: boolean } = {}): Promise<MergePlan> {
  // A virtual merge (virtual.ts) is read in memory and has no output folder to check.
  if (!mode.virtual) await checkOutputPath(opts);
  const { architectureDirs, dryRun, ...rest } = opts;
  const options = {
    scale: 1,
    dtype: 'keep' as OutputDtype,
    maxShardBytes: DEFAULT_MAX_SHARD_BYTES,
    force: false,
    allowUnknown: false,
    ...rest,
  };
  if (!Number.isFinite(options.scale))
    throw new OptionError('scale', 'scale', `must be a finite number, got ${options.scale}`);
  for (const dir of [opts.base, opts.finetuned])
    if (!(await isDirectory(dir))) throw new CheckpointError(dir, 'no such folder');
  const recovered = mode.virtual ? [] : await recoverOutput(opts.out, dryRun);
  // Checked again just before writing; failing here keeps a dry run honest about the real run.
  if (!mode.virtual && !options.force && (await exists(opts.out))) throw new OutputExistsError(opts.out, recovered);
  const pair = await openPair(opts.base, opts.finetuned, { architectureDirs, requireModelBase: true });
  const { classifier, family, base, adapter, finetuned } = pair;
  const ctx: PlanContext = { options, classifier, family, notes: recovered, base, finetuned, adapter };
  try {
    if (adapter)
      return await withSmallFiles(finish(ctx, 'adapter', planAdapter(ctx, adapter), opts.base, opts.finetuned));
    const tied = tiedHead(pair.baseConfig) && tiedHead(pair.finetunedConfig!);
    return await withSmallFiles(finish(ctx, 'model', planFull(ctx, finetuned!, tied), opts.finetuned, opts.finetuned));
  } catch (e) {
    await closeInputs({ inputs: ctx });
    throw e;
  }
}

interface PlanContext {
  options: MergePlan['options'];
  classifier: Classifier;
  family?: string;
  notes: string[];
  base: CheckpointWeights;
  finetuned?: CheckpointWeights;
  adapter?: LoraAdapter;
}

/**
 * The small files a loadable model folder needs besides its weights: config from `configSource`,
 * tokenizer files from `tokenizerSource` when it has a tokenizer, each from base when missing there.
 */
async function withSmallFiles(plan: MergePlan): Promise<MergePlan> {
  const base = plan.options.base;
  const hasTokenizer = await Promise.all(
    ['tokenizer.json', 'tokenizer_config.json', 'tokenizer.model'].map((f) =>
      exists(path.join(plan.tokenizerSource, f)),
    ),
  );
  const tokenizerDir = hasTokenizer.some(Boolean) ? plan.tokenizerSource : base;
  for (const [files, dir] of [
    [CONFIG_FILES, plan.configSource],
    [TOKENIZER_FILES, tokenizerDir],
  ] as const) {
    for (const f of files) {
      const src = (await copyable(dir, f)) ?? (dir !== base ? await copyable(base, f) : undefined);
      if (src) plan.smallFiles.push(src);
    }
  }
  return plan;
}

/** `dir/name` when it is there to copy: a regular file whose real location is inside `dir` (else refused). */
async function copyable(dir: string, name: string): Promise<string | undefined> {
  const file = path.join(dir, name);
  if (!(await isRegularFile(file))) return undefined;
  await checkRealInside(dir, file, file);
  return file;
}

function finish(
  ctx: PlanContext,
  kind: 'model' | 'adapter',
  tensors: PlannedTensor[],
  configSource: string,
  tokenizerSource: string,
): MergePlan {
  checkLayerRange(ctx, tensors);
  checkRecipeFits(ctx, tensors);
  const counts = Object.fromEntries(BLOCKS.map((b) => [b, { base: 0, finetuned: 0 }])) as Record<Block, BlockCount>;
  for (const t of tensors) counts[t.cls.block][t.source]++;
  const towers = tensors.filter((t) => t.cls.tower !== undefined && t.cls.block !== 'ffn');
  if (towers.length > 0) {
    ctx.notes.push(
      `${towers.length} tensor(s) of the ${[...new Set(towers.map((t) => t.cls.tower))].join(', ')} tower follow the recipe's default ('${ctx.options.recipe.default}'): the recipe's blocks are the language model's`,
    );
  }
  const paper = tensors.filter((t) => t.cls.byPaperRule);
  if (paper.length > 0)
    ctx.notes.push(
      `${paper.length} tensor(s) are FFN by the paper's rule alone (gate_proj/up_proj/down_proj in the name), e.g. ${paper[0].name}`,
    );
  const families = new Set(tensors.map((t) => t.cls.family).filter((f) => f !== undefined));
  const files = ctx.classifier.families.filter((f) => families.has(f.name)).map((f) => f.file);
  return {
    options: ctx.options,
    finetunedKind: kind,
    family: ctx.family,
    tensors,
    counts,
    unknown: tensors.filter((t) => !t.cls.known).map((t) => t.name),
    notes: ctx.notes,
    architectureFiles: [...new Set(files)],
    outputBytes: tensors.reduce((n, t) => n + (byteLength(t.dtype, t.shape) ?? 0), 0),
    configSource,
    tokenizerSource,
    smallFiles: [],
    inputs: { base: ctx.base, finetuned: ctx.finetuned, adapter: ctx.adapter },
  };
}

/** A layer range that selects no layer of the model is an error; one that runs past its end, a note. */
function checkLayerRange(ctx: PlanContext, tensors: PlannedTensor[]): void {
  const range = ctx.options.layers;
  // A loop, not Math.max(...): a spread of 200,000 tensors overflows the stack.
  const last = tensors.reduce((n, t) => Math.max(n, t.cls.layer ?? -1), -1);
  if (!range || last < 0) return;
  if (range[0] > last)
    throw new OptionError(
      'layers',
      'layer range',
      `${range[0]}-${range[1]} selects no layer: the model's layers are 0-${last}`,
    );
  if (range[1] > last)
    ctx.notes.push(
      `layer range ${range[0]}-${range[1]} reaches past the last layer (${last}): layers ${range[0]}-${last} come from the fine-tune`,
    );
}

/** Unknown tensors that look like layer weights stopped a merge; allowing unknown tensors goes on. */
export class UnknownTensorsError extends CheckpointError {
  constructor(
    file: string,
    problem: string,
    readonly names: string[],
  ) {
    super(file, problem);
    this.name = 'UnknownTensorsError';
  }
}

const SHOWN = 5;
const listed = (names: string[]): string =>
  `${names.slice(0, SHOWN).join(', ')}${names.length > SHOWN ? `, ... (${names.length} in all)` : ''}`;

/**
 * A recipe that sends a block somewhere other than its default (taia reverts the FFN, taia-strict
 * takes attention, taif takes the FFN) would write a wrong model that looks right if the classifier
 * found none of that block, or left layer weights unrecognised (they would silently follow the
 * default). Both stop the merge, and the dry run, before anything is written.
 */
function checkRecipeFits(ctx: PlanContext, tensors: PlannedTensor[]): void {
  const { recipe, allowUnknown } = ctx.options;
  const blocks = new Set(recipe.rules.filter((r) => r.source !== recipe.default).flatMap((r) => r.block ?? []));
  if (blocks.size === 0) return;
  const ways = `add an architecture file for this model (.taia/architectures/*.json, see README), or a recipe rule by tensor name`;
  for (const b of blocks) {
    if (tensors.some((t) => t.cls.block === b)) continue;
    // Every transformer has attention and an FFN: finding none means the classifier did not know the model.
    // A model may well have no router or no separate head.
    if (b !== 'ffn' && b !== 'attention') {
      ctx.notes.push(`recipe '${recipe.name}' moves the ${b} block, which this model does not have`);
    } else {
      throw new CheckpointError(
        ctx.options.base,
        `recipe '${recipe.name}' moves the ${b} block, but no tensor of this model is classified ${b}${ctx.family ? ` (architecture '${ctx.family}')` : ' (no architecture file knows its config.json)'}: the output would be wrong; ${ways}`,
      );
    }
  }
  if (allowUnknown) return;
  const layerLike = tensors
    .filter((t) => !t.cls.known && t.shape.length === 2 && /\.\d+\./.test(t.name))
    .map((t) => t.name);
  if (layerLike.length > 0) {
    throw new UnknownTensorsError(
      ctx.options.base,
      `recipe '${recipe.name}' moves blocks, but ${layerLike.length} tensor(s) that look like layer weights are not recognised and would follow the default ('${recipe.default}'): ${listed(layerLike)}; ${ways}, or allow unknown tensors to go on`,
      layerLike,
    );
  }
}

/** transformers' PretrainedConfig defaults tie_word_embeddings to true. */
function tiedHead(config: Record<string, unknown>): boolean {
  return config.tie_word_embeddings !== false;
}

function sourceOf(ctx: PlanContext, cls: TensorClass, name: string): Source {
  return sourceWithinLayers(ctx.options.recipe, ctx.options.layers, cls, name);
}

function outDtype(ctx: PlanContext, stored: Dtype): Dtype {
  const d = ctx.options.dtype;
  return d === 'keep' || !isFloatDtype(stored) ? stored : DTYPE_OF[d];
}

function planFull(ctx: PlanContext, ft: CheckpointWeights, tied: boolean): PlannedTensor[] {
  const { base, options } = ctx;
  const { both, onlyInBase, onlyInFinetuned } = matchTensors([...base.byName.values()], ft);
  const oneSided = [
    ...onlyInBase.map((have) => ({ have, inBase: true })),
    ...onlyInFinetuned.map((have) => ({ have, inBase: false })),
  ];
  for (const { have, inBase } of oneSided) {
    const name = have.info.name;
    if (ctx.classifier.classify(name, ctx.family).block === 'head' && tied) {
      ctx.notes.push(
        `${name} is stored only in ${inBase ? 'base' : 'the fine-tune'}; embeddings are tied, so the output omits it and transformers re-ties it on load`,
      );
      continue;
    }
    throw new CheckpointError(
      have.file.path,
      `present here but missing in the ${inBase ? 'fine-tuned' : 'base'} checkpoint`,
      name,
    );
  }
  const plan: PlannedTensor[] = [];
  for (const [b, f] of both) {
    const name = b.info.name;
    const cls = ctx.classifier.classify(name, ctx.family);
    checkSameShape(b, f);
    const floats = isFloatDtype(b.info.dtype) && isFloatDtype(f.info.dtype);
    if (!floats && b.info.dtype !== f.info.dtype) {
      throw new CheckpointError(
        f.file.path,
        `dtype ${f.info.dtype} differs from base ${b.info.dtype} in ${b.file.path}`,
        name,
      );
    }
    const source = sourceOf(ctx, cls, name);
    const from = source === 'base' ? b : f;
    const dtype = outDtype(ctx, from.info.dtype);
    if (source === 'finetuned' && options.scale !== 1 && floats) {
      plan.push({ name, cls, source, op: 'scale', shape: b.info.shape, dtype, from: f, base: b });
    } else {
      plan.push({
        name,
        cls,
        source,
        op: dtype === from.info.dtype ? 'copy' : 'convert',
        shape: b.info.shape,
        dtype,
        from,
      });
    }
  }
  if (options.scale !== 1 && plan.some((t) => t.source === 'finetuned' && t.op !== 'scale')) {
    ctx.notes.push(
      'non-float tensors from the fine-tune are copied as they are: the scale applies to float tensors only',
    );
  }
  return plan;
}

function planAdapter(ctx: PlanContext, adapter: LoraAdapter): PlannedTensor[] {
  const { base } = ctx;
  const byTarget = new Map<string, { module: LoraModule; part: 'weight' | 'bias' }>();
  for (const m of adapter.modules) {
    const target = base.get(m.target);
    if (!target)
      throw new CheckpointError(
        m.a.file.path,
        `LoRA module targets '${m.target}', which the base checkpoint does not have`,
        m.module,
      );
    const want = expectedTargetShape(m);
    if (!sameShape(target.info.shape, want)) {
      throw new CheckpointError(
        m.a.file.path,
        `LoRA delta has shape ${JSON.stringify(want)} but base '${m.target}' is ${JSON.stringify(target.info.shape)}${m.transpose ? '' : ' (is fan_in_fan_out wrong?)'}`,
        m.module,
      );
    }
    if (!isFloatDtype(target.info.dtype))
      throw new CheckpointError(target.file.path, `LoRA cannot be folded into a ${target.info.dtype} tensor`, m.target);
    byTarget.set(m.target, { module: m, part: 'weight' });
    if (m.bias) {
      const biasName = `${m.module}.bias`;
      const bias = base.get(biasName);
      if (!bias)
        throw new CheckpointError(
          m.bias.file.path,
          `lora_B.bias needs base tensor '${biasName}', which is missing`,
          m.module,
        );
      byTarget.set(biasName, { module: m, part: 'bias' });
    }
  }
  for (const [name, ref] of adapter.replacements) {
    const b = base.get(name);
    if (!b)
      throw new CheckpointError(
        ref.file.path,
        `stored module tensor has no counterpart '${name}' in the base checkpoint`,
        ref.info.name,
      );
    if (!sameShape(b.info.shape, ref.info.shape))
      throw new CheckpointError(
        ref.file.path,
        `shape ${JSON.stringify(ref.info.shape)} differs from base ${JSON.stringify(b.info.shape)}`,
        ref.info.name,
      );
  }
  const skipped = new Set<string>();
  const plan: PlannedTensor[] = [];
  for (const { info, file } of base.tensors) {
    const name = info.name;
    const cls = ctx.classifier.classify(name, ctx.family);
    const lora = byTarget.get(name);
    const replacement = adapter.replacements.get(name);
    const changed = lora !== undefined || replacement !== undefined;
    const source = changed ? sourceOf(ctx, cls, name) : 'base';
    if (changed && source === 'base') skipped.add(lora ? lora.module.module.split('.').pop()! : name);
    const b = { info, file };
    if (source === 'finetuned' && replacement) {
      plan.push({
        name,
        cls,
        source,
        op: ctx.options.scale !== 1 && isFloatDtype(info.dtype) ? 'scale' : 'replace',
        shape: info.shape,
        dtype: outDtype(ctx, replacement.info.dtype),
        from: replacement,
        base: b,
      });
    } else if (source === 'finetuned' && lora) {
      plan.push({ name, cls, source, op: 'lora', shape: info.shape, dtype: outDtype(ctx, info.dtype), from: b, lora });
    } else {
      const dtype = outDtype(ctx, info.dtype);
      plan.push({
        name,
        cls,
        source: changed ? source : 'base',
        op: dtype === info.dtype ? 'copy' : 'convert',
        shape: info.shape,
        dtype,
        from: b,
      });
    }
  }
  if (skipped.size > 0)
    ctx.notes.push(`not applied under recipe '${ctx.options.recipe.name}': ${[...skipped].sort().join(', ')}`);
  return plan;
}
