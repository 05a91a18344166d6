import { open, type FileHandle } from 'node:fs/promises';
import { UserError } from '../../core/errors.js';

const CHANNELS = 2; // stereo
const BYTES_PER_FRAME = CHANNELS * Float32Array.BYTES_PER_ELEMENT;

export interface SpoolOptions {
  signal?: AbortSignal | undefined;
  /** Called with the samples per channel spooled so far, after each block. */
  onSamples?: ((samples: number) => void) | undefined;
  /** Awaited before the spool grows to `samples` per channel (`spooled` are written); throwing stops the spool. */
  beforeGrowth?: ((samples: number, spooled: number) => Promise<void>) | undefined;
}

/**
 * The decoded track on disk (interleaved float32 stereo), so chunks can be read by position
 * without holding the track in memory, plus the statistics of its mono reference
 * `ref = mean over channels` that demucs normalises with.
 */
export class TrackSpool {
  private scratch = Buffer.alloc(0);

  private constructor(
    private readonly file: FileHandle,
    /** Where this track starts in the file, in frames: non-zero for an excerpt. */
    private readonly base: number,
    /** Whether closing this closes the file: an excerpt borrows its track's. */
    private readonly ownsFile: boolean,
    /** Samples per channel. */
    readonly length: number,
    /** mean(ref). */
    readonly mean: number,
    /** std(ref), unbiased as torch's default. */
    readonly std: number,
  ) {}

  /** Writes interleaved stereo blocks `[n,2]` to `path`, accumulating the reference's statistics on the way. */
  static async write(input: AsyncIterable<Float32Array>, path: string, options: SpoolOptions = {}): Promise<TrackSpool> {
    const { signal, onSamples, beforeGrowth } = options;
    const file = await open(path, 'w+');
    try {
      // Chan et al.'s pairwise merge of (count, mean, M2) in float64: a plain sum of squares
      // loses the variance of a quiet track with a DC offset to cancellation.
      let count = 0;
      let mean = 0;
      let m2 = 0;
      // Each block's write runs while the next block's statistics are summed.
      let writing: Promise<unknown> = Promise.resolve();
      for await (const block of input) {
        signal?.throwIfAborted();
        if (block.length % CHANNELS !== 0) throw new Error(`expected interleaved stereo blocks [n,2], got ${block.length} samples`);
        const n = block.length / CHANNELS;
        if (n === 0) continue;
        await beforeGrowth?.(count + n, count);
        let blockSum = 0;
        for (let i = 0; i < n; i++) blockSum += ((block[2 * i] as number) + (block[2 * i + 1] as number)) / 2;
        const blockMean = blockSum / n;
        let blockM2 = 0;
        for (let i = 0; i < n; i++) blockM2 += (((block[2 * i] as number) + (block[2 * i + 1] as number)) / 2 - blockMean) ** 2;
        const delta = blockMean - mean;
        const total = count + n;
        m2 += blockM2 + (delta * delta * count * n) / total;
        mean += (delta * n) / total;
        count = total;
        await writing;
        writing = file.write(new Uint8Array(block.buffer, block.byteOffset, block.byteLength));
        // A failed write is met at the next block's await, or just below; never unhandled.
        writing.catch(() => undefined);
        onSamples?.(count);
      }
      await writing;
      if (count === 0) throw new UserError('audio_empty', 'The audio has no samples to separate.');
      return new TrackSpool(file, 0, true, count, mean, count > 1 ? Math.sqrt(m2 / (count - 1)) : 0);
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  /**
   * Fills `out` (planar `[2][n]`) with the track from sample `start`, normalised as
   * `(x - mean) / (std + 1e-8)`, and zeros wherever that range lies outside the track.
   */
  async readNormalised(start: number, out: readonly Float32Array[]): Promise<void> {
    const [left, right] = out as [Float32Array, Float32Array];
    const n = left.length;
    left.fill(0);
    right.fill(0);
    const from = Math.max(0, start);
    const to = Math.min(this.length, start + n);
    if (to <= from) return;
    const bytes = (to - from) * BYTES_PER_FRAME;
    if (this.scratch.length < bytes) this.scratch = Buffer.alloc(bytes);
    await this.file.read(this.scratch, 0, bytes, (this.base + from) * BYTES_PER_FRAME);
    const frames = new Float32Array(this.scratch.buffer, this.scratch.byteOffset, (to - from) * CHANNELS);
    const scale = 1 / (this.std + NORMALISATION_EPSILON);
    for (let i = 0; i < to - from; i++) {
      left[from - start + i] = ((frames[2 * i] as number) - this.mean) * scale;
      right[from - start + i] = ((frames[2 * i + 1] as number) - this.mean) * scale;
    }
  }

  /**
   * Samples `[start, start + length)` as a track of their own: its statistics are the excerpt's,
   * and reads outside it see zeros, as if only the excerpt had been decoded. It shares the file.
   */
  async excerpt(start: number, length: number): Promise<TrackSpool> {
    if (start < 0 || length < 1 || start + length > this.length) throw new RangeError(`excerpt ${start}+${length} is outside a track of ${this.length}`);
    const frames = new Float32Array(length * CHANNELS);
    const { bytesRead } = await this.file.read(new Uint8Array(frames.buffer), 0, frames.byteLength, (this.base + start) * BYTES_PER_FRAME);
    if (bytesRead !== frames.byteLength) throw new Error(`short read from the track spool: ${bytesRead} of ${frames.byteLength} bytes`);
    let sum = 0;
    for (let i = 0; i < length; i++) sum += ((frames[2 * i] as number) + (frames[2 * i + 1] as number)) / 2;
    const mean = sum / length;
    let m2 = 0;
    for (let i = 0; i < length; i++) m2 += (((frames[2 * i] as number) + (frames[2 * i + 1] as number)) / 2 - mean) ** 2;
    return new TrackSpool(this.file, this.base + start, false, length, mean, length > 1 ? Math.sqrt(m2 / (length - 1)) : 0);
  }

  async close(): Promise<void> {
    if (this.ownsFile) await this.file.close();
  }
}

/** demucs.api adds this to std so a silent track does not divide by zero. */
export const NORMALISATION_EPSILON = 1e-8;
