import * as path from 'node:path';
import { CHECKPOINTS_DIR, RUNS_DIR } from './types';

/** Where merges of runs go, relative to the workspace folder: `merged/<run>-…`. */
export const MERGED_DIR = 'merged';

/**
 * Where a merge goes by default: a run's checkpoint (`<root>/.taia/runs/<run>/checkpoints/<ckpt>`) to
 * `<root>/merged/<run>-<ckpt>-<suffix>`, so merges do not land inside the run; any other fine-tune
 * beside itself, as `<name>-<suffix>`.
 */
export function mergedOutputFor(finetuned: string, suffix: string): string {
  const parts = path.resolve(finetuned).split(path.sep);
  const [hidden, runs] = RUNS_DIR.split('/');
  const i = parts.length - 5;
  if (i >= 0 && parts[i] === hidden && parts[i + 1] === runs && parts[i + 3] === CHECKPOINTS_DIR) {
    return path.join(
      parts.slice(0, i).join(path.sep) || path.sep,
      MERGED_DIR,
      `${parts[i + 2]}-${parts[i + 4]}-${suffix}`,
    );
  }
  return path.join(path.dirname(finetuned), `${path.basename(finetuned)}-${suffix}`);
}
