// The LoRA fold's kernel, included by lora_fold.c (compiled for the baseline CPU) and by
// lora_fold_avx2.c (compiled with -mavx2 on x86-64): the same source for both, so that the same
// operations in the same order give the same results; only the width of the registers differs.
// FOLD_ROWS names the function it defines.
#include <stdint.h>
#include <string.h>

typedef float f8 __attribute__((vector_size(32), aligned(4)));
typedef uint32_t u8 __attribute__((vector_size(32), aligned(4)));
typedef int32_t i8 __attribute__((vector_size(32), aligned(4)));
typedef uint16_t h8 __attribute__((vector_size(16), aligned(2)));

enum { F32 = 0, F16 = 1, BF16 = 2 };
/** Bytes of the right factor's panel that one row block passes over: kept in L2 (64 KiB ran best here). */
enum { PANEL_BYTES = 65536 };

// Inlined into each compilation of the kernel (AVX2 and baseline): called across them, a vector
// argument would pass by the caller's ABI (ymm registers) and be read by the callee's (memory).
#define INLINE static inline __attribute__((always_inline))


INLINE int width(int dtype) { return dtype == F32 ? 4 : 2; }

/** IEEE half bits → float32 value (the port of simd/kernel.ts halfToF32). */
static float half_to_f32(uint32_t h) {
  const float sign = (h & 0x8000) ? -1.0f : 1.0f;
  const uint32_t exp = (h >> 10) & 0x1f;
  const float mant = (float)(h & 0x3ff);
  if (exp == 0) return sign * mant * 5.960464477539063e-8f; // 2^-24
  if (exp == 0x1f) return mant != 0 ? __builtin_nanf("") : sign * __builtin_inff();
  uint32_t scale_bits = (exp - 15 + 127) << 23;
  float scale;
  memcpy(&scale, &scale_bits, 4);
  return sign * (1 + mant / 1024) * scale;
}

/** float32 bits → IEEE half bits, round to nearest even (the port of simd/kernel.ts f32ToHalf). */
static uint32_t f32_to_half(uint32_t bits) {
  const uint32_t sign = (bits >> 16) & 0x8000;
  const int32_t exp = (int32_t)((bits >> 23) & 0xff);
  const uint32_t mant = bits & 0x7fffff;
  if (exp == 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >> 13) : 0);
  const int32_t e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const uint32_t m = mant | 0x800000;
    const uint32_t shift = (uint32_t)(14 - e);
    const uint32_t half = 1u << (shift - 1);
    const uint32_t rest = m & ((1u << shift) - 1);
    uint32_t r = m >> shift;
    if (rest > half || (rest == half && (r & 1))) r++;
    return sign | r;
  }
  uint32_t r = ((uint32_t)e << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (r & 1))) r++;
  return sign | r;
}

INLINE uint32_t f32_bits(float v) {
  uint32_t b;
  memcpy(&b, &v, 4);
  return b;
}

/** float32 bits → bfloat16 bits, round to nearest even; NaN stays a quiet NaN. */
INLINE uint32_t f32_to_bf16(uint32_t bits) {
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >> 16) | 0x0040) & 0xffff;
  return ((bits + 0x7fff + ((bits >> 16) & 1)) >> 16) & 0xffff;
}

INLINE float load1(const uint8_t *p, int dtype, size_t i) {
  if (dtype == F32) {
    float v;
    memcpy(&v, p + 4 * i, 4);
    return v;
  }
  uint16_t h;
  memcpy(&h, p + 2 * i, 2);
  if (dtype == F16) return half_to_f32(h);
  const uint32_t bits = (uint32_t)h << 16;
  float v;
  memcpy(&v, &bits, 4);
  return v;
}

INLINE void store1(uint8_t *p, int dtype, size_t i, float v) {
  if (dtype == F32) {
    memcpy(p + 4 * i, &v, 4);
    return;
  }
  const uint16_t h = (uint16_t)(dtype == F16 ? f32_to_half(f32_bits(v)) : f32_to_bf16(f32_bits(v)));
  memcpy(p + 2 * i, &h, 2);
}

/** Elements i..i+7 as float32 lanes. */
INLINE f8 load8(const uint8_t *p, int dtype, size_t i) {
  if (dtype == F32) return *(const f8 *)(p + 4 * i);
  if (dtype == BF16) {
    const u8 wide = __builtin_convertvector(*(const h8 *)(p + 2 * i), u8) << 16;
    f8 v;
    memcpy(&v, &wide, 32);
    return v;
  }
  f8 v;
  for (int q = 0; q < 8; q++) v[q] = load1(p, dtype, i + q);
  return v;
}

