// AssemblyScript, compiled to WebAssembly by esbuild.mjs (not part of the tsc program): the SIMD form
// of DeltaAccumulator.add (../stats.ts, the reference). It reads both sides' stored bytes (F32, F16 or
// BF16) straight from linear memory, so decoding and statistics are one pass with no float32 copy.
//
// Numerics against the reference, which computes in float64:
// - products and differences are float32, summed in float32 over a block of 16 per lane, then in
//   float64: relative error of the sums about 1e-7 (at most 16 · 2^-24); bf16/f16 products are exact;
// - max|Δ| is exact: a block that may raise it is redone in float64;
// - counts are exact; a block holding NaN/±Inf (or squares beyond float32) is redone by the scalar path.

// Dtype codes, as ../kernel.ts passes them (F16 is 1).
const F32: i32 = 0;
const BF16: i32 = 2;

/** Elements per block (16 per lane): bounds the float32 part of each sum, and the work redone on NaN/Inf. */
const BLOCK: i32 = 64;

/** Sums below this may have lost float32 squares that underflowed (values under 2^-63): redone in float64. */
const TINY: f64 = 2.6469779601696886e-23; // 2^-75

// Results of the last add(), read by ../kernel.ts.
export let sumB2: f64 = 0;
export let sumF2: f64 = 0;
export let sumD2: f64 = 0;
export let dot: f64 = 0;
export let maxAbs: f64 = 0;
export let changed: i32 = 0;
export let baseNan: i32 = 0;
export let baseInf: i32 = 0;
export let ftNan: i32 = 0;
export let ftInf: i32 = 0;

/** Four IEEE halves (zero-extended in i32 lanes) to float32: shift into place, rescale the exponent by 2^112 (exact, subnormals included), then restore Inf/NaN and the sign. */
@inline function halves(h: v128): v128 {
  const magnitude = f32x4.mul(i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13), f32x4.splat(5.192296858534828e33));
  const special = i32x4.eq(v128.and(h, i32x4.splat(0x7c00)), i32x4.splat(0x7c00));
  const sign = i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16);
  return v128.or(v128.or(magnitude, v128.and(special, i32x4.splat(0x7f800000))), sign);
}

/** Elements i..i+3 as float32 lanes. */
@inline function load4(dtype: i32, p: usize, i: i32): v128 {
  if (dtype == F32) return v128.load(p + (<usize>i << 2));
  const h = v128.load16x4_u(p + (<usize>i << 1));
  return dtype == BF16 ? i32x4.shl(h, 16) : halves(h);
}

/** Element i, exactly, as a float64. */
@inline function load1(dtype: i32, p: usize, i: i32): f64 {
  if (dtype == F32) return load<f32>(p + (<usize>i << 2));
  const h = <u32>load<u16>(p + (<usize>i << 1));
  return dtype == BF16 ? reinterpret<f32>(h << 16) : f32x4.extract_lane(halves(i32x4.splat(h)), 0);
}

/** Lanes 0, 1 / 2, 3 of a float32 vector as float64 lanes. */
@inline function low(x: v128): v128 {
  return f64x2.promote_low_f32x4(x);
}

@inline function high(x: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<u32>(x, x, 2, 3, 0, 1));
}

/** Lanes 0+1 and 2+3 of a float32 vector, in float64. */
@inline function pairs(x: v128): v128 {
  return f64x2.add(low(x), high(x));
}

/** Largest lane, without branches (a scalar max is several, mispredicted on ties). */
@inline function hmax(x: v128): f32 {
  const m = f32x4.pmax(x, v128.shuffle<u32>(x, x, 2, 3, 0, 1));
  return f32x4.extract_lane(f32x4.pmax(m, v128.shuffle<u32>(m, m, 1, 0, 3, 2)), 0);
}

@inline function hsum(x: v128): f64 {
  return f64x2.extract_lane(x, 0) + f64x2.extract_lane(x, 1);
}

/** Sets the results to the statistics of n element pairs at b (dtype bt) and f (dtype ft). */
export function add(b: usize, bt: i32, f: usize, ft: i32, n: i32): void {
  // run() is inlined at each call: the bf16 pair (most checkpoints) gets a loop with constant dtypes.
  if (bt == BF16 && ft == BF16) run(b, BF16, f, BF16, n);
  else run(b, bt, f, ft, n);
  if (min(sumB2, sumF2) < TINY || (changed > 0 && sumD2 < TINY)) {
    reset();
    scalar(b, bt, f, ft, 0, n);
  }
}

