// The TAIA paper's evaluation scripts (pixas/TAIA_LLM) print one line per run: `Acc in {dataset}: {acc}`.
import * as path from 'node:path';
import { ModelResults, ResultsError } from './types';

export const TAIA_LOG_LINE = /^\s*Acc in (.+?)\s*:\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(%?)\s*$/;

/** File stems that name the log, not the model: then the folder names the model. */
const GENERIC =
  /^(eval|evaluation|evaluate|log|logs|result|results|output|outputs|out|acc|accuracy|test|stdout|nohup|run|score|scores)([-_.]?\d*)?$/i;

export function logModelName(file: string): string {
  const stem = path.basename(file).replace(/\.(log|txt)$/i, '');
  return GENERIC.test(stem) ? path.basename(path.dirname(file)) : stem;
}

export function parseTaiaLog(file: string, text: string): ModelResults {
  const results: ModelResults = { model: logModelName(file), file, format: 'taia-log', tasks: new Map() };
  text.split(/\r?\n/).forEach((line, i) => {
    const m = TAIA_LOG_LINE.exec(line);
    if (!m) return;
    const value = Number(m[2]);
    if (!Number.isFinite(value))
      throw new ResultsError(file, `accuracy ${m[2]} of '${m[1]}' is not a finite number`, i + 1);
    // A later run of the same dataset in the same log replaces the earlier one, as a rerun would.
    const scale = m[3] === '%' || value > 1 ? 'percent' : 'fraction';
    results.tasks.set(m[1], { metrics: new Map([['acc', { value, higherIsBetter: true, scale }]]) });
  });
  if (results.tasks.size === 0) throw new ResultsError(file, "no 'Acc in {dataset}: {acc}' line");
  return results;
}
