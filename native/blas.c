// float32 matrix products for the TensorFlow.js engine, computed by a system BLAS.
//
// The BLAS is opened at run time (dlopen), not linked: the addon builds without any BLAS development
// package, and a machine without OpenBLAS simply keeps tfjs's own XNNPACK path. Operands are given as
// one ArrayBuffer (the wasm backend's heap) with byte offsets, so no tensor is copied; every offset and
// extent is checked against the buffer before the BLAS sees a pointer.
#include <dlfcn.h>
#include "napi_util.h"

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };
typedef void (*sgemm_fn)(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                         const float *b, int ldb, float beta, float *c, int ldc);
typedef void (*set_threads_fn)(int);
typedef char *(*get_config_fn)(void);

static sgemm_fn sgemm;
static set_threads_fn set_threads;
static get_config_fn get_config;

// open(path) -> description string. Loads the library and its cblas_sgemm; idempotent per process.
static napi_value open_blas(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[4096];
  size_t len;
  CHECK(napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len));
  if (!sgemm) {
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) return fail(env, dlerror());
    sgemm_fn f = (sgemm_fn)dlsym(lib, "cblas_sgemm");
    if (!f) return fail(env, "the library has no cblas_sgemm");
    set_threads = (set_threads_fn)dlsym(lib, "openblas_set_num_threads");
    get_config = (get_config_fn)dlsym(lib, "openblas_get_config");
    sgemm = f;
  }
  const char *config = get_config ? get_config() : "cblas";
  napi_value out;
  CHECK(napi_create_string_utf8(env, config, NAPI_AUTO_LENGTH, &out));
  return out;
}

// threads(n): OpenBLAS's own thread count (process-wide); a no-op for other libraries.
static napi_value threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t n;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_int32(env, argv[0], &n));
  if (set_threads && n > 0) set_threads(n);
  return NULL;
}

// sgemm(buffer, batch, m, n, k, transA, transB, aOffset, aStride, bOffset, bStride, cOffset)
// For each i < batch: C_i[m×n] = op(A_i) · op(B_i), row-major; offsets in bytes, strides in elements
// (a stride of 0 broadcasts one matrix over the batch); C's slices are contiguous.
static napi_value gemm(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 12) return fail(env, "taia_native.sgemm takes 12 arguments");
  if (!sgemm) return fail(env, "taia_native: open() a BLAS library first");
  void *data;
  size_t bytes;
  CHECK(napi_get_arraybuffer_info(env, argv[0], &data, &bytes));
  int64_t v[9];
  for (int i = 0; i < 4; i++) CHECK(napi_get_value_int64(env, argv[1 + i], &v[i]));
  bool ta, tb;
  CHECK(napi_get_value_bool(env, argv[5], &ta));
  CHECK(napi_get_value_bool(env, argv[6], &tb));
  for (int i = 0; i < 5; i++) CHECK(napi_get_value_int64(env, argv[7 + i], &v[4 + i]));
  int64_t batch = v[0], m = v[1], n = v[2], k = v[3];
  int64_t ao = v[4], as = v[5], bo = v[6], bs = v[7], co = v[8];
  if (m < 1 || n < 1 || k < 1 || m > INT32_MAX || n > INT32_MAX || k > INT32_MAX)
    return fail(env, "taia_native.sgemm: matrix sizes out of range");
  if (!inside(ao, batch, as, m * k, bytes) || !inside(bo, batch, bs, k * n, bytes) ||
      !inside(co, batch, m * n, m * n, bytes))
    return fail(env, "taia_native.sgemm: an operand lies outside the buffer");
  float *base = (float *)data;
  for (int64_t i = 0; i < batch; i++) {
    const float *a = base + ao / 4 + i * as;
    const float *b = base + bo / 4 + i * bs;
    float *c = base + co / 4 + i * m * n;
    sgemm(ROW_MAJOR, ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, (int)m, (int)n, (int)k, 1.0f, a,
          ta ? (int)m : (int)k, b, tb ? (int)k : (int)n, 0.0f, c, (int)n);
  }
  return NULL;
}

napi_value register_blas(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, open_blas, NULL, NULL, NULL, napi_default, NULL},
      {"threads", NULL, threads, NULL, NULL, NULL, napi_default, NULL},
      {"sgemm", NULL, gemm, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, 3, props) == napi_ok ? exports : NULL;
}
