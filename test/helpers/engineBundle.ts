import * as path from 'node:path';
import { build } from 'esbuild';

/** The modules of the tfjs engine that a test or a bench script calls in process, as one bundle's exports. */
export interface EngineModules {
  [name: string]: unknown;
}

const REPO = path.resolve(__dirname, '../../..');
const MODULES = [
  'src/trainer/engines/tfjs/backend',
  'src/trainer/engines/tfjs/ops',
  'src/trainer/engines/tfjs/nativeBlas',
  'src/trainer/engines/tfjs/trainable',
  'src/core/experiment/load',
  'src/trainer/data/tokenizer',
  'src/trainer/data/examples',
];

/**
 * Bundles the engine as esbuild.mjs bundles the trainer: tfjs from its ES modules, where gradients are
 * registered (tsc's CommonJS output of tfjs-core has none). The bundle goes in dist/bench/, so that it
 * finds the wasm files and the BLAS addon as the trainer's bundle does.
 */
export async function loadEngineBundle(): Promise<EngineModules> {
  const outfile = path.join(REPO, 'dist/bench/engine.js');
  await build({
    stdin: { contents: MODULES.map((m) => `export * from './${m}';`).join('\n'), resolveDir: REPO, loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    mainFields: ['module', 'main'],
    outfile,
    logLevel: 'warning',
  });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(outfile) as EngineModules;
}
