import { BaselineError, BenchmarkDiff, diffResults } from './diff';
import { loadResults } from './load';
import type { Correction } from './stats';
import type { ModelResults } from './types';

/** One model of one result file (a file may hold several). */
export interface ModelRef {
  file: string;
  model: string;
}

/**
 * Reads the models of `refs` with their per-example records (the paired tests need them), one read
 * per file. What cannot be read becomes a problem line; the rest is still compared.
 */
export async function loadModels(refs: ModelRef[]): Promise<{ results: ModelResults[]; problems: string[] }> {
  const files = new Map<string, Promise<ModelResults[]>>();
  for (const r of refs) {
    if (files.has(r.file)) continue;
    const read = loadResults(r.file, { samples: true });
    read.catch(() => undefined); // awaited below, in order; until then its failure is not unhandled
    files.set(r.file, read);
  }
  const results: ModelResults[] = [];
  const problems: string[] = [];
  for (const r of refs) {
    try {
      const found = (await files.get(r.file)!).find((m) => m.model === r.model);
      if (found) results.push(found);
      else problems.push(`${r.file}: no longer holds model '${r.model}'`);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (!problems.includes(message)) problems.push(message);
    }
  }
  return { results, problems };
}

/** The diff of what `refs` hold now, against `baseline` while it is still among them, else the first model; no report when nothing could be read. */
export async function compareModels(
  refs: ModelRef[],
  baseline?: string,
  correction: Correction = 'none',
): Promise<{ report?: BenchmarkDiff; problems: string[] }> {
  const { results, problems } = await loadModels(refs);
  if (results.length === 0) return { problems };
  try {
    return { report: diffResults(results, baseline, correction), problems };
  } catch (e) {
    if (!(e instanceof BaselineError)) throw e;
    return { report: diffResults(results, undefined, correction), problems };
  }
}
