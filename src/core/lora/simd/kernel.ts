// AssemblyScript, compiled to WebAssembly by esbuild.mjs (not part of the tsc program): the SIMD form
// of addDeltaRows (../fold.ts, the reference), fused with decoding the stored rows and encoding the
// output. It works on a shared memory that the caller lays out (../kernel.ts), so several threads can
// fold disjoint rows of one chunk at once.
//
// Numerics equal the reference bit for bit, which is PEFT's merge on a CPU with float32 factors
// (W + (B·A)·scaling, rounded): each element's sum is a float32 sum of float32 products taken in order
// k = 0 … r-1 starting from 0 (WebAssembly has no fused multiply-add, so each step rounds), times the
// scaling in float32, added to the stored value in float32, then rounded to the output dtype (nearest
// even). A block of 4 rows × 8 columns keeps its 8 float32x4 sums in registers over the r products.
// The right factor comes packed by groups of 8 columns, [cols / 8][r][8] (../kernel.ts packs it, for
// this kernel and the native one), so a block reads one sequential stream: in the stored layout its r
// rows lie a power of two apart and evict each other from the L1 cache. The columns are taken in
// panels so that the panel of the right factor stays in the L1 cache.

// Dtype codes, as ../kernel.ts passes them.
const F32: i32 = 0;
const F16: i32 = 1;
const BF16: i32 = 2;

/** Bytes of the right factor's panel that one row block passes over (L1 is 32-48 KiB). */
const PANEL_BYTES: i32 = 24576;

@inline function width(dtype: i32): i32 {
  return dtype == F32 ? 4 : 2;
}

/** IEEE half bits → float32 value. */
function halfToF32(h: u32): f32 {
  const sign = h & 0x8000 ? <f32>-1 : <f32>1;
  const exp = (h >> 10) & 0x1f;
  const mant = <f32>(h & 0x3ff);
  if (exp == 0) return sign * mant * <f32>5.960464477539063e-8; // 2^-24
  if (exp == 0x1f) return mant != 0 ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * reinterpret<f32>((exp - 15 + 127) << 23);
}

/** float32 bits → IEEE half bits, round to nearest even (the port of convert.ts f32BitsToF16). */
function f32ToHalf(bits: u32): u32 {
  const sign = (bits >> 16) & 0x8000;
  const exp = <i32>((bits >> 23) & 0xff);
  const mant = bits & 0x7fffff;
  if (exp == 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = <u32>(14 - e);
    const half = <u32>1 << (shift - 1);
    const rest = m & ((<u32>1 << shift) - 1);
    let r = m >> shift;
    if (rest > half || (rest == half && (r & 1))) r++;
    return sign | r;
  }
  let r = (<u32>e << 10) | (mant >> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (r & 1))) r++;
  return sign | r;
}

/** float32 bits → bfloat16 bits, round to nearest even; NaN stays a quiet NaN. */
@inline function f32ToBf16(bits: u32): u32 {
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >> 16) | 0x0040) & 0xffff;
  return ((bits + 0x7fff + ((bits >> 16) & 1)) >> 16) & 0xffff;
}

/** Stored element i as float32. */
@inline function load1(p: usize, dtype: i32, i: i32): f32 {
  if (dtype == F32) return load<f32>(p + (<usize>i << 2));
  const h = <u32>load<u16>(p + (<usize>i << 1));
  return dtype == F16 ? halfToF32(h) : reinterpret<f32>(h << 16);
}

@inline function store1(p: usize, dtype: i32, i: i32, v: f32): void {
  if (dtype == F32) store<f32>(p + (<usize>i << 2), v);
  else store<u16>(p + (<usize>i << 1), <u16>(dtype == F16 ? f32ToHalf(reinterpret<u32>(v)) : f32ToBf16(reinterpret<u32>(v))));
}

/** Elements i..i+3 as float32 lanes. */
@inline function load4(p: usize, dtype: i32, i: i32): v128 {
  if (dtype == F32) return v128.load(p + (<usize>i << 2));
  if (dtype != F16) return i32x4.shl(v128.load16x4_u(p + (<usize>i << 1)), 16);
  return f32x4(load1(p, dtype, i), load1(p, dtype, i + 1), load1(p, dtype, i + 2), load1(p, dtype, i + 3));
}

/** Stores four float32 lanes as elements i..i+3. */
@inline function store4(p: usize, dtype: i32, i: i32, v: v128): void {
  if (dtype == F32) {
    v128.store(p + (<usize>i << 2), v);
  } else if (dtype == F16) {
    store<u16>(p + (<usize>i << 1), <u16>f32ToHalf(i32x4.extract_lane(v, 0)));
    store<u16>(p + (<usize>(i + 1) << 1), <u16>f32ToHalf(i32x4.extract_lane(v, 1)));
    store<u16>(p + (<usize>(i + 2) << 1), <u16>f32ToHalf(i32x4.extract_lane(v, 2)));
    store<u16>(p + (<usize>(i + 3) << 1), <u16>f32ToHalf(i32x4.extract_lane(v, 3)));
  } else {
    // Round to nearest even in each lane; NaN lanes become (bits >> 16) | 0x40.
    const abs = v128.and(v, i32x4.splat(0x7fffffff));
    const nan = i32x4.gt_s(abs, i32x4.splat(0x7f800000));
    const rounded = i32x4.shr_u(i32x4.add(i32x4.add(v, i32x4.splat(0x7fff)), v128.and(i32x4.shr_u(v, 16), i32x4.splat(1))), 16);
    const quiet = v128.or(i32x4.shr_u(v, 16), i32x4.splat(0x40));
    const h = v128.bitselect(quiet, rounded, nan);
    v128.store64_lane(p + (<usize>i << 1), i16x8.narrow_i32x4_u(h, h), 0);
  }
}

