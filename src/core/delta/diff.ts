import * as path from 'node:path';
import { loadClassifier } from '../classify/classify';
import { Block, BLOCKS, TensorClass } from '../classify/types';
import { CheckpointWeights, WeightRef } from '../checkpoint/weights';
import { detectCheckpointKind, PROVENANCE_FILE } from '../checkpoint/discover';
import { exists } from '../checkpoint/weights';
import { readProvenance } from '../merge/provenance';
import { storedWidth } from '../checkpoint/chunks';
import { CheckpointError, throwIfAborted } from '../errors';
import { toFloat32 } from '../safetensors/convert';
import { alignedBuffer } from '../safetensors/reader';
import { elementCount, FloatDtype, isFloatDtype } from '../safetensors/dtypes';
import { readJsonObject } from '../util/json';
import { startJob } from '../util/worker';
import { openLoraAdapter, LoraAdapter } from '../lora/adapter';
import { addDeltaRows, loraFactors, LoraFactors } from '../lora/fold';
import { recipeSource, Recipe } from '../merge/recipes';
import { DeltaAccumulator, DeltaStats } from './stats';
import { wasmKernel, WasmDeltaKernel } from './kernel';
import { SPECTRUM_METHOD, SpectrumEstimator } from './spectrum';

/** Version of the JSON report; bumped on any incompatible change (see README, "taia diff --json"). */
export const DIFF_REPORT_VERSION = 1;

const CHUNK = 4 * 2 ** 20;

export interface DiffOptions {
  base: string;
  /** A full fine-tuned model, or a PEFT LoRA adapter (its folded delta is compared). */
  finetuned: string;
  /** A merged output to check against both (three-way form). */
  merged?: string;
  /** Top-K singular values of Δ for 2-D tensors; 0 or absent for none. */
  spectrum?: number;
  signal?: AbortSignal;
  onProgress?: (p: { tensor: string; index: number; count: number; bytesDone: number; bytesTotal: number }) => void;
  /** Called with each tensor's result as soon as it is computed (the review webview fills in progressively). */
  onTensor?: (t: TensorDelta) => void;
  /**
   * Spread tensors over worker threads running `script` (a build of ./partWorker): the statistics are
   * compute-bound when the page cache holds the files, and more reads are in flight when it does not
   * (2.6 GB pair from disk: 1.8 s with two threads, 2.6-3.9 s with one). Without it, everything runs
   * on this thread.
   */
  parallel?: { workers: number; script: string };
  /** Compute only these tensors (how a part worker gets its share). */
  only?: readonly string[];
}

/** workerData.role of a part worker. */
export const DIFF_PART_ROLE = 'taia-diff-part';

/** Messages from a part worker to the thread that spread the work. */
/** What a part worker is given: its share of the tensors, by name. */
export interface PartRequest {
  role: typeof DIFF_PART_ROLE;
  options: Pick<DiffOptions, 'base' | 'finetuned' | 'merged' | 'spectrum' | 'only'>;
}

export type MergedSource = 'base' | 'finetuned' | 'neither';

export interface TensorDelta extends DeltaStats {
  name: string;
  layer: number | null;
  block: Block;
  module: string;
  expert?: number;
  known: boolean;
  shape: number[];
  dtype: { base: string; finetuned: string };
  /** Top-K singular values of Δ (2-D tensors, with --spectrum). */
  spectrum?: number[];
  /** Three-way form: which input the merged tensor equals, and which the merge's recipe says it should. */
  merged?: { source: MergedSource; expected?: 'base' | 'finetuned' };
}

export interface BlockTotals {
  tensors: number;
  changedTensors: number;
  parameters: number;
  normBase: number;
  normDelta: number;
  relative: number;
}

export interface ThreeWay {
  merged: string;
  recipe?: string;
  /** Tensors whose merged value is not where the recipe says it should come from. */
  violations: { name: string; expected: 'base' | 'finetuned'; actual: MergedSource }[];
  /** Merged tensors per block that equal base / fine-tune / neither. */
  sources: Record<Block, Record<MergedSource, number>>;
  verdict: string;
  /** True when the output was checked against its recorded recipe and something is wrong. */
  failed: boolean;
}

