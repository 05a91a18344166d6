import { Kernels, kernelsHolding } from '../wasm/kernels.js';

/**
 * How float samples become the bytes ffmpeg reads.
 * - `f32`: the float32 bits as they are.
 * - `pcm16` / `pcm24`: torchaudio.save's conversion for wav/flac (what demucs calls): scale by 2^15 or 2^23,
 *   round to nearest (ties to even, as C's lrint), clip to the integer range. 24-bit is sent as s32 (value << 8)
 *   so ffmpeg's s32 -> s24 step, which drops the low byte, loses nothing.
 * - `lame16`: demucs' `i16_pcm` before lame: clamp to [-1, 1], scale by 32767, truncate toward zero.
 */
export type SampleKind = 'f32' | 'pcm16' | 'pcm24' | 'lame16';

// Decoded audio and spools are read and written through typed-array views, whose byte order is the
// host's; ffmpeg reads and writes little-endian (as WASM memory, where the packers work, always is).
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('stembot needs a little-endian host');

/** Bytes per stereo frame of each kind. */
export const PACKED_FRAME_BYTES: Record<SampleKind, number> = { f32: 8, pcm16: 4, lame16: 4, pcm24: 8 };

/**
 * Interleaves planar stereo `[2][n]` into little-endian bytes of the given kind, into `reuse`
 * when it is big enough (a buffer the caller is done with), else into a new one. The conversion
 * runs in the SIMD kernels (worker/wasm/assembly/pcm.ts), which do per sample exactly what
 * `floatToInt` and `lameInt16` below say; the tests hold them to it.
 */
export function packSamples(planar: Float32Array[], kind: SampleKind, reuse?: ArrayBuffer): Buffer {
  const [left, right] = planar;
  if (planar.length !== 2 || !left || !right || left.length !== right.length) {
    throw new RangeError(`expected planar stereo [2][n], got ${planar.length} channel(s)`);
  }
  const bytes = left.length * PACKED_FRAME_BYTES[kind];
  const into = reuse && reuse.byteLength >= bytes ? reuse : new ArrayBuffer(bytes);
  const packed = Buffer.from(into, 0, bytes);
  packer.pack(left, right, kind, packed);
  return packed;
}

/** The kernels' instance for packing, with room for the largest block seen so far. */
class Packer {
  private kernels: Kernels | undefined;
  private frames = 0;
  private left = 0;
  private right = 0;
  private out = 0;

  pack(left: Float32Array, right: Float32Array, kind: SampleKind, into: Uint8Array): void {
    const n = left.length;
    // Samples already in an instance's memory that has room to pack them are packed there.
    const holder = kernelsHolding(left);
    if (holder?.packRoom && holder === kernelsHolding(right) && into.length <= holder.packRoom.bytes) {
      packKernel(holder, kind)(left.byteOffset, right.byteOffset, n, holder.packRoom.at);
      into.set(holder.bytes(holder.packRoom.at, into.length));
      return;
    }
    const kernels = this.room(n);
    kernels.f32(this.left, n).set(left);
    kernels.f32(this.right, n).set(right);
    packKernel(kernels, kind)(this.left, this.right, n, this.out);
    into.set(kernels.bytes(this.out, into.length));
  }

  private room(frames: number): Kernels {
    if (this.kernels && frames <= this.frames) return this.kernels;
    // A fresh instance laid out for the new size: blocks are about a segment, so this happens
    // a handful of times per process.
    this.frames = Math.max(frames, 2 * this.frames, MIN_PACKING_FRAMES);
    const kernels = new Kernels();
    this.left = kernels.reserve(this.frames * Float32Array.BYTES_PER_ELEMENT);
    this.right = kernels.reserve(this.frames * Float32Array.BYTES_PER_ELEMENT);
    this.out = kernels.reserve(this.frames * MAX_FRAME_BYTES);
    this.kernels = kernels;
    return kernels;
  }
}

/** The kernel that packs `kind`. */
function packKernel({ exports }: Kernels, kind: SampleKind): (left: number, right: number, n: number, out: number) => void {
  return { f32: exports.packF32, pcm16: exports.packPcm16, pcm24: exports.packPcm24, lame16: exports.packLame16 }[kind];
}

const MAX_FRAME_BYTES = Math.max(...Object.values(PACKED_FRAME_BYTES));
/**
 * Room for 12 s at 44.1 kHz from the start: the engine's blocks (a chunk's stride, or a whole
 * segment at the end of a track, 7.8 s for htdemucs) then fit the first instance, instead of each
 * longer block laying out fresh memory again.
 */
const MIN_PACKING_FRAMES = 2 ** 19;
const packer = new Packer();

/**
 * The reference for pcm16 and pcm24, per sample: round-half-even(x · 2^bits) clipped to
 * [-2^bits, 2^bits - 1]; NaN becomes silence.
 */
export function floatToInt(sample: number, bits: 15 | 23): number {
  const full = 2 ** bits;
  const scaled = sample * full;
  if (Number.isNaN(scaled)) return 0;
  if (scaled >= full - 1) return full - 1;
  if (scaled <= -full) return -full;
  return scaled + ROUNDER - ROUNDER;
}

/** The reference for lame16, per sample: demucs' i16_pcm. */
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
