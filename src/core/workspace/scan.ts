import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import picomatch from 'picomatch';
import { CheckpointKind, kindFromFileNames } from '../checkpoint/discover';
import { throwIfAborted } from '../errors';

/** Folders no one keeps checkpoints or datasets in; hidden folders other than `.taia` are skipped too. */
export const DEFAULT_EXCLUDE = ['**/node_modules', '**/__pycache__', '**/venv', '**/wandb', '**/site-packages'];

/** File names that may hold a dataset; the content decides whether one does. */
export const DEFAULT_DATASET_INCLUDE = ['**/*.jsonl', '**/*.json', '**/*.parquet', '**/*.txt'];

/** JSON files that belong to models, tokenizers and tools, never datasets. */
const NOT_DATASETS =
  /^(config|generation_config|adapter_config|tokenizer|tokenizer_config|special_tokens_map|added_tokens|preprocessor_config|taia_merge|package|package-lock|tsconfig|vocab|.*\.index)\.json$|^(requirements|license|merges|notice|cmakelists)\.txt$/i;

export interface ScanOptions {
  /** Globs, relative to the root, of folders and files to skip. */
  exclude?: string[];
  /** Globs, relative to the root, of candidate dataset files. */
  datasetInclude?: string[];
  /** Deepest folder level visited (the root is 0). */
  maxDepth?: number;
  signal?: AbortSignal;
}

export interface ScanResult {
  checkpoints: { dir: string; kind: CheckpointKind }[];
  /** Candidate dataset files (outside checkpoint folders); their content is checked by the caller. */
  datasetFiles: string[];
}

/**
 * A hidden folder, which discovery skips: a name starting with a dot, except `.taia` and the
 * `..__name__…` folders lm-eval names after a relative model path (`../name/…` with `/` as `__`).
 */
export const isHiddenDir = (name: string) => name.startsWith('.') && name !== '.taia' && !name.startsWith('..__');

/**
 * Whether discovery skips `target` below `root`: it lies in a hidden folder other than `.taia` (merge
 * outputs are written to hidden temporary folders first) or matches an exclude glob.
 */
export function isSkipped(root: string, target: string, exclude: string[] = DEFAULT_EXCLUDE): boolean {
  const rel = path.relative(root, target).split(path.sep);
  if (rel[0] === '..' || path.isAbsolute(rel.join('/'))) return true;
  if (rel.some(isHiddenDir)) return true;
  const excluded = picomatch(exclude, { dot: true });
  return rel.some((_, i) => excluded(rel.slice(0, i + 1).join('/')));
}

/**
 * Walks a workspace folder once, listing checkpoint folders (recognised from their file names alone)
 * and candidate dataset files. Checkpoint folders are not descended into, except a model's
 * `checkpoint-*` subfolders, which are checkpoints of their own.
 */
export async function scanWorkspace(root: string, opts: ScanOptions = {}): Promise<ScanResult> {
  const excluded = picomatch(opts.exclude ?? DEFAULT_EXCLUDE, { dot: true });
  const datasetLike = picomatch(opts.datasetInclude ?? DEFAULT_DATASET_INCLUDE, { dot: true });
  const maxDepth = opts.maxDepth ?? 12;
  const result: ScanResult = { checkpoints: [], datasetFiles: [] };
  const visit = async (dir: string, depth: number): Promise<void> => {
    throwIfAborted(opts.signal);
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // unreadable folders are skipped, as an editor's file search does
    }
    const names = new Set(entries.filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => e.name));
    const kind = kindFromFileNames(names);
    if (kind) result.checkpoints.push({ dir, kind });
    const subdirs: string[] = [];
    for (const e of entries) {
      const full = path.join(dir, e.name);
      const rel = path.relative(root, full).split(path.sep).join('/');
      if (excluded(rel)) continue;
      if (e.isDirectory()) {
        if (isHiddenDir(e.name)) continue;
        if (kind && !e.name.startsWith('checkpoint-')) continue;
        if (depth < maxDepth) subdirs.push(full);
      } else if (!kind && e.isFile() && datasetLike(rel) && !NOT_DATASETS.test(e.name)) {
        result.datasetFiles.push(full);
      }
    }
    await Promise.all(subdirs.map((d) => visit(d, depth + 1)));
  };
  await visit(root, 0);
  result.checkpoints.sort((a, b) => a.dir.localeCompare(b.dir));
  result.datasetFiles.sort();
  return result;
}
