import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

/** tfjs's kernel registry (the functions of tfjs-core that swap a backend's kernel). */
export interface KernelRegistry {
  getKernel(name: string, backend: string): KernelConfig | undefined;
  unregisterKernel(name: string, backend: string): void;
  registerKernel(config: KernelConfig): void;
}

/** A kernel's call: its inputs, the backend (typed as far as the kernel uses it), its attributes. */
export interface KernelArgs<I, B, A> {
  inputs: I;
  backend: B;
  attrs: A;
}

/** BatchMatMul's inputs and attributes. */
export type MatMulArgs<B> = KernelArgs<
  { a: TensorInfo; b: TensorInfo },
  B,
  { transposeA: boolean; transposeB: boolean }
>;

/**
 * Replaces the wasm backend's kernel `name` by the one `make` builds around it: the replaced kernel
 * stays callable for the cases the new one leaves to it. Call once the backend is ready.
 */
export function replaceWasmKernel<Args>(
  tf: KernelRegistry,
  name: string,
  make: (previous: (args: Args) => TensorInfo) => (args: Args) => TensorInfo,
): void {
  const previous = tf.getKernel(name, 'wasm');
  if (!previous) throw new Error(`the wasm backend has no ${name} kernel`);
  const kernelFunc = make((args) => (previous.kernelFunc as KernelFunc)(args as never) as TensorInfo);
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc });
}