export interface DiffReport {
  version: number;
  base: string;
  finetuned: string;
  finetunedKind: 'model' | 'adapter';
  family?: string;
  layers: number;
  spectrumMethod?: string;
  tensors: TensorDelta[];
  blocks: Record<Block, BlockTotals>;
  /** Tensors present on one side only (compared against nothing, listed instead). */
  onlyInBase: string[];
  onlyInFinetuned: string[];
  threeWay?: ThreeWay;
  bytesRead: number;
  seconds: number;
}

interface Pair {
  name: string;
  cls: TensorClass;
  base: WeightRef;
  finetuned?: WeightRef;
  lora?: LoraFactors;
  merged?: WeightRef;
}

/**
 * Streams base and fine-tune (and a merged output) tensor by tensor, in row blocks, computing the
 * statistics of Δ per tensor; with `spectrum`, 2-D tensors get a second streamed pass for the
 * singular values. Memory stays bounded by the chunk size, whatever the model size.
 */
export async function diffCheckpoints(opts: DiffOptions): Promise<DiffReport> {
  const started = performance.now();
  const baseConfig = await readJsonObject(path.join(opts.base, 'config.json'));
  const classifier = await loadClassifier({ near: opts.base });
  const family = classifier.familyForConfig(baseConfig)?.name;
  const base = await CheckpointWeights.open(opts.base);
  const kind = await detectCheckpointKind(opts.finetuned);
  let ft: CheckpointWeights | undefined;
  let adapter: LoraAdapter | undefined;
  let merged: CheckpointWeights | undefined;
  try {
    if (kind === 'adapter') adapter = await openLoraAdapter(opts.finetuned);
    else if (kind) ft = await CheckpointWeights.open(opts.finetuned);
    else throw new CheckpointError(opts.finetuned, 'not a model folder or a PEFT LoRA adapter');
    if (opts.merged) merged = await CheckpointWeights.open(opts.merged);
    const recipe = opts.merged ? await mergedRecipe(opts.merged) : undefined;
    const pairs: Pair[] = [];
    const onlyInBase: string[] = [];
    const onlyInFinetuned: string[] = [];
    for (const { info, file } of base.tensors) {
      const cls = classifier.classify(info.name, family);
      const pair: Pair = { name: info.name, cls, base: { info, file }, merged: merged?.get(info.name) };
      if (ft) {
        pair.finetuned = ft.get(info.name);
        if (!pair.finetuned) {
          onlyInBase.push(info.name);
          continue;
        }
        if (pair.finetuned.info.shape.join() !== info.shape.join()) throw new CheckpointError(pair.finetuned.file.path, `shape ${JSON.stringify(pair.finetuned.info.shape)} differs from base ${JSON.stringify(info.shape)}`, info.name);
      } else if (adapter) {
        const m = adapter.modules.find((x) => x.target === info.name);
        if (m) pair.lora = await loraFactors(m);
        pair.finetuned = adapter.replacements.get(info.name) ?? { info, file };
      }
      if (!isFloatDtype(info.dtype) || !isFloatDtype(pair.finetuned!.info.dtype)) continue;
      pairs.push(pair);
    }
    if (ft) for (const name of ft.byName.keys()) if (!base.byName.has(name)) onlyInFinetuned.push(name);
    if (opts.only) {
      const only = new Set(opts.only);
      pairs.splice(0, pairs.length, ...pairs.filter((p) => only.has(p.name)));
    }
    const bytesTotal = pairs.reduce((n, p) => n + bytesOf(p), 0);
    let bytesDone = 0;
    let index = 0;
    const results = new Map<string, TensorDelta>();
    const sizes = new Map(pairs.map((p) => [p.name, bytesOf(p)]));
    const record = (t: TensorDelta) => {
      results.set(t.name, t);
      bytesDone += sizes.get(t.name)!;
      opts.onTensor?.(t);
      opts.onProgress?.({ tensor: t.name, index: ++index, count: pairs.length, bytesDone, bytesTotal });
    };
    opts.onProgress?.({ tensor: '', index: 0, count: pairs.length, bytesDone, bytesTotal });
    const workers = Math.min(opts.parallel?.workers ?? 1, pairs.length);
    if (opts.parallel && workers > 1) {
      await inWorkers(opts, opts.parallel.script, balance(pairs, workers), record);
    } else {
      const readers: Readers = { base: new RowReader(), finetuned: new RowReader(), merged: new RowReader() };
      const kernel = wasmKernel();
      // Statistics only (no spectrum, merged output or adapter): one pipeline through the kernel.
      const piped = kernel && !opts.spectrum ? pairs.filter((p) => !p.merged && !p.lora) : [];
      if (piped.length) await kernelPipeline(piped, kernel!, opts.signal, record);
      for (const p of pairs) {
        if (piped.includes(p)) continue;
        throwIfAborted(opts.signal);
        record(await diffTensor(p, opts, recipe, readers));
      }
    }
    const tensors = pairs.map((p) => results.get(p.name)!);
    return {
      version: DIFF_REPORT_VERSION,
      base: path.resolve(opts.base),
      finetuned: path.resolve(opts.finetuned),
      finetunedKind: adapter ? 'adapter' : 'model',
      family,
      layers: tensors.reduce((m, t) => Math.max(m, (t.layer ?? -1) + 1), 0),
      spectrumMethod: opts.spectrum ? SPECTRUM_METHOD : undefined,
      tensors,
      blocks: blockTotals(tensors),
      onlyInBase,
      onlyInFinetuned,
      threeWay: opts.merged ? threeWay(path.resolve(opts.merged), recipe, tensors) : undefined,
      bytesRead: bytesDone * (opts.merged ? 3 : 2),
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await base.close();
    await ft?.close();
    await adapter?.weights.close();
    await merged?.close();
  }
}

function bytesOf(p: Pair): number {
  return p.base.info.end - p.base.info.begin;
}

/** Splits tensors into `n` shares of about equal bytes (largest first, each to the lightest share). */
function balance(pairs: Pair[], n: number): string[][] {
  const shares = Array.from({ length: n }, () => ({ bytes: 0, names: [] as string[] }));
  for (const p of [...pairs].sort((a, b) => bytesOf(b) - bytesOf(a))) {
    const lightest = shares.reduce((a, b) => (b.bytes < a.bytes ? b : a));
    lightest.bytes += bytesOf(p);
    lightest.names.push(p.name);
  }
  return shares.map((s) => s.names);
}

/** Runs each share in a worker thread; resolves when all finished, rejects on the first error or on cancel. */
async function inWorkers(opts: DiffOptions, script: string, shares: string[][], record: (t: TensorDelta) => void): Promise<void> {
  const base = { base: opts.base, finetuned: opts.finetuned, merged: opts.merged, spectrum: opts.spectrum };
  const jobs = shares.map((only) => startJob<PartRequest, TensorDelta, void>(script, { role: DIFF_PART_ROLE, options: { ...base, only } }, record, 'diff worker'));
  const cancel = () => jobs.forEach((j) => j.cancel());
  opts.signal?.addEventListener('abort', cancel);
  try {
    // The first failure stops the other parts; the error reported is the first one.
    const outcomes = await Promise.allSettled(jobs.map((j) =>
        j.result.catch((e: unknown) => {
          cancel();
          throw e;
        }),
      ),);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  } finally {
    opts.signal?.removeEventListener('abort', cancel);
  }
}

/** What a merged output's provenance records: the rules applied, the layer range, and each tensor's class. */
interface MergedRecord {
  recipe: Recipe;
  layers?: [number, number];
  classes: Map<string, Pick<TensorClass, 'layer' | 'block' | 'module'>>;
}

/** The rules a merged output was made with, read from its provenance file; undefined when it has none. */
async function mergedRecipe(dir: string): Promise<MergedRecord | undefined> {
  if (!(await exists(path.join(dir, PROVENANCE_FILE)))) return undefined;
  const p = await readProvenance(dir);
  const classes = new Map(p.tensors.map((t) => [t.name, { layer: t.layer, block: t.block, module: t.module }]));
  return { recipe: p.recipe, layers: p.layers ?? undefined, classes };
}

/** Views a tensor as [rows, cols] with cols its last dimension, for row-block streaming. */
function matrixShape(shape: number[]): [number, number] {
  const cols = shape.length === 0 ? 1 : Math.max(1, shape[shape.length - 1]);
  return [elementCount(shape) / cols, cols];
}

type Readers = Record<'base' | 'finetuned' | 'merged', RowReader>;

/** One tensor as float32 values: for the spectrum, a merged output's three-way check, an adapter's folded delta, and TAIA_DIFF_KERNEL=js. */
async function diffTensor(p: Pair, opts: DiffOptions, recipe: MergedRecord | undefined, readers: Readers): Promise<TensorDelta> {
  const shape = p.base.info.shape;
  const [rows, cols] = matrixShape(shape);
  const acc = new DeltaAccumulator(rows * cols);
  const spectrum = opts.spectrum && shape.length === 2 && rows > 1 && cols > 1 ? new SpectrumEstimator(rows, cols, opts.spectrum) : undefined;
  let equalsBase = p.merged !== undefined;
  let equalsFt = p.merged !== undefined;
  const blocks = rowBlocks(rows, cols);
  const pass = async (visit: (row0: number, b: Float32Array, f: Float32Array, m?: Float32Array) => void) => {
    for (const [row0, n] of blocks) {
      throwIfAborted(opts.signal);
      const [b, f, m] = await Promise.all([
        readers.base.read(p.base, row0, n, cols),
        p.lora ? undefined : readers.finetuned.read(p.finetuned!, row0, n, cols),
        p.merged ? readers.merged.read(p.merged, row0, n, cols) : undefined,
      ]);
      let fv = f;
      if (p.lora) {
        fv = Float32Array.from(b);
        addDeltaRows(fv, row0, p.lora);
      }
      visit(row0, b, fv!, m);
    }
  };
  await pass((row0, b, f, m) => {
    acc.add(b, f);
    if (spectrum) spectrum.addRowsPass1(row0, difference(f, b));
    if (m) {
      for (let i = 0; i < m.length && (equalsBase || equalsFt); i++) {
        if (equalsBase && !sameValue(m[i], b[i])) equalsBase = false;
        // A merged tensor may be rounded to its own dtype: "equal" to the fine-tune within bf16 rounding.
        if (equalsFt && !sameValue(m[i], f[i]) && !(Math.abs(m[i] - f[i]) <= Math.abs(f[i]) * 2 ** -8)) equalsFt = false;
      }
    }
  });
  if (spectrum) await pass((row0, b, f) => spectrum.addRowsPass2(row0, difference(f, b)));
  const t = tensorDelta(p, acc);
  if (spectrum) t.spectrum = spectrum.result();
  if (p.merged) {
    const source: MergedSource = equalsBase && !equalsFt ? 'base' : equalsFt ? 'finetuned' : 'neither';
    let expected: 'base' | 'finetuned' | undefined;
    if (recipe) {
      // The class the merge gave the tensor, so the check applies the recorded rules as the merge did.
      const cls = { ...p.cls, ...recipe.classes.get(p.name) };
      const outside = recipe.layers && cls.layer !== null && (cls.layer < recipe.layers[0] || cls.layer > recipe.layers[1]);
      expected = outside ? 'base' : recipeSource(recipe.recipe, cls, p.name);
    }
    // An unchanged tensor equals both inputs: whatever the recipe says, it is right.
    t.merged = { source: equalsBase && equalsFt ? (expected ?? 'finetuned') : source, expected };
  }
  return t;
}

/** A tensor's entry of the report from its accumulated statistics. */
function tensorDelta(p: Pair, acc: DeltaAccumulator): TensorDelta {
  return {
    name: p.name,
    layer: p.cls.layer,
    block: p.cls.block,
    module: p.cls.module,
    expert: p.cls.expert,
    known: p.cls.known,
    shape: p.base.info.shape,
    dtype: { base: p.base.info.dtype, finetuned: p.lora ? `${p.base.info.dtype}+LoRA` : p.finetuned!.info.dtype },
    ...acc.result(),
  };
}

/** Row blocks [row0, n] of a tensor viewed as [rows, cols], each at most CHUNK elements (or one row). */
function rowBlocks(rows: number, cols: number): (readonly [row0: number, n: number])[] {
  const rowsPerChunk = Math.max(1, Math.floor(CHUNK / cols));
  const blocks: (readonly [number, number])[] = [];
  for (let row0 = 0; row0 < rows; row0 += rowsPerChunk) blocks.push([row0, Math.min(rowsPerChunk, rows - row0)]);
  return blocks;
}

/**
 * The statistics of many tensors through the WebAssembly kernel as one pipeline: the stored bytes of
 * each chunk are read straight into the kernel's memory, and the next chunk, of this tensor or the next
 * one, is read (off this thread, by libuv) while the kernel works on the current one.
 */
async function kernelPipeline(pairs: Pair[], kernel: WasmDeltaKernel, signal: AbortSignal | undefined, record: (t: TensorDelta) => void): Promise<void> {
  const jobs: { pair: Pair; row0: number; n: number; cols: number; first: boolean; last: boolean }[] = [];
  let baseBytes = 0;
  let ftBytes = 0;
  for (const pair of pairs) {
    const [rows, cols] = matrixShape(pair.base.info.shape);
    const blocks = rowBlocks(rows, cols);
    blocks.forEach(([row0, n], k) => {
      jobs.push({ pair, row0, n, cols, first: k === 0, last: k === blocks.length - 1 });
      baseBytes = Math.max(baseBytes, n * cols * storedWidth(pair.base));
      ftBytes = Math.max(ftBytes, n * cols * storedWidth(pair.finetuned!));
    });
  }
  kernel.reserve(baseBytes, ftBytes);
  const read = (job: (typeof jobs)[number], slot: number) => {
    const [b, f] = kernel.inputs(slot, job.n * job.cols * storedWidth(job.pair.base), job.n * job.cols * storedWidth(job.pair.finetuned!));
    return Promise.all([readRows(job.pair.base, job.row0, job.n, job.cols, b), readRows(job.pair.finetuned!, job.row0, job.n, job.cols, f)]);
  };
  let acc: DeltaAccumulator | undefined;
  let reading = jobs.length ? read(jobs[0], 0) : undefined;
  for (let k = 0; k < jobs.length; k++) {
    await reading;
    throwIfAborted(signal);
    if (k + 1 < jobs.length) reading = read(jobs[k + 1], (k + 1) % 2);
    const { pair, n, cols, first, last } = jobs[k];
    if (first) acc = new DeltaAccumulator(elementCount(pair.base.info.shape));
    kernel.add(acc!, k % 2, n * cols, pair.base.info.dtype as FloatDtype, pair.finetuned!.info.dtype as FloatDtype);
    if (last) record(tensorDelta(pair, acc!));
  }
}

function sameValue(a: number, b: number): boolean {
  return a === b || (a !== a && b !== b);
}

function difference(f: Float32Array, b: Float32Array): Float32Array {
  const d = new Float32Array(f.length);
  for (let i = 0; i < f.length; i++) d[i] = f[i] - b[i];
  return d;
}

/** Reusable buffers per input, so streaming a model allocates nothing per chunk. */
class RowReader {
  private raw = alignedBuffer(0);
  private values = new Float32Array(0);

  async read(ref: WeightRef, row0: number, n: number, cols: number): Promise<Float32Array> {
    const bytes = n * cols * storedWidth(ref);
    if (this.raw.length < bytes) this.raw = alignedBuffer(bytes);
    if (this.values.length < n * cols) this.values = new Float32Array(n * cols);
    return toFloat32(await readRows(ref, row0, n, cols, this.raw), ref.info.dtype as FloatDtype, this.values);
  }
}

/** The stored bytes of rows [row0, row0 + n) of a tensor viewed as [rows, cols], into `target`. */
function readRows(ref: WeightRef, row0: number, n: number, cols: number, target: Buffer): Promise<Buffer> {
  const w = storedWidth(ref);
  return ref.file.readRange(ref.info, row0 * cols * w, (row0 + n) * cols * w, target);
}


function blockTotals(tensors: TensorDelta[]): Record<Block, BlockTotals> {
  const out = Object.fromEntries(BLOCKS.map((b) => [b, { tensors: 0, changedTensors: 0, parameters: 0, normBase: 0, normDelta: 0, relative: 0 }])) as Record<Block, BlockTotals>;
  for (const t of tensors) {
    const b = out[t.block];
    b.tensors++;
    if (t.changedFraction > 0) b.changedTensors++;
    b.parameters += elementCount(t.shape);
    b.normBase += t.normBase ** 2;
    b.normDelta += t.normDelta ** 2;
  }
  for (const b of Object.values(out)) {
    b.normBase = Math.sqrt(b.normBase);
    b.normDelta = Math.sqrt(b.normDelta);
    b.relative = b.normBase > 0 ? b.normDelta / b.normBase : 0;
  }
  return out;
}

/** Whether a recipe sends the FFN to base: by a rule, or by its default with no rule taking it from the fine-tune. */
function revertsFfn(recipe: Recipe): boolean {
  const ffnRule = recipe.rules.find((r) => r.block?.includes('ffn') && !r.module && !r.name && !r.layers);
  return (ffnRule?.source ?? recipe.default) === 'base';
}

function threeWay(merged: string, recipe: { recipe: Recipe } | undefined, tensors: TensorDelta[]): ThreeWay {
  const sources = Object.fromEntries(BLOCKS.map((b) => [b, { base: 0, finetuned: 0, neither: 0 }])) as ThreeWay['sources'];
  const violations: ThreeWay['violations'] = [];
  for (const t of tensors) {
    if (!t.merged) continue;
    sources[t.block][t.merged.source]++;
    if (t.merged.expected && t.merged.source !== t.merged.expected) violations.push({ name: t.name, expected: t.merged.expected, actual: t.merged.source });
  }
  const name = recipe?.recipe.name;
  const ffnReverted = sources.ffn.finetuned === 0 && sources.ffn.neither === 0 && sources.ffn.base > 0;
  // A recipe that reverts the FFN, applied to a model none of whose FFN tensors equal base, did not
  // revert anything: typically an architecture the classifier did not know.
  const noFfnReverted = recipe !== undefined && revertsFfn(recipe.recipe) && sources.ffn.base === 0;
  const verdict = !recipe
    ? 'the merged output has no provenance file: sources are listed, nothing is checked against a recipe'
    : noFfnReverted
      ? `recipe '${name}' check FAILED: the recipe reverts the FFN, but no FFN tensor of the output equals base (${sources.ffn.finetuned + sources.ffn.neither} FFN tensor(s) found)`
      : violations.length === 0
        ? name === 'taia'
          ? `TAIA check passed: the merged output reverted exactly the FFN (${sources.ffn.base} tensors equal base) and took everything else from the fine-tune`
          : `recipe '${name}' check passed: every tensor comes from where the recipe says`
        : `recipe '${name}' check FAILED: ${violations.length} tensor(s) do not come from where the recipe says${name === 'taia' && !ffnReverted ? ' (the FFN was not reverted exactly)' : ''}`;
  return { merged, recipe: name, violations, sources, verdict, failed: recipe !== undefined && (noFfnReverted || violations.length > 0) };
}
