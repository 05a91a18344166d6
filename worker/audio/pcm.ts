/**
 * How float samples become the bytes ffmpeg reads.
 * - `f32`: the float32 bits as they are.
 * - `pcm16` / `pcm24`: torchaudio.save's conversion for wav/flac (what demucs calls): scale by 2^15 or 2^23,
 *   round to nearest (ties to even, as C's lrint), clip to the integer range. 24-bit is sent as s32 (value << 8)
 *   so ffmpeg's s32 -> s24 step, which drops the low byte, loses nothing.
 * - `lame16`: demucs' `i16_pcm` before lame: clamp to [-1, 1], scale by 32767, truncate toward zero.
 */
export type SampleKind = 'f32' | 'pcm16' | 'pcm24' | 'lame16';

const BYTES_PER_SAMPLE: Record<SampleKind, number> = { f32: 4, pcm16: 2, lame16: 2, pcm24: 4 };

/** Interleaves planar stereo `[2][n]` into little-endian bytes of the given kind. */
export function packSamples(planar: Float32Array[], kind: SampleKind): Buffer {
  const [left, right] = planar;
  if (planar.length !== 2 || !left || !right || left.length !== right.length) {
    throw new RangeError(`expected planar stereo [2][n], got ${planar.length} channel(s)`);
  }
  const frames = left.length;
  const out = Buffer.allocUnsafe(frames * 2 * BYTES_PER_SAMPLE[kind]);
  const write = writerFor(kind, out);
  for (let i = 0; i < frames; i++) {
    write(left[i]!, 2 * i);
    write(right[i]!, 2 * i + 1);
  }
  return out;
}

function writerFor(kind: SampleKind, out: Buffer): (sample: number, index: number) => void {
  switch (kind) {
    case 'f32':
      return (s, i) => out.writeFloatLE(s, i * 4);
    case 'pcm16':
      return (s, i) => out.writeInt16LE(floatToInt(s, 15), i * 2);
    case 'pcm24':
      return (s, i) => out.writeInt32LE(floatToInt(s, 23) * 256, i * 4);
    case 'lame16':
      return (s, i) => out.writeInt16LE(lameInt16(s), i * 2);
  }
}

/** round-half-even(x · 2^bits) clipped to [-2^bits, 2^bits - 1]; NaN becomes silence. */
export function floatToInt(sample: number, bits: 15 | 23): number {
  if (Number.isNaN(sample)) return 0;
  const full = 2 ** bits;
  const scaled = sample * full;
  if (scaled >= full - 1) return full - 1;
  if (scaled <= -full) return -full;
  return roundHalfEven(scaled);
}

export function lameInt16(sample: number): number {
  if (Number.isNaN(sample)) return 0;
  return Math.trunc(Math.min(1, Math.max(-1, sample)) * 32767);
}

function roundHalfEven(value: number): number {
  const rounded = Math.round(value);
  return rounded - value === 0.5 && rounded % 2 !== 0 ? rounded - 1 : rounded;
}
