import { constants, Stats } from 'node:fs';
import { FileHandle, open, realpath, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { CheckpointError } from '../errors';

/**
 * The one place that opens files named by (or found in) user folders and that turns file-system
 * failures into messages. Files are opened non-blocking and checked with fstat before any read, so a
 * FIFO or a device where a file is expected is refused instead of blocking forever.
 */

const WORDS: Record<string, string> = {
  ENOSPC: 'disk full',
  ENOENT: 'does not exist',
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'a part of the path is not a folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ELOOP: 'too many levels of symbolic links',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'file name too long',
  EROFS: 'read-only file system',
  EEXIST: 'already exists',
  EIO: 'input/output error',
  EDQUOT: 'disk quota exceeded',
};

/** Codes that only a write can cause. */
const WRITE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EEXIST']);

/** A Node system error in words: "permission denied", "is a folder, not a file", ... */
export function fsProblem(e: NodeJS.ErrnoException): string {
  const code = e.code ?? '';
  const verb = WRITE_CODES.has(code) || e.syscall === 'write' ? 'write' : 'read';
  return WORDS[code] ? `cannot ${verb}: ${WORDS[code]}` : `cannot ${verb} (${code || e.message})`;
}

/** A Node system error (an errno code and a syscall) rather than a programming error. */
export function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  return (
    e instanceof Error &&
    typeof (e as NodeJS.ErrnoException).code === 'string' &&
    typeof (e as NodeJS.ErrnoException).syscall === 'string'
  );
}

/**
 * The one mapping of system errors to messages that name the file: "disk full while writing <file>",
 * "<file>: is a folder, not a file". Anything else passes through unchanged.
 */
export function fsError(file: string, e: unknown): Error {
  if (!isSystemError(e)) return e as Error;
  const err = new CheckpointError(e.path ?? file, fsProblem(e));
  if (e.code === 'ENOSPC') err.message = `disk full while writing ${e.path ?? file}`;
  return err;
}

export function kindOfNode(s: Stats): string {
  if (s.isFile()) return 'file';
  if (s.isDirectory()) return 'folder';
  if (s.isFIFO()) return 'named pipe (FIFO)';
  if (s.isSocket()) return 'socket';
  if (s.isCharacterDevice()) return 'character device';
  if (s.isBlockDevice()) return 'block device';
  return 'special file';
}

/** Opens a regular file for reading, refusing folders, FIFOs, sockets and devices with what was found. */
export async function openRegular(file: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw fsError(file, e);
  }
  try {
    const s = await handle.stat();
    if (!s.isFile()) throw new CheckpointError(file, `is a ${kindOfNode(s)}, not a regular file`);
    return handle;
  } catch (e) {
    await handle.close();
    throw fsError(file, e);
  }
}

/** Reads a regular file as UTF-8 text, refusing one larger than `maxBytes`. */
export async function readRegularText(file: string, maxBytes = 1 << 30): Promise<string> {
  const handle = await openRegular(file);
  try {
    const { size } = await handle.stat();
    if (size > maxBytes)
      throw new CheckpointError(file, `is ${size} bytes, more than the ${maxBytes}-byte limit for this file`);
    return await handle.readFile('utf-8');
  } catch (e) {
    throw fsError(file, e);
  } finally {
    await handle.close();
  }
}

/** Whether `file` is a regular file (after links); false when absent. Refuses special files where one is expected. */
export async function isRegularFile(file: string): Promise<boolean> {
  const s = await stat(file).catch(() => undefined);
  if (!s) return false;
  if (!s.isFile()) throw new CheckpointError(file, `is a ${kindOfNode(s)}, not a regular file`);
  return true;
}

/**
 * Refuses a file whose real location (after symbolic links) is outside `dir`'s real location. The one
 * exception is the Hugging Face hub cache, whose `snapshots/<revision>/` files are links into the
 * same repository's `blobs/` folder.
 */
export async function checkRealInside(dir: string, file: string, sourceFile: string): Promise<void> {
  let realDir: string;
  let realFile: string;
  try {
    [realDir, realFile] = await Promise.all([realpath(dir), realpath(file)]);
  } catch (e) {
    throw fsError(file, e);
  }
  if (isWithin(realDir, realFile) || isWithin(hubCacheBlobs(realDir) ?? realDir, realFile)) return;
  throw new CheckpointError(
    sourceFile,
    `${path.basename(file)} is a link to ${realFile}, outside its folder ${dir}: refused`,
  );
}

function isWithin(dir: string, file: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** `<cache>/models--org--name/blobs` for `<cache>/models--org--name/snapshots/<revision>`. */
function hubCacheBlobs(realDir: string): string | undefined {
  const snapshots = path.dirname(realDir);
  const repo = path.dirname(snapshots);
  return path.basename(snapshots) === 'snapshots' && /^(models|datasets)--/.test(path.basename(repo))
    ? path.join(repo, 'blobs')
    : undefined;
}
