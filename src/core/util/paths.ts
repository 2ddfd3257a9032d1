import * as path from 'node:path';
import { CheckpointError } from '../errors';

/**
 * Resolves a file name taken from a file (an index's weight_map, a config) inside `dir`, refusing
 * anything that would leave it: absolute paths, `..` segments, drive letters.
 */
export function resolveInside(dir: string, name: string, sourceFile: string): string {
  if (typeof name !== 'string' || name.length === 0)
    throw new CheckpointError(sourceFile, `file name ${JSON.stringify(name)} is not a non-empty string`);
  const resolved = path.resolve(dir, name);
  const rel = path.relative(path.resolve(dir), resolved);
  if (path.isAbsolute(name) || rel === '' || rel.startsWith('..') || path.isAbsolute(rel) || name.includes('\0')) {
    throw new CheckpointError(sourceFile, `file name ${JSON.stringify(name)} points outside its folder ${dir}`);
  }
  return resolved;
}

/** A name without folders, `.` or `..`: it stays in the folder it is resolved in. */
export function isPlainFileName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}
