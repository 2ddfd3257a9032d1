// The kernels of the LoRA fold, which equal the JS reference (addDeltaRowsReference in ./fold.ts) bit
// for bit: the native addon's (native/lora_fold.c: 8 float32 lanes, AVX2 where the CPU has it) where it
// was built, else the WebAssembly SIMD one (./simd/kernel.ts, AssemblyScript, 4 lanes). Both work on a
// shared memory, laid out here, that worker threads (./pool.ts) fold on too, so the rows of a chunk can
// be folded by all cores at once with no copies. TAIA_LORA_KERNEL=wasm forces the WebAssembly kernel,
// TAIA_LORA_KERNEL=js the reference.
import { CHUNK_ELEMENTS } from '../checkpoint/chunks';
import { FloatDtype } from '../safetensors/dtypes';
import type { LoraFactors } from './fold';
import { nativeAddon } from '../native/addon';
import { lazyWasmModule } from '../util/wasm';
import { LORA_WASM } from './simd/wasm.generated';

/** Dtype codes of simd/kernel.ts. */
export const DTYPE_CODE: Record<FloatDtype, number> = { F32: 0, F16: 1, BF16: 2 };

const WIDTH: Record<FloatDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** The memory the kernel was compiled for (--maximumMemory, in 64 KiB pages): 4 GiB. */
const MAX_PAGES = 65536;

// Node has WebAssembly, but the project's lib (ES2022, no DOM) does not declare it: what is used here.
export interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
  grow(pages: number): number;
}
declare const WebAssembly: {
  Instance: new (module: object, imports: object) => { exports: object };
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
};

export interface FoldExports {
  fold(
    w: number,
    wt: number,
    out: number,
    ot: number,
    left: number,
    right: number,
    rows: number,
    cols: number,
    r: number,
    scale: number,
  ): void;
}

/** The compiled module, or undefined where WebAssembly SIMD and threads are unavailable or TAIA_LORA_KERNEL=js. */
export const kernelModule = lazyWasmModule(LORA_WASM, 'TAIA_LORA_KERNEL');

/** A kernel as it can be posted to a worker: the addon's file, or the compiled WebAssembly module. */
export type FoldKernel = { kind: 'native'; file: string; vectors: string } | { kind: 'wasm'; module: object };

/** The fastest kernel that runs here, or undefined where only the reference does (or TAIA_LORA_KERNEL=js). */
export function foldKernel(): FoldKernel | undefined {
  const choice = process.env.TAIA_LORA_KERNEL;
  if (choice === 'js') return undefined;
  const native = choice === 'wasm' ? undefined : nativeAddon();
  if (native && 'addon' in native) return { kind: 'native', file: native.file, vectors: native.addon.foldVectors() };
  const module = kernelModule();
  return module ? { kind: 'wasm', module } : undefined;
}

/** What folds a merge's LoRA modules here, in words (for its summary and the benchmark). */
export function foldKernelName(kernel: FoldKernel | undefined): string {
  if (!kernel) return 'JavaScript reference';
  return kernel.kind === 'native' ? `native (${kernel.vectors})` : 'WebAssembly SIMD (4 float32 lanes)';
}

/** One call of the kernel's fold(), as its arguments: plain numbers, so it can be posted to a worker. */
export type FoldCall = Parameters<FoldExports['fold']>;

/** The kernel's fold on `memory`, in this thread (pool.ts does the same in its workers, inline). */
export function foldFunction(kernel: FoldKernel, memory: WasmMemory): (...call: FoldCall) => void {
  if (kernel.kind === 'wasm') {
    const x = new WebAssembly.Instance(kernel.module, { env: { memory } }).exports as FoldExports;
    return (...call) => x.fold(...call);
  }
  const native = nativeAddon();
  if (!('addon' in native)) throw new Error(native.reason);
  const { addon } = native;
  return (...call) => addon.foldRows(new Uint8Array(memory.buffer), ...call);
}

/**
 * A shared memory laid out for folding one tensor: its factors, then two slots of input and output
 * chunks, so that one slot can be read into and written from while the other is folded.
 */
export class FoldMemory {
  readonly memory: WasmMemory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
  private f?: LoraFactors;
  private at = { left: 0, right: 0, input: [0, 0], output: [0, 0] };
  private dtypes: [FloatDtype, FloatDtype] = ['F32', 'F32'];

