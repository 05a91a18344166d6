import { z } from 'zod';
import { DECODE_SAMPLE_RATE, type PlanarBlock } from './decode.js';

/** Bins a waveform gets by default: one per pixel column of a page about 1000 px wide. */
export const DEFAULT_PEAK_BINS = 1000;
/** The most bins a stored waveform may have; more is no use to a page and a risk to a reader. */
export const MAX_PEAK_BINS = 10_000;
/**
 * Fine bins kept per output bin while the length is unknown. They start one frame wide and double
 * in width when they fill up, so a long track ends with 4 to 8 per output bin (a bin's edges are
 * placed to within a quarter of its width) and memory stays fixed whatever the track's length.
 */
const FINE_PER_BIN = 8;
/** Full scale (a sample of ±1.0) in the stored form: int8 without -128, so the scale is symmetric. */
const FULL_SCALE = 127;

export interface PeakOptions {
  /** Bins in the result. Default `DEFAULT_PEAK_BINS`. */
  bins?: number;
  /**
   * The track's length in frames when known up front (`durationSeconds × DECODE_SAMPLE_RATE`, rounded):
   * bins then have exact edges. If the stream turns out longer, the excess lands in the last bin;
   * `finish` re-bins over the frames actually seen either way. Default: unknown.
   */
  totalFrames?: number;
}

/** Min/max envelope of a stereo track over both channels, in `bins` equal slices of its frames. */
export interface Peaks {
  sampleRate: number;
  /** Frames (per channel) the accumulator was fed. */
  frames: number;
  bins: number;
  /** `[bins]`: bin `i` covers frames `[ceil(i·frames/bins), ceil((i+1)·frames/bins))`; an empty bin is 0. */
  min: Float32Array;
  max: Float32Array;
}

/**
 * Folds planar blocks, fed in order, into a fixed number of min/max bins. With the length known it
 * keeps exactly `bins` pairs; without it, `bins × FINE_PER_BIN` fine pairs whose width doubles when
 * they fill up (neighbours merged), then re-bins at `finish`. Nothing grows with the track's length.
 */
export class PeakAccumulator {
  private readonly bins: number;
  private readonly totalFrames: number | undefined;
  /** Stored bins: exactly `bins` with the length known, else fine ones. Empty ones hold +/-Infinity. */
  private min: Float32Array;
  private max: Float32Array;
  /** Unknown length only: frames per fine bin. */
  private step = 1;
  private frames = 0;

  constructor(options: PeakOptions = {}) {
    this.bins = options.bins ?? DEFAULT_PEAK_BINS;
    if (!Number.isInteger(this.bins) || this.bins < 1 || this.bins > MAX_PEAK_BINS) throw new RangeError(`bins must be an integer in 1..${MAX_PEAK_BINS}, got ${this.bins}`);
    if (options.totalFrames !== undefined) {
      if (!Number.isFinite(options.totalFrames) || options.totalFrames < 1) throw new RangeError(`totalFrames must be a positive number, got ${options.totalFrames}`);
      this.totalFrames = Math.round(options.totalFrames);
    }
    const held = this.totalFrames === undefined ? this.bins * FINE_PER_BIN : this.bins;
    this.min = new Float32Array(held).fill(Infinity);
    this.max = new Float32Array(held).fill(-Infinity);
  }

  add(block: PlanarBlock): void {
    const [left, right] = block;
    if (!left || !right || left.length !== right.length) throw new RangeError('a block must hold two channels of equal length');
    let i = 0;
    while (i < left.length) {
      const bin = this.binOf(this.frames + i);
      if (bin >= this.min.length) {
        this.mergeNeighbours();
        continue;
      }
      // binEnd(binOf(f)) > f for every f, so each pass takes at least one frame.
      const end = Math.min(left.length, this.binEnd(bin) - this.frames);
      let lo = this.min[bin]!;
      let hi = this.max[bin]!;
      for (; i < end; i += 1) {
        const l = left[i]!;
        const r = right[i]!;
        // NaN fails every comparison, so a NaN sample is ignored rather than spread.
        if (l < lo) lo = l;
        if (l > hi) hi = l;
        if (r < lo) lo = r;
        if (r > hi) hi = r;
      }
      this.min[bin] = lo;
      this.max[bin] = hi;
    }
    this.frames += left.length;
  }