function reset(): void {
  sumB2 = sumF2 = sumD2 = dot = maxAbs = 0;
  changed = baseNan = baseInf = ftNan = ftInf = 0;
}

@inline function run(b: usize, bt: i32, f: usize, ft: i32, n: i32): void {
  reset();
  const zero = f32x4.splat(0);
  let aB = f64x2.splat(0), aF = aB, aD = aB, aBF = aB;
  let aChanged = i32x4.splat(0);
  let i = 0;
  for (; i + BLOCK <= n; i += BLOCK) {
    let sB = zero, sF = zero, sD = zero, sBF = zero, sMax = zero;
    let sChanged = i32x4.splat(0);
    for (let j = i; j < i + BLOCK; j += 4) {
      const x = load4(bt, b, j);
      const y = load4(ft, f, j);
      const d = f32x4.sub(y, x);
      sB = f32x4.add(sB, f32x4.mul(x, x));
      sF = f32x4.add(sF, f32x4.mul(y, y));
      sBF = f32x4.add(sBF, f32x4.mul(x, y));
      sD = f32x4.add(sD, f32x4.mul(d, d));
      sMax = f32x4.pmax(sMax, f32x4.abs(d)); // pmax is one maxps; max (NaN-propagating) is several
      sChanged = i32x4.sub(sChanged, f32x4.ne(x, y)); // a mask is -1; and -0 == +0, as in JS
    }
    // Finite sums of squares prove finite inputs: a NaN or ±Inf makes its side's sum NaN or Inf.
    const s = f32x4.add(sB, sF);
    if (v128.any_true(f32x4.ne(f32x4.sub(s, s), zero))) {
      scalar(b, bt, f, ft, i, i + BLOCK);
      continue;
    }
    aB = f64x2.add(aB, pairs(sB));
    aF = f64x2.add(aF, pairs(sF));
    aD = f64x2.add(aD, pairs(sD));
    aBF = f64x2.add(aBF, pairs(sBF));
    aChanged = i32x4.add(aChanged, sChanged);
    // Rounding is monotonic, so the block's largest float32 |d| is its largest exact |d| rounded: a
    // block below the running maximum (rounded) cannot raise it. Others (rare, bar ties) redo it in
    // float64; an unchanged block (m = 0) has nothing to redo.
    const m = hmax(sMax);
    if (m != 0 && m >= <f32>maxAbs) maxAbs = max(maxAbs, exactMax(b, bt, f, ft, i));
  }
  scalar(b, bt, f, ft, i, n);
  sumB2 += hsum(aB);
  sumF2 += hsum(aF);
  sumD2 += hsum(aD);
  dot += hsum(aBF);
  changed += i32x4.extract_lane(aChanged, 0) + i32x4.extract_lane(aChanged, 1) + i32x4.extract_lane(aChanged, 2) + i32x4.extract_lane(aChanged, 3);
}

/** max|Δ| of a finite block, in float64. */
function exactMax(b: usize, bt: i32, f: usize, ft: i32, from: i32): f64 {
  let m = f64x2.splat(0);
  for (let i = from; i < from + BLOCK; i += 4) {
    const x = load4(bt, b, i);
    const y = load4(ft, f, i);
    m = f64x2.pmax(m, f64x2.pmax(f64x2.abs(f64x2.sub(low(y), low(x))), f64x2.abs(f64x2.sub(high(y), high(x)))));
  }
  return max(f64x2.extract_lane(m, 0), f64x2.extract_lane(m, 1));
}

/** Elements [from, to) one by one, as the JS reference does them, into the results. */
function scalar(b: usize, bt: i32, f: usize, ft: i32, from: i32, to: i32): void {
  for (let i = from; i < to; i++) {
    const x = load1(bt, b, i);
    const y = load1(ft, f, i);
    if (x - x != 0 || y - y != 0) {
      if (x != x) baseNan++;
      else if (x - x != 0) baseInf++;
      if (y != y) ftNan++;
      else if (y - y != 0) ftInf++;
      continue;
    }
    const d = y - x;
    sumB2 += x * x;
    sumF2 += y * y;
    dot += x * y;
    sumD2 += d * d;
    maxAbs = max(maxAbs, abs(d));
    if (d != 0) changed++;
  }
}
