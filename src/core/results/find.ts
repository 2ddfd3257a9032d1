import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { isHiddenDir } from '../workspace/scan';
import { detectResultFile } from './load';

/** Result files in a folder and its subfolders (hidden folders and node_modules skipped, lm-eval's `..__name` folders not), sorted. */
export async function findResultFiles(dir: string, maxDepth = 6): Promise<string[]> {
  const out: string[] = [];
  const visit = async (d: string, depth: number): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) {
        if (depth < maxDepth && !isHiddenDir(e.name) && e.name !== 'node_modules') await visit(full, depth + 1);
      } else if (e.isFile() && (await detectResultFile(full))) out.push(full);
    }
  };
  await visit(dir, 0);
  return out.sort();
}
