import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { RunConfig } from '../../../core/runs/types';
import type { Batch } from '../../data/examples';

// Data parallelism over worker threads. The WASM backend runs on one core, so each extra core gets a
// replica: rank r computes the gradient of its rows into its slice of one SharedArrayBuffer, rank 0 sums
// the slices, clips, and every rank applies the same summed gradient. Only rows and small replies travel
// as messages; gradients are read in place.

export type ReplicaRequest =
  | { type: 'micro'; rows: Batch; seqLen: number; scale: number; first: boolean; dropoutSeed: string }
  | { type: 'apply'; lr: number }
  | { type: 'stop' };
export type ReplicaReply =
  | { type: 'ready'; size: number }
  | { type: 'micro'; loss: number }
  | { type: 'applied' }
  | { type: 'error'; message: string };

/** Ranks for a run: `workers` when set, else one per core for the single-threaded backends (at most 8, at most one per row). */
export function rankCount(workers: number, backend: string, rows: number): number {
  const wanted =
    workers > 0 ? workers : backend === 'wasm' || backend === 'cpu' ? Math.min(availableParallelism(), 8) : 1;
  return Math.max(1, Math.min(wanted, rows));
}

/** Rows [from, to) of a micro-batch. */
export function sliceRows(batch: Batch, from: number, to: number, seqLen: number): Batch {
  const weights = batch.weights.slice(from * seqLen, to * seqLen);
  return {
    inputs: batch.inputs.slice(from * seqLen, to * seqLen),
    labels: batch.labels.slice(from * seqLen, to * seqLen),
    weights,
    tokens: weights.reduce((a, b) => a + b, 0),
  };
}

/** Row ranges of `ranks` near-equal shards. */
export function shardRanges(rows: number, ranks: number): [number, number][] {
  return Array.from({ length: ranks }, (_, r) => [
    Math.floor((r * rows) / ranks),
    Math.floor(((r + 1) * rows) / ranks),
  ]);
}

class Replica {
  private readonly pending: { resolve(m: ReplicaReply): void; reject(e: Error): void }[] = [];
  private failure?: Error;

  constructor(
    readonly rank: number,
    private readonly worker: Worker,
  ) {
    worker.on('message', (m: ReplicaReply) => {
      if (m.type === 'error') return this.fail(new Error(`data-parallel rank ${rank}: ${m.message}`));
      this.pending.shift()?.resolve(m);
    });
    worker.on('error', (e) => this.fail(new Error(`data-parallel rank ${rank} crashed: ${e.message}`)));
    worker.on(
      'exit',
      (code) => code !== 0 && this.fail(new Error(`data-parallel rank ${rank} exited with code ${code}`)),
    );
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.splice(0)) p.reject(e);
  }

  /** Sends a request (or none, to await the greeting) and resolves with the reply. */
  request(m?: ReplicaRequest): Promise<ReplicaReply> {
    if (this.failure) return Promise.reject(this.failure);
    const reply = new Promise<ReplicaReply>((resolve, reject) => this.pending.push({ resolve, reject }));
    if (m) this.worker.postMessage(m);
    return reply;
  }

  stop(): Promise<number> {
    this.worker.postMessage({ type: 'stop' } satisfies ReplicaRequest);
    return this.worker.terminate();
  }
}

/** Ranks 1..n−1, each a worker thread running replica.js next to this bundle. */
export class ReplicaPool {
  private constructor(private readonly replicas: Replica[]) {}

  static async start(
    ranks: number,
    config: RunConfig,
    checkpoint: string | undefined,
    shared: SharedArrayBuffer,
    size: number,
  ): Promise<ReplicaPool> {
    const script = path.join(__dirname, 'trainer-replica.js');
    const replicas = Array.from(
      { length: ranks - 1 },
      (_, i) => new Replica(i + 1, new Worker(script, { workerData: { config, checkpoint, shared, rank: i + 1 } })),
    );
    const pool = new ReplicaPool(replicas);
    try {
      const hello = await Promise.all(replicas.map((r) => r.request()));
      if (hello.some((m) => m.type !== 'ready' || m.size !== size))
        throw new Error('a data-parallel rank loaded a different model');
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  get size(): number {
    return this.replicas.length;
  }

  /** Starts rank r+1 on its rows; resolves with its summed loss. */
  async micro(
    index: number,
    rows: Batch,
    seqLen: number,
    scale: number,
    first: boolean,
    dropoutSeed: string,
  ): Promise<number> {
    const m = await this.replicas[index].request({ type: 'micro', rows, seqLen, scale, first, dropoutSeed });
    return (m as { loss: number }).loss;
  }

  async apply(lr: number): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.request({ type: 'apply', lr })));
  }

  async close(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.stop()));
  }
}
