// Reads result files and computes a benchmark diff off the extension host's event loop: a paired
// bootstrap over 10,000 examples takes about half a second per cell.
import { compareModels, ModelRef } from '../../core/results/compare';
import type { Correction } from '../../core/results/stats';
import { serveJob } from '../../core/util/worker';

export interface BenchmarkDiffRequest {
  models: ModelRef[];
  baseline?: string;
  correction: Correction;
}

serveJob<BenchmarkDiffRequest, never, Awaited<ReturnType<typeof compareModels>>>(({ models, baseline, correction }) =>
  compareModels(models, baseline, correction),
);
