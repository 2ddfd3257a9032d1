// Reads a study's output folder back: its index (study.json) and each variant's results, with the
// per-example records the paired tests need. A variant not evaluated yet is simply absent; a result
// file that cannot be read is a problem that names it.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { findResultFiles } from '../results/find';
import { loadResults } from '../results/load';
import type { ModelResults } from '../results/types';
import { Correction, CORRECTIONS } from '../results/stats';
import { exists } from '../checkpoint/weights';
import { STUDY_INDEX, STUDY_KEY_SUFFIX, StudyIndex } from './run';
import { StudyTable, studyTable } from './table';

export async function readStudy(
  dir: string,
): Promise<{ index: StudyIndex; results: (ModelResults | undefined)[]; problems: string[] }> {
  const file = path.join(dir, STUDY_INDEX);
  let index: StudyIndex;
  try {
    index = JSON.parse(await readFile(file, 'utf-8')) as StudyIndex;
  } catch (e) {
    throw new Error(
      `${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no study here (run the study first)' : `not a study index (${(e as Error).message})`}`,
      { cause: e },
    );
  }
  if (index.format !== 'taia-study' || index.version !== 1 || !Array.isArray(index.variants))
    throw new Error(`${file}: not a study index of a version this tool reads`);
  const problems: string[] = [];
  const results = await Promise.all(
    index.variants.map(async (v) => {
      const at = path.join(dir, path.basename(v.results));
      if (!(await exists(path.join(dir, `${v.name}${STUDY_KEY_SUFFIX}`)))) return undefined;
      try {
        // An external command's variant is a folder of whatever result files it wrote.
        const files = at.endsWith('.json') ? [at] : await findResultFiles(at);
        const found = (await Promise.all(files.map((f) => loadResults(f, { samples: true })))).flat();
        if (found.length === 0) problems.push(`${at}: no result file found`);
        return found[0];
      } catch (e) {
        problems.push((e as Error).message);
        return undefined;
      }
    }),
  );
  return { index, results, problems };
}

/** The study's table under every correction, for a page that switches between them. */
export async function studyTables(
  dir: string,
): Promise<{ tables: Record<Correction, StudyTable>; problems: string[] }> {
  const { index, results, problems } = await readStudy(dir);
  return {
    tables: Object.fromEntries(CORRECTIONS.map((c) => [c, studyTable(index, results, c)])) as Record<
      Correction,
      StudyTable
    >,
    problems,
  };
}
