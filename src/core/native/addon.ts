import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

// The Node-API addon (native/, built by esbuild.mjs with the system's C compiler into dist/native):
// the trainer's matrix products on a system BLAS and the merges' LoRA fold on the CPU's vectors.
// Optional: where it was not built, each user keeps its WebAssembly path and says why.

/** The addon's exports (native/*.c). */
export interface NativeAddon {
  /** Opens a cblas library (OpenBLAS by default); its description. */
  open(library: string): string;
  threads(n: number): void;
  sgemm(
    heap: ArrayBuffer,
    batch: number,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    aOffset: number,
    aStride: number,
    bOffset: number,
    bStride: number,
    cOffset: number,
  ): void;
  /** The LoRA fold, with the arguments of the WebAssembly kernel's fold() after the memory. */
  foldRows(
    memory: Uint8Array,
    ...call: [number, number, number, number, number, number, number, number, number, number]
  ): void;
  foldVectors(): string;
}

export const ADDON_NAME = 'taia_native.node';

let found: { addon: NativeAddon; file: string } | { reason: string } | undefined;

/**
 * The addon next to the running bundle (dist/native), one folder up (the bench bundles in dist/bench),
 * or in the repository's dist/native (the tests' compiled sources in out/), or why not.
 */
export function nativeAddon(): { addon: NativeAddon; file: string } | { reason: string } {
  if (found) return found;
  const candidates: string[] = [];
  for (let dir = __dirname, up = 0; up < 5; up++, dir = path.dirname(dir))
    candidates.push(path.join(dir, 'native', ADDON_NAME), path.join(dir, 'dist', 'native', ADDON_NAME));
  const file = candidates.find((f) => existsSync(f));
  if (!file) return (found = { reason: `no ${ADDON_NAME} (npm run build makes it where a C compiler is installed)` });
  try {
    return (found = { addon: createRequire(__filename)(file) as NativeAddon, file });
  } catch (e) {
    return (found = { reason: `${file}: ${(e as Error).message}` });
  }
}
