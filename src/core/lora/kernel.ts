// The WebAssembly SIMD kernel of the LoRA fold (source: ./simd/kernel.ts, AssemblyScript; the JS
// reference is addDeltaRowsReference in ./fold.ts, which it equals bit for bit). It works on a shared
// memory, laid out here, that worker threads (./pool.ts) instantiate the same module on, so the rows
// of a chunk can be folded by all cores at once with no copies. TAIA_LORA_KERNEL=js forces the reference.
import { CHUNK_ELEMENTS } from '../checkpoint/chunks';
import { FloatDtype } from '../safetensors/dtypes';
import type { LoraFactors } from './fold';
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

/** Instantiates the kernel on `memory` (in any thread: a module and a shared memory can be posted). */
export function instantiate(module: object, memory: WasmMemory): FoldExports {
  return new WebAssembly.Instance(module, { env: { memory } }).exports as FoldExports;
}

/** One call of the kernel's fold(), as its arguments: plain numbers, so it can be posted to a worker. */
export type FoldCall = Parameters<FoldExports['fold']>;

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
    const input0 = right + align(Math.ceil(f.cols / 4) * 4 * f.r * 4);
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
    packRight(f, new Float32Array(memory.buffer, right, Math.ceil(f.cols / 4) * 4 * f.r));
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

/** R [r, cols] by groups of 4 columns, [cols / 4][r][4], the layout the kernel reads (see simd/kernel.ts). */
function packRight({ r, cols, right }: LoraFactors, packed: Float32Array): void {
  for (let k = 0; k < r; k++) {
    for (let j = 0; j < cols; j++) packed[(((j >> 2) * r + k) << 2) + (j & 3)] = right[k * cols + j];
  }
}

/** The kernel in the calling thread, for addDeltaRows on float32 arrays of any size. */
class ThreadKernel {
  private readonly mem = new FoldMemory();
  private readonly x: FoldExports;

  constructor(module: object) {
    this.x = instantiate(module, this.mem.memory);
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
      this.x.fold(...this.mem.call(0, rowStart + i, 0, n, true));
      part.set(new Float32Array(bytes.buffer, bytes.byteOffset, part.length));
    }
  }
}

let thread: ThreadKernel | undefined;

/** This thread's kernel, or undefined where it does not run (then the reference folds). */
export function threadKernel(): ThreadKernel | undefined {
  const module = kernelModule();
  if (!module) return undefined;
  return (thread ??= reserving(() => new ThreadKernel(module)));
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
