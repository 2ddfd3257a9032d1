// Separate evaluations of one model add up in its result file: evaluating on one task and then on
// another keeps both. A task evaluated again replaces its earlier scores and records.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { parseResultsJson, readJsonl } from './jsonl';
import { TAIA_RESULTS_SUFFIX, TaiaResultsFile, TaiaSampleRecord, validateTaiaResults } from './taiaFormat';
import { ResultsError } from './types';

export interface Accumulated {
  results: TaiaResultsFile;
  samples: TaiaSampleRecord[];
  /** Tasks of the earlier file carried over unchanged. */
  kept: string[];
  /** Tasks of the earlier file this evaluation replaced. */
  replaced: string[];
}

/** The earlier result file at `file`, or undefined when there is none; one that does not read is an error naming it. */
async function earlier(file: string): Promise<TaiaResultsFile | undefined> {
  if (!existsSync(file)) return undefined;
  const json = parseResultsJson(file, await readFile(file, 'utf-8'));
  validateTaiaResults(file, json);
  return json;
}

/**
 * `results` and its `samples` with the tasks of the result file already at `file` added, when that
 * file holds the same model (name and checkpoint path). A file of another model is refused: adding to
 * it would mix two models' scores under one name.
 */
export async function accumulateTaiaResults(
  file: string,
  results: TaiaResultsFile,
  samples: Iterable<TaiaSampleRecord>,
): Promise<Accumulated> {
  const records = [...samples];
  const old = await earlier(file);
  if (!old) return { results, samples: records, kept: [], replaced: [] };
  if (old.model.name !== results.model.name || (old.model.path ?? '') !== (results.model.path ?? '')) {
    throw new ResultsError(
      file,
      `holds the results of ${old.model.name}${old.model.path ? ` (${old.model.path})` : ''}, not of ${results.model.name}${results.model.path ? ` (${results.model.path})` : ''}; write to another file`,
    );
  }
  const kept = Object.keys(old.tasks).filter((t) => !(t in results.tasks));
  const replaced = Object.keys(old.tasks).filter((t) => t in results.tasks);
  const keptSet = new Set(kept);
  const dir = path.dirname(file);
  const oldRecords: TaiaSampleRecord[] = [];
  for (const samplesFile of new Set(
    kept.map((t) => old.tasks[t].samples).filter((s): s is string => s !== undefined),
  )) {
    // validateTaiaResults (reading the earlier file) already refused a samples name that leaves the folder.
    await readJsonl(path.join(dir, samplesFile), (rec) => {
      if (typeof rec.task === 'string' && keptSet.has(rec.task)) oldRecords.push(rec as unknown as TaiaSampleRecord);
    });
  }
  // Carried-over tasks lose their samples pointer; writeTaiaResults sets it again for tasks with records.
  const carried = Object.fromEntries(kept.map((t) => [t, { ...old.tasks[t], samples: undefined }]));
  return {
    results: { ...results, tasks: { ...carried, ...results.tasks } },
    samples: [...oldRecords, ...records],
    kept,
    replaced,
  };
}

/**
 * The result file for evaluating `checkpoint` as `name` in `dir`: `<name>.taia-results.json` unless it
 * holds another checkpoint (two runs' `checkpoint-100`), then `<name>-2`, `-3`, … Returns the file and
 * the model name to record, which is the file's stem.
 */
export async function resultFileFor(
  dir: string,
  name: string,
  checkpoint: string,
): Promise<{ file: string; name: string }> {
  for (let i = 1; ; i++) {
    const candidate = i === 1 ? name : `${name}-${i}`;
    const file = path.join(dir, `${candidate}${TAIA_RESULTS_SUFFIX}`);
    let old: TaiaResultsFile | undefined;
    try {
      old = await earlier(file);
    } catch {
      continue; // An unreadable file is left alone (the Benchmarks view shows its error).
    }
    if (!old || (old.model.name === candidate && old.model.path === checkpoint)) return { file, name: candidate };
  }
}