/** Stores eight float32 lanes as elements i..i+7. */
INLINE void store8(uint8_t *p, int dtype, size_t i, f8 v) {
  if (dtype == F32) {
    *(f8 *)(p + 4 * i) = v;
  } else if (dtype == BF16) {
    // Round to nearest even in each lane; NaN lanes become (bits >> 16) | 0x40.
    u8 b;
    memcpy(&b, &v, 32);
    const i8 nan = (i8)((b & 0x7fffffff) > 0x7f800000);
    const u8 rounded = (b + 0x7fff + ((b >> 16) & 1)) >> 16;
    const u8 quiet = (b >> 16) | 0x40;
    const u8 h = ((u8)nan & quiet) | (~(u8)nan & rounded);
    *(h8 *)(p + 2 * i) = __builtin_convertvector(h, h8);
  } else {
    for (int q = 0; q < 8; q++) store1(p, dtype, i + q, v[q]);
  }
}

INLINE f8 splat(float x) { return (f8){x, x, x, x, x, x, x, x}; }

/** Row `e`'s 8 elements: stored values + sums × scale, encoded. */
INLINE void finish(const uint8_t *w, int wt, uint8_t *out, int ot, size_t e, f8 sums, f8 scale) {
  store8(out, ot, e, load8(w, wt, e) + sums * scale);
}

/** One element (i, j) in the reference's order of operations, for the edges of the blocks. */
static void one(const uint8_t *w, int wt, uint8_t *out, int ot, const float *left, const float *right, int cols,
                int r, float scale, int i, int j) {
  float d = 0;
  const float *column = right + (size_t)(j >> 3) * r * 8 + (j & 7);
  for (int k = 0; k < r; k++) d += left[(size_t)i * r + k] * column[(size_t)k * 8];
  const size_t e = (size_t)i * cols + j;
  store1(out, ot, e, load1(w, wt, e) + d * scale);
}

/**
 * Rows [0, rows) of a chunk: 4 rows × 16 columns at a time, the right factor packed by groups of 8
 * columns, [cols / 8][r][8], so that a block reads its two groups as sequential streams.
 */
void FOLD_ROWS(const uint8_t *w, int wt, uint8_t *out, int ot, const float *left, const float *right, int rows,
               int cols, int r, float scale) {
  int panel = PANEL_BYTES / (r * 4) / 16 * 16;
  if (panel < 16) panel = 16;
  const f8 s = splat(scale);
  for (int j0 = 0; j0 < cols; j0 += panel) {
    const int j1 = j0 + panel < cols ? j0 + panel : cols;
    int i = 0;
    for (; i + 4 <= rows; i += 4) {
      const float *l = left + (size_t)i * r;
      int j = j0;
      for (; j + 16 <= j1; j += 16) {
        f8 a0 = splat(0), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
        const float *x = right + (size_t)(j >> 3) * r * 8;
        const float *y = x + (size_t)r * 8;
        for (int k = 0; k < r; k++) {
          const f8 xk = *(const f8 *)(x + 8 * k), yk = *(const f8 *)(y + 8 * k);
          f8 v = splat(l[k]);
          a0 += v * xk;
          b0 += v * yk;
          v = splat(l[r + k]);
          a1 += v * xk;
          b1 += v * yk;
          v = splat(l[2 * r + k]);
          a2 += v * xk;
          b2 += v * yk;
          v = splat(l[3 * r + k]);
          a3 += v * xk;
          b3 += v * yk;
        }
        const size_t e = (size_t)i * cols + j;
        finish(w, wt, out, ot, e, a0, s);
        finish(w, wt, out, ot, e + 8, b0, s);
        finish(w, wt, out, ot, e + cols, a1, s);
        finish(w, wt, out, ot, e + cols + 8, b1, s);
        finish(w, wt, out, ot, e + 2 * (size_t)cols, a2, s);
        finish(w, wt, out, ot, e + 2 * (size_t)cols + 8, b2, s);
        finish(w, wt, out, ot, e + 3 * (size_t)cols, a3, s);
        finish(w, wt, out, ot, e + 3 * (size_t)cols + 8, b3, s);
      }
      for (; j < j1; j++)
        for (int q = 0; q < 4; q++) one(w, wt, out, ot, left, right, cols, r, scale, i + q, j);
    }
    for (; i < rows; i++)
      for (int j = j0; j < j1; j++) one(w, wt, out, ot, left, right, cols, r, scale, i, j);
  }
}

