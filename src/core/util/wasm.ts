// Compiles a bundled WebAssembly SIMD kernel once, on first use (the delta statistics and the LoRA fold).

// Node has WebAssembly, but the project's lib (ES2022, no DOM) does not declare it: what is used here.
declare const WebAssembly: { Module: new (bytes: Uint8Array) => object };

/**
 * A getter of the compiled module: undefined where the runtime rejects it (no SIMD, or no threads for a
 * shared memory) or where the environment variable `optOut` is 'js', which forces the JS reference.
 */
export function lazyWasmModule(base64: string, optOut: string): () => object | undefined {
  let compiled: object | null | undefined;
  return () => {
    if (process.env[optOut] === 'js') return undefined;
    if (compiled === undefined) {
      try {
        compiled = new WebAssembly.Module(Buffer.from(base64, 'base64'));
      } catch {
        compiled = null; // a runtime without SIMD rejects the module
      }
    }
    return compiled ?? undefined;
  };
}
