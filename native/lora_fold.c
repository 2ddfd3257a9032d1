// The LoRA fold of merges on the CPU's own vectors: out = encode(decode(w) + (L·R)·scale), the native
// form of src/core/lora/simd/kernel.ts (WebAssembly SIMD, 4 lanes, the fallback where this addon is
// not built) on the same shared memory and layout (src/core/lora/kernel.ts), with the same results.
//
// Numerics equal the reference (addDeltaRowsReference in src/core/lora/fold.ts) bit for bit: each
// element's sum is a float32 sum of float32 products in order k = 0 … r-1 starting from 0, each step
// rounded; esbuild.mjs compiles with -ffp-contract=off, so no multiply-add is fused. The kernel
// (lora_fold_kernel.h) uses GCC/Clang vector extensions of 8 float32 lanes: one 256-bit register in
// its AVX2 compilation (lora_fold_avx2.c, chosen where the CPU has AVX2), two 128-bit ones in the
// baseline one below, with lane-wise IEEE operations either way, so the results do not depend on the CPU.
#include <stdlib.h>
#include "napi_util.h"
#define FOLD_ROWS fold_rows_baseline
#include "lora_fold_kernel.h"

#if defined(__x86_64__)
void fold_rows_avx2(const uint8_t *w, int wt, uint8_t *out, int ot, const float *left, const float *right, int rows,
                    int cols, int r, float scale);
// TAIA_LORA_NO_AVX2=1 runs the baseline compilation on an AVX2 CPU too (the tests compare both).
static int has_avx2(void) { return __builtin_cpu_supports("avx2") && !getenv("TAIA_LORA_NO_AVX2"); }
#else
static int has_avx2(void) { return 0; }
#define fold_rows_avx2 fold_rows_baseline
#endif

// foldRows(memory, w, wt, out, ot, left, right, rows, cols, r, scale): the arguments of the wasm
// kernel's fold() (byte offsets into the shared memory, dtype codes, sizes), with the memory as a
// typed array over it. Every operand's extent is checked against the memory first.
static napi_value fold(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 11) return fail(env, "taia_native.foldRows takes 11 arguments");
  napi_typedarray_type type;
  size_t length, offset;
  void *data;
  napi_value buffer;
  CHECK(napi_get_typedarray_info(env, argv[0], &type, &length, &data, &buffer, &offset));
  if (type != napi_uint8_array) return fail(env, "taia_native.foldRows: the memory must be a Uint8Array");
  int64_t v[9];
  for (int i = 0; i < 9; i++) CHECK(napi_get_value_int64(env, argv[1 + i], &v[i]));
  double scale;
  CHECK(napi_get_value_double(env, argv[10], &scale));
  const int64_t w = v[0], wt = v[1], out = v[2], ot = v[3], left = v[4], right = v[5];
  const int64_t rows = v[6], cols = v[7], r = v[8];
  if (wt < F32 || wt > BF16 || ot < F32 || ot > BF16) return fail(env, "taia_native.foldRows: unknown dtype code");
  if (rows < 0 || cols < 1 || r < 1 || rows > INT32_MAX || cols > INT32_MAX || r > INT32_MAX ||
      rows * cols > INT64_MAX / 8)
    return fail(env, "taia_native.foldRows: sizes out of range");
  if (rows == 0) return NULL;
  const int64_t bytes = (int64_t)length;
  const int64_t groups = (cols + 7) / 8;
  const int in_bounds = w >= 0 && w + rows * cols * width((int)wt) <= bytes && out >= 0 &&
                        out + rows * cols * width((int)ot) <= bytes && inside(left, 1, 0, rows * r, bytes) &&
                        inside(right, 1, 0, groups * 8 * r, bytes);
  if (!in_bounds) return fail(env, "taia_native.foldRows: an operand lies outside the memory");
  uint8_t *base = data;
  (has_avx2() ? fold_rows_avx2 : fold_rows_baseline)(base + w, (int)wt, base + out, (int)ot,
                                                     (const float *)(base + left), (const float *)(base + right),
                                                     (int)rows, (int)cols, (int)r, (float)scale);
  return NULL;
}

// foldVectors() -> the vectors fold_rows runs on here, e.g. "8 float32 lanes, AVX2".
static napi_value vectors(napi_env env, napi_callback_info info) {
  (void)info;
#if defined(__x86_64__)
  const char *isa = has_avx2() ? "8 float32 lanes, AVX2" : "8 float32 lanes, SSE2";
#else
  const char *isa = "8 float32 lanes";
#endif
  napi_value out;
  CHECK(napi_create_string_utf8(env, isa, NAPI_AUTO_LENGTH, &out));
  return out;
}

napi_value register_lora_fold(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"foldRows", NULL, fold, NULL, NULL, NULL, napi_default, NULL},
      {"foldVectors", NULL, vectors, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, 2, props) == napi_ok ? exports : NULL;
}
