import { readdir, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { isAlive } from '../runs/store';
import { exists } from '../checkpoint/weights';

/**
 * A merge writes `.<out>.taia-tmp-<pid>-<hex>` beside its output and renames it into place; with
 * --force the old output is first renamed aside to the same name plus `-old`. A process killed on the
 * way leaves these behind; the pid in the name tells whether their owner is gone.
 */
export const MERGE_TEMP = /^\.(.+)\.taia-tmp-(\d+)-[0-9a-f]+(-old)?$/;

export function mergeTempName(out: string): string {
  return path.join(
    path.dirname(out),
    `.${path.basename(out)}.taia-tmp-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
}

/**
 * Finishes or rolls back what dead merges into `out` left: an output renamed aside and not replaced
 * is put back (the user keeps the folder they had); an aside copy whose replacement is in place, and
 * unfinished temporaries, are removed. Returns one sentence per thing done (or, with `dryRun`, found).
 */
export async function recoverOutput(out: string, dryRun = false): Promise<string[]> {
  const parent = path.dirname(path.resolve(out));
  const name = path.basename(path.resolve(out));
  const names = await readdir(parent).catch(() => [] as string[]);
  const dead = names
    .map((n) => ({ n, m: MERGE_TEMP.exec(n) }))
    .filter(({ m }) => m !== null && m[1] === name && Number(m[2]) !== process.pid && !isAlive(Number(m[2])))
    .sort((a, b) => Number(b.m![3] !== undefined) - Number(a.m![3] !== undefined)); // aside copies first
  const notes: string[] = [];
  for (const { n, m } of dead) {
    const p = path.join(parent, n);
    const pid = m![2];
    if (m![3] && !(await exists(out))) {
      notes.push(
        `${dryRun ? 'found' : 'restored'} ${out}: a --force replacement by process ${pid} was interrupted before the new output was in place${dryRun ? '; a merge puts the previous output back' : '; the previous output is back'}`,
      );
      if (!dryRun) await rename(p, out);
    } else {
      notes.push(
        `${dryRun ? 'found' : 'removed'} ${p}: ${m![3] ? 'the previous output, already replaced,' : 'an unfinished merge'} left by process ${pid}, which is gone`,
      );
      if (!dryRun) await rm(p, { recursive: true, force: true });
    }
  }
  return notes;
}
