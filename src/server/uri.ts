import { fileURLToPath } from 'node:url';

/** The file path of a document URI; a non-file URI (untitled:, git:) maps to its decoded path, which resolves to nothing on disk. */
export function fsPathOf(uri: string): string {
  try {
    return fileURLToPath(uri);
  } catch {
    return decodeURIComponent(uri.replace(/^[a-z][\w+.-]*:/i, ''));
  }
}