/** Row q of a block: stored values + sums × scale, encoded. */
@inline function finish(w: usize, wt: i32, out: usize, ot: i32, e: i32, sums: v128, scale: v128): void {
  store4(out, ot, e, f32x4.add(load4(w, wt, e), f32x4.mul(sums, scale)));
}

/** One element (i, j): the reference's order of operations, for the edges of the blocks. */
@inline function one(w: usize, wt: i32, out: usize, ot: i32, left: usize, right: usize, cols: i32, r: i32, scale: f32, i: i32, j: i32): void {
  let d: f32 = 0;
  const column = right + (<usize>(((j >> 3) * r << 3) + (j & 7)) << 2);
  for (let k = 0; k < r; k++) d += load<f32>(left + (<usize>(i * r + k) << 2)) * load<f32>(column + (<usize>k << 5));
  const e = i * cols + j;
  store1(out, ot, e, load1(w, wt, e) + d * scale);
}

/**
 * Output rows [0, rows) of a chunk: out = encode(decode(w) + (left·right)·scale), with w and out
 * `rows × cols` elements of dtypes wt and ot, left the chunk's rows of the left factor (`rows × r`
 * float32, row-major) and right the whole right factor (`r × cols` float32), packed by groups of 8
 * columns.
 */
export function fold(w: usize, wt: i32, out: usize, ot: i32, left: usize, right: usize, rows: i32, cols: i32, r: i32, scale: f32): void {
  if (wt == BF16 && ot == BF16) run(w, BF16, out, BF16, left, right, rows, cols, r, scale);
  else if (wt == F32 && ot == F32) run(w, F32, out, F32, left, right, rows, cols, r, scale);
  else run(w, wt, out, ot, left, right, rows, cols, r, scale);
}

// Inlined at each call, so the common dtype pairs get loops with constant dtypes.
@inline function run(w: usize, wt: i32, out: usize, ot: i32, left: usize, right: usize, rows: i32, cols: i32, r: i32, scale: f32): void {
  const panel = max(8, (PANEL_BYTES / (r << 2)) & ~7);
  const lstride = <usize>r << 2;
  const s = f32x4.splat(scale);
  for (let j0 = 0; j0 < cols; j0 += panel) {
    const j1 = min(cols, j0 + panel);
    let i = 0;
    for (; i + 4 <= rows; i += 4) {
      const l = left + <usize>i * lstride;
      let j = j0;
      for (; j + 8 <= j1; j += 8) {
        let a0 = f32x4.splat(0), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
        let lp = l;
        let rp = right + (<usize>(j * r) << 2);
        for (let k = 0; k < r; k++) {
          const x = v128.load(rp);
          const y = v128.load(rp + 16);
          let v = v128.load32_splat(lp);
          a0 = f32x4.add(a0, f32x4.mul(v, x));
          b0 = f32x4.add(b0, f32x4.mul(v, y));
          v = v128.load32_splat(lp + lstride);
          a1 = f32x4.add(a1, f32x4.mul(v, x));
          b1 = f32x4.add(b1, f32x4.mul(v, y));
          v = v128.load32_splat(lp + 2 * lstride);
          a2 = f32x4.add(a2, f32x4.mul(v, x));
          b2 = f32x4.add(b2, f32x4.mul(v, y));
          v = v128.load32_splat(lp + 3 * lstride);
          a3 = f32x4.add(a3, f32x4.mul(v, x));
          b3 = f32x4.add(b3, f32x4.mul(v, y));
          lp += 4;
          rp += 32;
        }
        const e = i * cols + j;
        finish(w, wt, out, ot, e, a0, s);
        finish(w, wt, out, ot, e + 4, b0, s);
        finish(w, wt, out, ot, e + cols, a1, s);
        finish(w, wt, out, ot, e + cols + 4, b1, s);
        finish(w, wt, out, ot, e + 2 * cols, a2, s);
        finish(w, wt, out, ot, e + 2 * cols + 4, b2, s);
        finish(w, wt, out, ot, e + 3 * cols, a3, s);
        finish(w, wt, out, ot, e + 3 * cols + 4, b3, s);
      }
      for (; j < j1; j++) for (let q = 0; q < 4; q++) one(w, wt, out, ot, left, right, cols, r, scale, i + q, j);
    }
    for (; i < rows; i++) for (let j = j0; j < j1; j++) one(w, wt, out, ot, left, right, cols, r, scale, i, j);
  }
}
