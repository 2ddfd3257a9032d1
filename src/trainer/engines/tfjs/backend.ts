import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as tfCore from '@tensorflow/tfjs-core';
// tfjs-core registers no gradients by itself (the @tensorflow/tfjs umbrella does this import).
import '@tensorflow/tfjs-core/dist/register_all_gradients';
// Importing a value keeps the package in the bundle: loading it registers the backend (its package.json
// marks the Node entry side-effect free, so a bare import would be dropped).
import { version_cpu } from '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { ExperimentConfig } from '../../../core/experiment/schema';
import { installBlasMatMul, loadNativeBlas, type NativeBlas } from './nativeBlas';
import { installSlicedBatchMatMul } from './wasmBatchMatMul';
import { installBlockedTranspose } from './wasmTranspose';

type Tf = typeof tfCore;

/**
 * The TensorFlow.js module in use. tfjs-node(-gpu) ships its own copy of tfjs-core with its backend
 * registered there, so the engine must call whichever copy owns the chosen backend: every engine module
 * reads this binding rather than importing tfjs-core directly.
 */
export let tf: Tf = tfCore;

let blasMatMuls = false;
/**
 * Whether a system BLAS does the matmuls: it takes transpose flags at full speed, whereas the wasm
 * backend's own kernel is fast only without them (see ops.ts).
 */
export function matMulFlagsAreFast(): boolean {
  return blasMatMuls;
}

export interface BackendChoice {
  /** tfjs backend name as registered. */
  name: string;
  /** What the run reports, e.g. "tfjs wasm (SIMD, 1 thread)". */
  description: string;
  /** The system BLAS doing the wasm backend's matmuls, when one does. */
  blas?: NativeBlas;
}

type Want = ExperimentConfig['backend'];

/**
 * Starts the backend that `device` and `backend` ask for. `auto` tries the fastest first: TensorFlow's
 * native library (tfjs-node-gpu, then tfjs-node: optional packages a user installs, since their install
 * script downloads libtensorflow), WebGPU (optional `webgpu` + tfjs-backend-webgpu packages), then the
 * built-in WASM and CPU backends. An explicit choice that cannot start is an error saying why.
 */
export async function initBackend(
  device: ExperimentConfig['device'],
  backend: Want,
  searchRoots: string[],
): Promise<BackendChoice> {
  const order: Exclude<Want, 'auto'>[] =
    backend !== 'auto'
      ? [backend]
      : device === 'cpu'
        ? ['tensorflow', 'wasm', 'cpu']
        : ['tensorflow', 'webgpu', 'wasm', 'cpu'];
  const failures: string[] = [];
  for (const name of order) {
    try {
      const choice = await start(name, device, searchRoots);
      if (device === 'gpu' && !choice.description.includes('GPU'))
        throw new Error(`${choice.description} is not a GPU backend`);
      return choice;
    } catch (e) {
      failures.push(`${name}: ${(e as Error).message}`);
    }
  }
  throw new Error(
    `no TensorFlow.js backend could start for device '${device}', backend '${backend}':\n  ${failures.join('\n  ')}`,
  );
}

async function start(
  name: Exclude<Want, 'auto'>,
  device: ExperimentConfig['device'],
  roots: string[],
): Promise<BackendChoice> {
  switch (name) {
    case 'tensorflow': {
      const gpu = device !== 'cpu' ? optionalRequire<Tf>('@tensorflow/tfjs-node-gpu', roots) : undefined;
      const native = gpu ?? (device !== 'gpu' ? optionalRequire<Tf>('@tensorflow/tfjs-node', roots) : undefined);
      if (!native)
        throw new Error(
          `@tensorflow/tfjs-node${device === 'gpu' ? '-gpu' : '(-gpu)'} is not installed (npm install it in the workspace; its install script downloads libtensorflow)`,
        );
      tf = native;
      await activate('tensorflow');
      return { name: 'tensorflow', description: gpu ? 'tfjs-node-gpu (CUDA GPU)' : 'tfjs-node (CPU, libtensorflow)' };
    }
    case 'webgpu': {
      const webgpu = optionalRequire<{ create(opts: string[]): unknown; globals: Record<string, unknown> }>(
        'webgpu',
        roots,
      );
      const backendModule = optionalRequire<object>('@tensorflow/tfjs-backend-webgpu', roots);
      if (!webgpu || !backendModule)
        throw new Error('the optional packages webgpu and @tensorflow/tfjs-backend-webgpu are not installed');
      Object.assign(globalThis, webgpu.globals);
      (globalThis as { navigator?: unknown }).navigator = { gpu: webgpu.create([]) };
      await activate('webgpu');
      return { name: 'webgpu', description: 'tfjs webgpu (Dawn)' };
    }
    case 'wasm': {
      // The .wasm files are copied next to the bundle by esbuild.mjs; from tsc output they sit in node_modules.
      setWasmPaths(wasmFolder());
      await activate('wasm');
      // First: the sliced BatchMatMul looks Transpose up when it is installed.
      installBlockedTranspose(tf);
      installSlicedBatchMatMul(tf);
      const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      const blas = loadNativeBlas();
      if ('addon' in blas) {
        installBlasMatMul(tf, blas);
        blasMatMuls = true;
        return {
          name: 'wasm',
          description: `tfjs wasm (${simd ? 'SIMD' : 'no SIMD'}, matmuls on ${blas.description})`,
          blas,
        };
      }
      return {
        name: 'wasm',
        description: `tfjs wasm (${simd ? 'SIMD' : 'no SIMD'}, 1 thread, batched matmuls sliced onto XNNPACK; no native BLAS: ${blas.reason})`,
      };
    }
    case 'cpu':
      await activate('cpu');
      return { name: 'cpu', description: `tfjs cpu ${version_cpu} (plain JavaScript)` };
  }
}

async function activate(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} failed to initialise`);
  await tf.ready();
}

function wasmFolder(): string {
  const bundled = path.join(__dirname, 'wasm');
  if (existsSync(path.join(bundled, 'tfjs-backend-wasm-simd.wasm'))) return bundled + path.sep;
  return (
    path.dirname(createRequire(__filename).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm')) +
    path.sep
  );
}

/** Loads an optional package from the workspace or the extension's folder, or undefined when absent. */
function optionalRequire<T>(name: string, roots: string[]): T | undefined {
  for (const root of [...roots, __dirname]) {
    try {
      return createRequire(path.join(root, 'noop.js'))(name) as T;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw e;
    }
  }
  return undefined;
}
