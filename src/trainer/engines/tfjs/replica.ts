// A data-parallel rank of the tfjs engine, in a worker thread: its own WebAssembly instance (one core),
// the same model as rank 0, gradients of its rows written into shared memory. See parallel.ts.
import * as path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { RunConfig } from '../../../core/runs/types';
import { initBackend } from './backend';
import type { ReplicaReply, ReplicaRequest } from './parallel';
import { TrainableModel } from './trainable';

interface ReplicaData {
  config: RunConfig;
  checkpoint?: string;
  shared: SharedArrayBuffer;
  rank: number;
}

async function main(): Promise<void> {
  const { config, checkpoint, shared, rank } = workerData as ReplicaData;
  const port = parentPort!;
  const reply = (m: ReplicaReply) => port.postMessage(m);
  await initBackend(config.device, config.backend, [path.dirname(config.base)]);
  const model = await TrainableModel.load(config, checkpoint);
  const own = new Float32Array(shared, rank * model.size * 4, model.size);
  const summed = new Float32Array(shared, 0, model.size);
  port.on('message', (m: ReplicaRequest) => {
    try {
      if (m.type === 'micro') {
        if (m.first) own.fill(0);
        reply({ type: 'micro', loss: model.accumulateGradients(m.rows, m.seqLen, m.scale, own, m.dropoutSeed) });
      } else if (m.type === 'apply') {
        model.applyGradients(summed, m.lr);
        reply({ type: 'applied' });
      } else {
        model.dispose();
        port.close();
      }
    } catch (e) {
      reply({ type: 'error', message: (e as Error).message });
    }
  });
  reply({ type: 'ready', size: model.size });
}

main().catch((e: Error) => parentPort!.postMessage({ type: 'error', message: e.message } satisfies ReplicaReply));