  /**
   * Uploads the factors of a tensor (unless they are already there) and lays out slots for chunks of
   * `rowsPerChunk` rows read as `inDtype` and written as `outDtype`. Growing the memory replaces
   * earlier views: call this before the reads of a tensor, not during them.
   */
  prepare(f: LoraFactors, rowsPerChunk: number, inDtype: FloatDtype, outDtype: FloatDtype): void {
    const align = (n: number) => Math.ceil(n / 16) * 16;
    const inBytes = align(rowsPerChunk * f.cols * WIDTH[inDtype]);
    const outBytes = align(rowsPerChunk * f.cols * WIDTH[outDtype]);
    const left = 0;
    const right = align(f.left.byteLength);
    const input0 = right + align(Math.ceil(f.cols / 8) * 8 * f.r * 4);
    const output0 = input0 + 2 * inBytes;
    const end = output0 + 2 * outBytes;
    const memory = this.memory;
    if (memory.buffer.byteLength < end) {
      if (end > MAX_PAGES * 65536)
        throw new Error(
          `a LoRA factor pair of ${f.rows}×${f.r} and ${f.r}×${f.cols} is too large to fold (over 4 GiB)`,
        );
      memory.grow(Math.ceil((end - memory.buffer.byteLength) / 65536));
    }
    this.at = { left, right, input: [input0, input0 + inBytes], output: [output0, output0 + outBytes] };
    this.dtypes = [inDtype, outDtype];
    if (this.f === f) return;
    new Float32Array(memory.buffer, left, f.left.length).set(f.left);
    packRight(f, new Float32Array(memory.buffer, right, Math.ceil(f.cols / 8) * 8 * f.r));
    this.f = f;
  }

  /** The buffer of slot 0 or 1 to read `rows` stored rows into. */
  input(slot: number, rows: number): Buffer {
    return Buffer.from(this.memory.buffer, this.at.input[slot], rows * this.f!.cols * WIDTH[this.dtypes[0]]);
  }

  /** The encoded output of `rows` rows folded into slot 0 or 1. */
  output(slot: number, rows: number): Buffer {
    return Buffer.from(this.memory.buffer, this.at.output[slot], rows * this.f!.cols * WIDTH[this.dtypes[1]]);
  }

  /**
   * The kernel call that folds rows [from, to) of the chunk in `slot`, whose first row is row
   * `chunkRow` of the tensor; `inPlace` reads and writes the input (same dtype only).
   */
  call(slot: number, chunkRow: number, from: number, to: number, inPlace = false): FoldCall {
    const f = this.f!;
    const [inDtype, outDtype] = this.dtypes;
    const w = this.at.input[slot] + from * f.cols * WIDTH[inDtype];
    const out = inPlace ? w : this.at.output[slot] + from * f.cols * WIDTH[outDtype];
    const left = this.at.left + (chunkRow + from) * f.r * 4;
    return [w, DTYPE_CODE[inDtype], out, DTYPE_CODE[outDtype], left, this.at.right, to - from, f.cols, f.r, f.scale];
  }
}

/** R [r, cols] by groups of 8 columns, [cols / 8][r][8], the layout both kernels read (see simd/kernel.ts). */
function packRight({ r, cols, right }: LoraFactors, packed: Float32Array): void {
  for (let k = 0; k < r; k++) {
    for (let j = 0; j < cols; j++) packed[(((j >> 3) * r + k) << 3) + (j & 7)] = right[k * cols + j];
  }
}

/** The kernel in the calling thread, for addDeltaRows on float32 arrays of any size. */
class ThreadKernel {
  private readonly mem = new FoldMemory();
  private readonly fold: (...call: FoldCall) => void;

  constructor(readonly kernel: FoldKernel) {
    this.fold = foldFunction(kernel, this.mem.memory);
  }

  addRows(w: Float32Array, rowStart: number, f: LoraFactors): void {
    const rows = w.length / f.cols;
    // Folded in place in one slot: a quarter chunk keeps the four slots at one chunk's bytes.
    const block = Math.max(1, Math.floor(CHUNK_ELEMENTS / 4 / f.cols));
    this.mem.prepare(f, Math.min(rows, block), 'F32', 'F32');
    for (let i = 0; i < rows; i += block) {
      const n = Math.min(block, rows - i);
      const part = w.subarray(i * f.cols, (i + n) * f.cols);
      const bytes = this.mem.input(0, n);
      bytes.set(new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
      this.fold(...this.mem.call(0, rowStart + i, 0, n, true));
      part.set(new Float32Array(bytes.buffer, bytes.byteOffset, part.length));
    }
  }
}

let thread: ThreadKernel | undefined;

/** This thread's kernel, or undefined where none runs (then the reference folds). */
export function threadKernel(): ThreadKernel | undefined {
  const kernel = foldKernel();
  if (!kernel) return undefined;
  // TAIA_LORA_KERNEL may change between calls (the tests compare the kernels).
  if (thread?.kernel.kind !== kernel.kind) thread = reserving(() => new ThreadKernel(kernel));
  return thread;
}

/**
 * `make()`, or undefined where the shared memory's address space (4 GiB, reserved up front) cannot be
 * reserved, e.g. under `ulimit -v`: then the reference folds, slower but with the same results.
 */
export function reserving<T>(make: () => T): T | undefined {
  try {
    return make();
  } catch (e) {
    if (e instanceof RangeError) return undefined;
    throw e;
  }
}
