// AssemblyScript, one of the entries of kernels.wasm (`npm run build:wasm`).
// Planar float32 stereo -> interleaved little-endian samples, eight frames per iteration, with
// exactly the conversions worker/audio/pcm.ts documents (its scalar code is the reference the
// tests compare against). `left`, `right` and `out` are byte offsets into this module's memory.

export function heapBase(): usize {
  return __heap_base;
}

/** f32: the float bits as they are, interleaved. */
export function packF32(left: usize, right: usize, n: i32, out: usize): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i << 2;
    const l = v128.load(left + at);
    const r = v128.load(right + at);
    v128.store(out + (at << 1), v128.shuffle<i32>(l, r, 0, 4, 1, 5));
    v128.store(out + (at << 1) + 16, v128.shuffle<i32>(l, r, 2, 6, 3, 7));
  }
  for (; i < n; i++) {
    const at = <usize>i << 2;
    store<f32>(out + (at << 1), load<f32>(left + at));
    store<f32>(out + (at << 1) + 4, load<f32>(right + at));
  }
}

/**
 * pcm16: round-half-even(x * 2^15) clipped to [-2^15, 2^15 - 1], NaN -> 0. The scaling by a power
 * of two is exact in float32; `nearest` rounds half to even; trunc_sat turns NaN into 0 and the
 * saturating narrow clips, so the result is the scalar reference's bit for bit.
 */
export function packPcm16(left: usize, right: usize, n: i32, out: usize): void {
  const full = f32x4.splat(32768);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const at = <usize>i << 2;
    const l = i16x8.narrow_i32x4_s(scaled(left + at, full), scaled(left + at + 16, full));
    const r = i16x8.narrow_i32x4_s(scaled(right + at, full), scaled(right + at + 16, full));
    v128.store(out + at, v128.shuffle<i16>(l, r, 0, 8, 1, 9, 2, 10, 3, 11));
    v128.store(out + at + 16, v128.shuffle<i16>(l, r, 4, 12, 5, 13, 6, 14, 7, 15));
  }
  for (; i < n; i++) {
    const at = <usize>i << 2;
    store<i16>(out + at, <i16>clip(nearest(load<f32>(left + at) * 32768), 32768));
    store<i16>(out + at + 2, <i16>clip(nearest(load<f32>(right + at) * 32768), 32768));
  }
}

/** pcm24: round-half-even(x * 2^23) clipped to [-2^23, 2^23 - 1], sent as s32 (value << 8). */
export function packPcm24(left: usize, right: usize, n: i32, out: usize): void {
  const full = f32x4.splat(8388608);
  const high = i32x4.splat(8388607);
  const low = i32x4.splat(-8388608);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i << 2;
    const l = i32x4.shl(i32x4.max_s(i32x4.min_s(scaled(left + at, full), high), low), 8);
    const r = i32x4.shl(i32x4.max_s(i32x4.min_s(scaled(right + at, full), high), low), 8);
    v128.store(out + (at << 1), v128.shuffle<i32>(l, r, 0, 4, 1, 5));
    v128.store(out + (at << 1) + 16, v128.shuffle<i32>(l, r, 2, 6, 3, 7));
  }
  for (; i < n; i++) {
    const at = <usize>i << 2;
    store<i32>(out + (at << 1), clip(nearest(load<f32>(left + at) * 8388608), 8388608) << 8);
    store<i32>(out + (at << 1) + 4, clip(nearest(load<f32>(right + at) * 8388608), 8388608) << 8);
  }
}

/**
 * lame16, demucs' i16_pcm: clamp to [-1, 1], times 32767, truncated toward zero, NaN -> 0. The
 * product is taken in float64 as the scalar reference does: in float32 it could round up to the
 * next integer before the truncation.
 */
export function packLame16(left: usize, right: usize, n: i32, out: usize): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i << 2;
    const l = lame4(v128.load(left + at));
    const r = lame4(v128.load(right + at));
    // l0 l1 l2 l3 r0 r1 r2 r3 as int16 (all within ±32767), then interleaved.
    const pair = i16x8.narrow_i32x4_s(l, r);
    v128.store(out + at, v128.shuffle<i16>(pair, pair, 0, 4, 1, 5, 2, 6, 3, 7));
  }
  for (; i < n; i++) {
    const at = <usize>i << 2;
    store<i16>(out + at, lame(load<f32>(left + at)));
    store<i16>(out + at + 2, lame(load<f32>(right + at)));
  }
}

function scaled(at: usize, full: v128): v128 {
  return i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(at), full)));
}

/** Rounded `x` clipped to [-full, full - 1]; NaN -> 0. */
function clip(x: f32, full: f32): i32 {
  if (x != x) return 0;
  if (x >= full - 1) return <i32>(full - 1);
  if (x <= -full) return <i32>-full;
  return <i32>x;
}

function lame4(x: v128): v128 {
  const clamped = f32x4.max(f32x4.min(x, f32x4.splat(1)), f32x4.splat(-1));
  const scale = f64x2.splat(32767);
  const low = i32x4.trunc_sat_f64x2_s_zero(f64x2.mul(f64x2.promote_low_f32x4(clamped), scale));
  const high = i32x4.trunc_sat_f64x2_s_zero(f64x2.mul(f64x2.promote_low_f32x4(v128.shuffle<i32>(clamped, clamped, 2, 3, 0, 1)), scale));
  return v128.shuffle<i32>(low, high, 0, 1, 4, 5);
}

function lame(x: f32): i16 {
  if (x != x) return 0;
  return <i16><i32>(<f64>min(<f32>1, max(<f32>-1, x)) * 32767);
}
