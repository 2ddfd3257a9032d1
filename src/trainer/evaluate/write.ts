import * as path from 'node:path';
import { accumulateTaiaResults } from '../../core/results/accumulate';
import { TAIA_RESULTS_FORMAT, TAIA_RESULTS_VERSION, writeTaiaResults } from '../../core/results/taiaFormat';
import { TOOL_NAME, TOOL_VERSION } from '../../core/version';
import type { EvaluateJob } from '../protocol';
import type { ExampleRecord, TaskScore } from './types';

/**
 * Writes an evaluation as this project's result file plus its per-example records, added to what an
 * earlier evaluation of the same model wrote there (a task evaluated again is replaced); returns the
 * file and the tasks carried over.
 */
export async function writeEvaluation(
  job: EvaluateJob,
  outcome: { scores: TaskScore[]; records: ExampleRecord[]; backend: string },
): Promise<{ file: string; kept: string[]; replaced: string[] }> {
  const tasks = Object.fromEntries(
    outcome.scores.map((s) => [
      s.task,
      {
        n: s.n,
        metrics: Object.fromEntries(
          Object.entries(s.metrics).map(([name, m]) => [
            name,
            { value: m.value, stderr: m.stderr, higher_is_better: true, scale: 'fraction' as const },
          ]),
        ),
      },
    ]),
  );
  const all = await accumulateTaiaResults(
    job.out,
    {
      format: TAIA_RESULTS_FORMAT,
      version: TAIA_RESULTS_VERSION,
      model: {
        name: job.name,
        path: job.checkpoint,
        ...(job.variant && { recipe: path.basename(job.variant.recipe) }),
      },
      created: new Date().toISOString(),
      tool: `${TOOL_NAME} ${TOOL_VERSION} (${outcome.backend})`,
      tasks,
    },
    outcome.records,
  );
  const { results } = await writeTaiaResults(job.out, all.results, all.samples);
  return { file: results, kept: all.kept, replaced: all.replaced };
}