  /** The envelope of everything fed so far, in `bins` bins over the frames actually seen. */
  finish(): Peaks {
    const min = new Float32Array(this.bins);
    const max = new Float32Array(this.bins);
    for (let i = 0; i < this.bins; i += 1) {
      const start = Math.ceil((i * this.frames) / this.bins);
      const end = Math.ceil(((i + 1) * this.frames) / this.bins);
      if (end <= start) continue;
      let lo = Infinity;
      let hi = -Infinity;
      for (let j = this.binOf(start); j <= this.binOf(end - 1); j += 1) {
        lo = Math.min(lo, this.min[j]!);
        hi = Math.max(hi, this.max[j]!);
      }
      if (lo <= hi) {
        min[i] = lo;
        max[i] = hi;
      }
    }
    return { sampleRate: DECODE_SAMPLE_RATE, frames: this.frames, bins: this.bins, min, max };
  }

  /** The stored bin that frame `frame` falls in (may be past the fine bins: time to merge). */
  private binOf(frame: number): number {
    if (this.totalFrames === undefined) return Math.floor(frame / this.step);
    return Math.min(this.bins - 1, Math.floor((frame * this.bins) / this.totalFrames));
  }

  /** The first frame past stored bin `bin`. */
  private binEnd(bin: number): number {
    if (this.totalFrames === undefined) return (bin + 1) * this.step;
    if (bin === this.bins - 1) return Infinity;
    return Math.ceil(((bin + 1) * this.totalFrames) / this.bins);
  }

  private mergeNeighbours(): void {
    const half = this.min.length / 2;
    for (let j = 0; j < half; j += 1) {
      this.min[j] = Math.min(this.min[2 * j]!, this.min[2 * j + 1]!);
      this.max[j] = Math.max(this.max[2 * j]!, this.max[2 * j + 1]!);
    }
    this.min.fill(Infinity, half);
    this.max.fill(-Infinity, half);
    this.step *= 2;
  }
}

const level = z.number().int().min(-FULL_SCALE).max(FULL_SCALE);

/**
 * Waveform peaks as stored beside the stems and served to the stems page, version 1:
 *
 * ```
 * {
 *   "version": 1,
 *   "sampleRate": 44100,          // of the audio the peaks were taken from
 *   "frames": 7938000,            // its length in frames per channel: seconds = frames / sampleRate
 *   "bins": 1000,                 // bin i covers frames [ceil(i*frames/bins), ceil((i+1)*frames/bins))
 *   "min": [-64, -63, 0, ...],    // `bins` integers in -127..127: the lowest sample over both channels
 *                                 //   × 127, rounded down (clipped to ±127); an empty bin is 0
 *   "max": [64, 63, 0, ...]       // `bins` integers: the highest sample × 127, rounded up; min[i] <= max[i]
 * }
 * ```
 *
 * Rounding outwards keeps any sound visible (never 0) and never draws a peak lower than it is.
 * A change in meaning takes a new version; readers refuse versions they do not know.
 */
export const peaksJsonSchema = z
  .object({
    version: z.literal(1),
    sampleRate: z.number().int().min(1).max(768_000),
    frames: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    bins: z.number().int().min(1).max(MAX_PEAK_BINS),
    min: z.array(level).max(MAX_PEAK_BINS),
    max: z.array(level).max(MAX_PEAK_BINS),
  })
  .superRefine((peaks, ctx) => {
    for (const key of ['min', 'max'] as const) {
      if (peaks[key].length !== peaks.bins) ctx.addIssue({ code: 'custom', path: [key], message: `expected ${peaks.bins} values, got ${peaks[key].length}` });
    }
    const inverted = peaks.min.findIndex((lo, i) => i < peaks.max.length && lo > peaks.max[i]!);
    if (inverted >= 0) ctx.addIssue({ code: 'custom', path: ['min', inverted], message: 'min is above max' });
  });

export type PeaksJson = z.infer<typeof peaksJsonSchema>;

export function peaksToJson(peaks: Peaks): PeaksJson {
  return {
    version: 1,
    sampleRate: peaks.sampleRate,
    frames: peaks.frames,
    bins: peaks.bins,
    min: Array.from(peaks.min, (value) => quantise(value, Math.floor)),
    max: Array.from(peaks.max, (value) => quantise(value, Math.ceil)),
  };
}

function quantise(value: number, round: (x: number) => number): number {
  if (Number.isNaN(value)) return 0;
  // `|| 0` turns -0 (Math.ceil of a small negative) into 0, which JSON would print as 0 anyway.
  return Math.max(-FULL_SCALE, Math.min(FULL_SCALE, round(value * FULL_SCALE))) || 0;
}
