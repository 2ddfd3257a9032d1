// Results of slow reads (safetensors headers, dataset detection) kept until their files change.
import { stat } from 'node:fs/promises';

/** "mtime:size" of each file ("-" when missing): changes whenever one of them is rewritten, added or removed. */
export async function fileSignature(files: string[]): Promise<string> {
  const parts = await Promise.all(
    files.map((f) =>
      stat(f).then(
        (s) => `${s.mtimeMs}:${s.size}`,
        () => '-',
      ),
    ),
  );
  return parts.join('|');
}

/**
 * Promises by key, reused while the key's signature is unchanged. Failures are cached too, so a broken
 * checkpoint is not re-read on every keystroke. The oldest entry goes when `limit` is reached.
 */
export class SignatureCache<T> {
  private readonly entries = new Map<string, { signature: string; value: Promise<T> }>();

  constructor(private readonly limit = 64) {}

  get(key: string, signature: string, load: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit?.signature === signature) return hit.value;
    this.entries.delete(key);
    if (this.entries.size >= this.limit) this.entries.delete(this.entries.keys().next().value!);
    const value = load();
    value.catch(() => undefined); // a cached rejection is observed by whoever awaits it, not unhandled
    this.entries.set(key, { signature, value });
    return value;
  }
}
