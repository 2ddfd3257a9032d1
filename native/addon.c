// taia_native: the Node-API addon of TAIA Lab, built by esbuild.mjs with the system's C compiler.
// blas.c: float32 matrix products on a system BLAS, for the TensorFlow.js engine's training.
// lora_fold.c: the LoRA fold W + (B·A)·s of merges, exact to PEFT's float32 arithmetic.
#include "napi_util.h"

NAPI_MODULE_INIT() {
  if (!register_blas(env, exports) || !register_lora_fold(env, exports)) return NULL;
  return exports;
}
