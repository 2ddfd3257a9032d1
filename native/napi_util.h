// What the addon's parts share: throwing a JS error, checking Node-API calls, bounds of operands.
#ifndef TAIA_NAPI_UTIL_H
#define TAIA_NAPI_UTIL_H
#include <stdint.h>
#include <node_api.h>

static inline napi_value fail(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

#define CHECK(call)                                                             \
  do {                                                                          \
    if ((call) != napi_ok) return fail(env, "taia_native: " #call " failed"); \
  } while (0)

// Whether [offset, offset + (count - 1)·stride + size) lies in a buffer of `bytes`, all in float32 units.
static inline int inside(int64_t offset, int64_t count, int64_t stride, int64_t size, int64_t bytes) {
  if (offset < 0 || offset % 4 || stride < 0 || size < 0 || count < 1) return 0;
  return offset / 4 + (count - 1) * stride + size <= bytes / 4;
}

napi_value register_blas(napi_env env, napi_value exports);
napi_value register_lora_fold(napi_env env, napi_value exports);
#endif
