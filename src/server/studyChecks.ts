// Findings of a study file that need the file system: the base (as an experiment's), the fine-tune (a
// model, an adapter or a run folder with a checkpoint), the task files, and each variant's recipe file.
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { detectCheckpointKind } from '../core/checkpoint/discover';
import { builtinRecipe, loadRecipe } from '../core/merge/recipes';
import { listCheckpoints } from '../core/runs/store';
import type { StudyConfig } from '../core/study/schema';
import { checkBase } from './checks';
import type { Finding } from './findings';

export async function studyFindings(file: string, config: StudyConfig): Promise<Finding[]> {
  const at = (p: string) => path.resolve(path.dirname(file), p);
  const findings: Finding[] = [];
  if (config.base) findings.push(...(await checkBase(at(config.base), config.engine)).findings);
  if (config.finetuned) {
    const dir = at(config.finetuned);
    const kind = await detectCheckpointKind(dir).catch(() => undefined);
    const newest = kind ? undefined : (await listCheckpoints(dir)).at(-1);
    if (!kind && !newest)
      findings.push({
        path: ['finetuned'],
        severity: 'error',
        message: `'finetuned': ${dir} ${(await stat(dir).catch(() => undefined)) ? 'is not a model folder, a LoRA adapter or a run folder with a checkpoint' : 'does not exist'}`,
      });
  }
  for (const [i, task] of config.eval.tasks.entries()) {
    const info = await stat(at(task)).catch(() => undefined);
    if (!info?.isFile())
      findings.push({
        path: ['eval', 'tasks', i],
        severity: 'error',
        message: `task file ${at(task)} ${info ? 'is not a file' : 'does not exist'}`,
      });
  }
  for (const v of config.variants) {
    if (!v.recipe || builtinRecipe(v.recipe)) continue;
    await loadRecipe(at(v.recipe)).catch((e: Error) =>
      findings.push({ path: ['variants', v.index], severity: 'error', message: e.message }),
    );
  }
  return findings;
}
