// One way to run a long job in a worker thread, both sides: the job gets its input, a cancel signal and
// a progress callback; the caller gets a promise of the result, the progress as it comes, and cancel.
// Merge, delta and benchmark-diff workers (and the delta's parallel parts) all go through it, so a
// worker that throws, is cancelled or dies before answering ends the same way everywhere.
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { CancelledError } from '../errors';

/** What a job worker posts to its parent. */
export type JobReply<P, R> =
  | { type: 'progress'; value: P }
  | { type: 'done'; value: R }
  | { type: 'cancelled' }
  | { type: 'error'; message: string; name?: string };

/** What a parent posts to its job worker. */
export interface JobCancel {
  type: 'cancel';
}

export interface JobContext<P> {
  signal: AbortSignal;
  progress: (value: P) => void;
}

/** The worker side: runs `job` on this thread's workerData and posts its progress and outcome. */
export function serveJob<D, P, R>(job: (data: D, ctx: JobContext<P>) => Promise<R>): void {
  const port = parentPort;
  if (!port) throw new Error('serveJob runs only inside a worker thread');
  const post = (m: JobReply<P, R>) => port.postMessage(m);
  const controller = new AbortController();
  port.on('message', (m: JobCancel) => {
    if (m.type === 'cancel') controller.abort();
  });
  job(workerData as D, { signal: controller.signal, progress: (value) => post({ type: 'progress', value }) }).then(
    (value) => {
      post({ type: 'done', value });
      port.close();
    },
    (e: unknown) => {
      post(
        e instanceof CancelledError
          ? { type: 'cancelled' }
          : {
              type: 'error',
              message: e instanceof Error ? e.message : String(e),
              name: e instanceof Error ? e.name : undefined,
            },
      );
      port.close();
    },
  );
}

export interface RunningJob<R> {
  /**
   * The job's value; rejects with CancelledError when cancelled, otherwise with an Error carrying the
   * worker's message and its error's class name as `name` (so a caller can tell kinds of failure apart).
   */
  result: Promise<R>;
  cancel: () => void;
}

/** The parent side: starts `script` (a bundle that calls serveJob) with `data`. */
export function startJob<D, P, R>(
  script: string,
  data: D,
  onProgress?: (value: P) => void,
  label = 'worker',
): RunningJob<R> {
  const worker = new Worker(script, { workerData: data });
  const result = new Promise<R>((resolve, reject) => {
    worker.on('message', (m: JobReply<P, R>) => {
      if (m.type === 'progress') onProgress?.(m.value);
      else if (m.type === 'done') resolve(m.value);
      else if (m.type === 'cancelled') reject(new CancelledError());
      else reject(Object.assign(new Error(m.message), { name: m.name ?? 'Error' }));
    });
    worker.on('error', reject);
    // After an outcome this is a no-op; before one it means the worker died.
    worker.on('exit', (code) => reject(new Error(`${label} exited with code ${code} before finishing`)));
  });
  return { result, cancel: () => worker.postMessage({ type: 'cancel' } satisfies JobCancel) };
}
