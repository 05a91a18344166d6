/**
 * How float samples become the bytes ffmpeg reads.
 * - `f32`: the float32 bits as they are.
 * - `pcm16` / `pcm24`: torchaudio.save's conversion for wav/flac (what demucs calls): scale by 2^15 or 2^23,
 *   round to nearest (ties to even, as C's lrint), clip to the integer range. 24-bit is sent as s32 (value << 8)
 *   so ffmpeg's s32 -> s24 step, which drops the low byte, loses nothing.
 * - `lame16`: demucs' `i16_pcm` before lame: clamp to [-1, 1], scale by 32767, truncate toward zero.
 */
export type SampleKind = 'f32' | 'pcm16' | 'pcm24' | 'lame16';

// The packers write through typed-array views, whose byte order is the host's; ffmpeg reads little-endian.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('stembot needs a little-endian host');

/** Bytes per stereo frame of each kind. */
export const PACKED_FRAME_BYTES: Record<SampleKind, number> = { f32: 8, pcm16: 4, lame16: 4, pcm24: 8 };

/**
 * Interleaves planar stereo `[2][n]` into little-endian bytes of the given kind, into `reuse`
 * when it is big enough (a buffer the caller is done with), else into a new one.
 */
export function packSamples(planar: Float32Array[], kind: SampleKind, reuse?: ArrayBuffer): Buffer {
  const [left, right] = planar;
  if (planar.length !== 2 || !left || !right || left.length !== right.length) {
    throw new RangeError(`expected planar stereo [2][n], got ${planar.length} channel(s)`);
  }
  const bytes = left.length * PACKED_FRAME_BYTES[kind];
  const into = reuse && reuse.byteLength >= bytes ? reuse : new ArrayBuffer(bytes);
  // One monomorphic loop per kind: this runs for every sample of every stem.
  switch (kind) {
    case 'f32':
      return bytesOf(packF32(left, right, new Float32Array(into, 0, 2 * left.length)));
    case 'pcm16':
      return bytesOf(packPcm16(left, right, new Int16Array(into, 0, 2 * left.length)));
    case 'pcm24':
      return bytesOf(packPcm24(left, right, new Int32Array(into, 0, 2 * left.length)));
    case 'lame16':
      return bytesOf(packLame16(left, right, new Int16Array(into, 0, 2 * left.length)));
  }
}

function bytesOf(samples: Float32Array | Int16Array | Int32Array): Buffer {
  return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
}

function packF32(left: Float32Array, right: Float32Array, out: Float32Array): Float32Array {
  for (let i = 0; i < left.length; i++) {
    out[2 * i] = left[i]!;
    out[2 * i + 1] = right[i]!;
  }
  return out;
}

function packPcm16(left: Float32Array, right: Float32Array, out: Int16Array): Int16Array {
  for (let i = 0; i < left.length; i++) {
    out[2 * i] = scaleRoundClip(left[i]!, 32768);
    out[2 * i + 1] = scaleRoundClip(right[i]!, 32768);
  }
  return out;
}

function packPcm24(left: Float32Array, right: Float32Array, out: Int32Array): Int32Array {
  for (let i = 0; i < left.length; i++) {
    out[2 * i] = scaleRoundClip(left[i]!, 8388608) * 256;
    out[2 * i + 1] = scaleRoundClip(right[i]!, 8388608) * 256;
  }
  return out;
}

function packLame16(left: Float32Array, right: Float32Array, out: Int16Array): Int16Array {
  for (let i = 0; i < left.length; i++) {
    out[2 * i] = lameInt16(left[i]!);
    out[2 * i + 1] = lameInt16(right[i]!);
  }
  return out;
}

/** round-half-even(x · 2^bits) clipped to [-2^bits, 2^bits - 1]; NaN becomes silence. */
export function floatToInt(sample: number, bits: 15 | 23): number {
  return scaleRoundClip(sample, 2 ** bits) || 0;
}

/**
 * The packers' inner step, small enough for V8 to inline into their loops: round-half-even(x ·
 * full) clipped to [-full, full - 1]. NaN fails both comparisons and stays NaN, which an integer
 * typed array stores as 0 (silence), so the loops need no NaN test of their own.
 */
function scaleRoundClip(sample: number, full: number): number {
  const scaled = sample * full;
  if (scaled >= full - 1) return full - 1;
  if (scaled <= -full) return -full;
  return scaled + ROUNDER - ROUNDER;
}

export function lameInt16(sample: number): number {
  if (Number.isNaN(sample)) return 0;
  return Math.trunc(Math.min(1, Math.max(-1, sample)) * 32767);
}

/**
 * 1.5 · 2^52: between 2^52 and 2^53 doubles are exactly the integers, so `x + ROUNDER` is rounded by the
 * FPU itself, half to even (IEEE's default); subtracting it back is exact. Valid for |x| < 2^51, far
 * above the ±2^23 this is called with.
 */
const ROUNDER = 6755399441055744;
