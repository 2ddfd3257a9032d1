import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { FoldCall, FoldKernel, FoldMemory, foldFunction, foldKernel, reserving } from './kernel';

// A worker folds with the kernel it is given (the addon's file or the compiled WebAssembly module) on
// the pool's shared memory, and runs the calls it is posted: what foldFunction (./kernel.ts) does in
// the calling thread. The code is inline, so the CLI, the extension host and the tests need no worker
// file on disk.
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const { kernel, memory } = workerData;
let fold;
if (kernel.kind === 'native') {
  const addon = require(kernel.file);
  fold = (...call) => addon.foldRows(new Uint8Array(memory.buffer), ...call);
} else {
  fold = new WebAssembly.Instance(kernel.module, { env: { memory } }).exports.fold;
}
parentPort.on('message', (call) => {
  fold(...call);
  parentPort.postMessage(0);
});
`;

interface Pending {
  resolve(): void;
  reject(e: Error): void;
}

/**
 * Worker threads, one per core, folding disjoint rows of the chunks in one shared FoldMemory. The
 * calling thread only reads and writes, so reading, folding and writing overlap.
 */
export class FoldPool {
  readonly memory = new FoldMemory();
  private readonly workers: Worker[];
  private readonly pending: (Pending | undefined)[];
  private failure?: Error;

  /** A pool of `threads` workers, or undefined where no kernel runs (then the reference folds). */
  static create(threads = availableParallelism()): FoldPool | undefined {
    const kernel = foldKernel();
    return kernel ? reserving(() => new FoldPool(kernel, Math.max(1, threads))) : undefined;
  }

  private constructor(
    readonly kernel: FoldKernel,
    threads: number,
  ) {
    // Making the fold here first makes a broken kernel fail in this thread, with its message.
    foldFunction(kernel, this.memory.memory);
    this.workers = Array.from(
      { length: threads },
      () => new Worker(WORKER_CODE, { eval: true, workerData: { kernel, memory: this.memory.memory } }),
    );
    this.pending = this.workers.map(() => undefined);
    this.workers.forEach((w, i) => {
      w.on('message', () => this.settle(i));
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => this.fail(new Error(`LoRA fold worker exited with code ${code}`)));
    });
  }

  /** Folds rows [0, rows) of the chunk in `slot` (see FoldMemory.call), split over the workers in whole blocks of the kernels' 4 rows. */
  fold(slot: number, chunkRow: number, rows: number): Promise<void> {
    const per = Math.ceil(Math.ceil(rows / this.workers.length) / 4) * 4;
    const jobs: Promise<void>[] = [];
    for (let i = 0, from = 0; from < rows; i++, from += per)
      jobs.push(this.post(i, this.memory.call(slot, chunkRow, from, Math.min(rows, from + per))));
    return Promise.all(jobs).then(() => undefined);
  }

  /** Stops the workers; pending folds reject. */
  async close(): Promise<void> {
    this.failure ??= new Error('LoRA fold pool closed');
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private post(i: number, call: FoldCall): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending[i] = { resolve, reject };
      this.workers[i].postMessage(call);
    });
  }

  private settle(i: number): void {
    const p = this.pending[i];
    this.pending[i] = undefined;
    p?.resolve();
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (let i = 0; i < this.pending.length; i++) {
      this.pending[i]?.reject(this.failure);
      this.pending[i] = undefined;
    }
  }
}
