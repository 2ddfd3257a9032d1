import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { FoldCall, FoldMemory, instantiate, kernelModule, reserving } from './kernel';

// A worker instantiates the kernel on the pool's shared memory and runs the calls it is posted. The
// code is inline (the module and the memory come as workerData), so the CLI, the extension host and
// the tests need no worker file on disk.
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const kernel = new WebAssembly.Instance(workerData.module, { env: { memory: workerData.memory } }).exports;
parentPort.on('message', (call) => {
  kernel.fold(...call);
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

  /** A pool of `threads` workers, or undefined where the kernel does not run (then the reference folds). */
  static create(threads = availableParallelism()): FoldPool | undefined {
    const module = kernelModule();
    return module ? reserving(() => new FoldPool(module, Math.max(1, threads))) : undefined;
  }

  private constructor(module: object, threads: number) {
    // Instantiating here first makes a broken module fail in this thread, with its message.
    instantiate(module, this.memory.memory);
    this.workers = Array.from(
      { length: threads },
      () => new Worker(WORKER_CODE, { eval: true, workerData: { module, memory: this.memory.memory } }),
    );
    this.pending = this.workers.map(() => undefined);
    this.workers.forEach((w, i) => {
      w.on('message', () => this.settle(i));
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => this.fail(new Error(`LoRA fold worker exited with code ${code}`)));
    });
  }

  /** Folds rows [0, rows) of the chunk in `slot` (see FoldMemory.call), split over the workers in whole blocks of the kernel's 6 rows. */
  fold(slot: number, chunkRow: number, rows: number): Promise<void> {
    const per = Math.ceil(Math.ceil(rows / this.workers.length) / 6) * 6;
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
