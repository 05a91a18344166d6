import { open, type FileHandle } from 'node:fs/promises';
import { UserError } from '../../core/errors.js';
import { giveBackKernels, prepareKernels, takeKernels, type Kernels } from '../wasm/kernels.js';

const CHANNELS = 2; // stereo
const BYTES_PER_FRAME = CHANNELS * Float32Array.BYTES_PER_ELEMENT;
/**
 * How often a spool filled by its writer is looked at while the writer is quiet. ffmpeg writes a
 * decoded track at about 200 MB/s, so a poll lets a few MB pass: that is how far past a refusal
 * (the disk guard, the length cap) the file can have grown before the writer is stopped.
 */
const FOLLOW_POLL_MS = 20;
/**
 * The most a followed spool is read at once: 1 MiB, 3 s at 44.1 kHz. Small enough to still be in
 * the CPU's cache when it is summed: a 4-minute track spooled about 20 ms sooner than with 4 MiB reads.
 */
const FOLLOW_READ_FRAMES = 1 << 17;

export interface SpoolOptions {
  signal?: AbortSignal | undefined;
  /** Called with the samples per channel spooled so far, after each block. */
  onSamples?: ((samples: number) => void) | undefined;
  /**
   * Awaited before the spool grows to `samples` per channel (`spooled` are written); throwing stops
   * the spool. A spool its writer fills can only report growth once it is on disk: then `spooled`
   * is `samples`, and the writer is stopped when this throws.
   */
  beforeGrowth?: ((samples: number, spooled: number) => Promise<void>) | undefined;
}

/** A process writing the spool file itself (ffmpeg with the file as its output), as `TrackSpool.follow` starts it. */
export interface SpoolWriter {
  /** Settles once the writer is gone: resolves when it wrote the whole track, rejects with why it did not. */
  readonly done: Promise<void>;
  /** Stops the writer at once (the reading side gave up); `done` still settles after. */
  stop(): void;
}

/** What fills a spool at `path` itself and hands back the track: `separate`'s input besides a stream of blocks. */
export interface SpoolFiller {
  fill(path: string, options: SpoolOptions): Promise<TrackSpool>;
}

/**
 * Count, mean and unbiased std of the mono reference `ref = mean over channels` of interleaved
 * stereo frames, block by block, in float64. A plain sum of squares loses the variance of a quiet
 * track with a DC offset to cancellation, so each block's sums are taken about the mean so far (the
 * block's first frame for the first) and blocks are merged with Chan et al.'s pairwise formula.
 * One pass per block: it runs beside ffmpeg while the track decodes, on a core ffmpeg also wants.
 */
export class ReferenceStats {
  count = 0;
  mean = 0;
  private m2 = 0;

  add(frames: Float32Array /* [n,2] */): void {
    const n = frames.length / CHANNELS;
    if (n === 0) return;
    // Sums of `l + r` (twice ref), halved and quartered at the end rather than per sample.
    const shift = this.count > 0 ? 2 * this.mean : (frames[0] as number) + (frames[1] as number);
    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < frames.length; i += CHANNELS) {
      const d = (frames[i] as number) + (frames[i + 1] as number) - shift;
      s1 += d;
      s2 += d * d;
    }
    const blockMean = (shift + s1 / n) / 2;
    const blockM2 = (s2 - (s1 * s1) / n) / 4;
    const delta = blockMean - this.mean;
    const total = this.count + n;
    this.m2 += blockM2 + (delta * delta * this.count * n) / total;
    this.mean += (delta * n) / total;
    this.count = total;
  }

  /** Unbiased, as torch's default. */
  get std(): number {
    return this.count > 1 ? Math.sqrt(this.m2 / (this.count - 1)) : 0;
  }
}

/** Regions of a kernel instance's memory for reading chunks normalised (`TrackSpool.readNormalised`). */
interface Normaliser {
  kernels: Kernels;
  capacity: number; // frames
  frames: number;
  left: number;
  right: number;
}

/**
 * The decoded track on disk (interleaved float32 stereo), so chunks can be read by position
 * without holding the track in memory, plus the statistics of its mono reference
 * `ref = mean over channels` that demucs normalises with.
 */
export class TrackSpool {
  private normalising: Normaliser | undefined;

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
      const stats = new ReferenceStats();
      // Each block's write runs while the next block's statistics are summed.
      let writing: Promise<unknown> = Promise.resolve();
      for await (const block of input) {
        signal?.throwIfAborted();
        if (block.length % CHANNELS !== 0) throw new Error(`expected interleaved stereo blocks [n,2], got ${block.length} samples`);
        const n = block.length / CHANNELS;
        if (n === 0) continue;
        await beforeGrowth?.(stats.count + n, stats.count);
        stats.add(block);
        await writing;
        writing = file.write(new Uint8Array(block.buffer, block.byteOffset, block.byteLength));
        // A failed write is met at the next block's await, or just below; never unhandled.
        writing.catch(() => undefined);
        onSamples?.(stats.count);
      }
      await writing;
      return TrackSpool.whole(file, stats);
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  /**
   * Lets `start` write the track to `path` itself and follows the file as it grows, folding each
   * new stretch into the statistics in large reads while the writer runs on: when it is done only
   * the tail is left to read. Growth is checked with `beforeGrowth` as it is seen, and the writer
   * is stopped on a refusal, an abort or any failure here; it never outlives this call.
   */
  static async follow(path: string, start: (path: string) => Promise<SpoolWriter>, options: SpoolOptions = {}): Promise<TrackSpool> {
    const { signal, onSamples, beforeGrowth } = options;
    // Made before the writer starts, so this handle and the writer's share one file from its first byte.
    const file = await open(path, 'w+');
    let writer: SpoolWriter | undefined;
    try {
      writer = await start(path);
      let over = false;
      const markOver = (): void => {
        over = true;
      };
      const settled = writer.done.then(markOver, markOver);
      const stats = new ReferenceStats();
      const frames = new Float32Array(FOLLOW_READ_FRAMES * CHANNELS);
      let checked = 0;
      for (;;) {
        signal?.throwIfAborted();
        // Seen before the size is taken: once the writer is gone, that size is the whole track.
        const finished = over;
        if (finished) await writer.done;
        const onDisk = Math.floor((await file.stat()).size / BYTES_PER_FRAME);
        if (onDisk > checked) {
          await beforeGrowth?.(onDisk, onDisk);
          checked = onDisk;
        }
        if (onDisk > stats.count) {
          const n = Math.min(onDisk - stats.count, FOLLOW_READ_FRAMES);
          const block = frames.subarray(0, n * CHANNELS);
          const { bytesRead } = await file.read(new Uint8Array(block.buffer, 0, block.byteLength), 0, block.byteLength, stats.count * BYTES_PER_FRAME);
          if (bytesRead !== block.byteLength) throw new Error(`short read from the track spool: ${bytesRead} of ${block.byteLength} bytes`);
          stats.add(block);
          onSamples?.(stats.count);
        } else if (finished) {
          return TrackSpool.whole(file, stats);
        } else {
          await pause(FOLLOW_POLL_MS, settled);
        }
      }
    } catch (error) {
      writer?.stop();
      await writer?.done.catch(() => undefined);
      await file.close();
      throw error;
    }
  }

  private static whole(file: FileHandle, stats: ReferenceStats): TrackSpool {
    if (stats.count === 0) throw new UserError('audio_empty', 'The audio has no samples to separate.');
    return new TrackSpool(file, 0, true, stats.count, stats.mean, stats.std);
  }

  /**
   * Fills `out` (planar `[2][n]`) with the track from sample `start`, normalised as
   * `(x - mean) / (std + 1e-8)`, and zeros wherever that range lies outside the track.
   */
  async readNormalised(start: number, out: readonly Float32Array[]): Promise<void> {
    const [left, right] = out as [Float32Array, Float32Array];
    const n = left.length;
    const from = Math.max(0, start);
    const to = Math.max(from, Math.min(this.length, start + n));
    const frames = to - from;
    // Zeros outside the track only: the rest is written below.
    for (const channel of [left, right]) {
      channel.fill(0, 0, from - start);
      channel.fill(0, from - start + frames);
    }
    if (frames === 0) return;
    // Read straight into the kernel's memory, normalised and split into channels there.
    const { kernels, frames: at, left: leftAt, right: rightAt } = this.normaliser(n);
    const bytes = frames * BYTES_PER_FRAME;
    const { bytesRead } = await this.file.read(kernels.bytes(at, bytes), 0, bytes, (this.base + from) * BYTES_PER_FRAME);
    if (bytesRead !== bytes) throw new Error(`short read from the track spool: ${bytesRead} of ${bytes} bytes`);
    kernels.exports.normalise(at, frames, this.mean, this.std + NORMALISATION_EPSILON, leftAt, rightAt);
    left.set(kernels.f32(leftAt, frames), from - start);
    right.set(kernels.f32(rightAt, frames), from - start);
  }

  /** Makes the normalise kernel's memory for chunks of `frames` ready ahead of the first read (see `prepareKernels`). */
  static prepareReads(frames: number): Promise<void> {
    return prepareKernels(normaliserBytes(frames));
  }

  /** The normalise kernel with room for `frames` (a chunk's worth, so laid out once per track). */
  private normaliser(frames: number): Normaliser {
    if (this.normalising && this.normalising.capacity >= frames) return this.normalising;
    if (this.normalising) giveBackKernels(normaliserBytes(this.normalising.capacity), this.normalising.kernels);
    const kernels = takeKernels(normaliserBytes(frames));
    const at = kernels.reserve(frames * BYTES_PER_FRAME);
    const left = kernels.reserve(frames * Float32Array.BYTES_PER_ELEMENT);
    const right = kernels.reserve(frames * Float32Array.BYTES_PER_ELEMENT);
    this.normalising = { kernels, capacity: frames, frames: at, left, right };
    return this.normalising;
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
    const stats = new ReferenceStats();
    stats.add(frames);
    return new TrackSpool(this.file, this.base + start, false, length, stats.mean, stats.std);
  }

  async close(): Promise<void> {
    if (this.normalising) giveBackKernels(normaliserBytes(this.normalising.capacity), this.normalising.kernels);
    this.normalising = undefined;
    if (this.ownsFile) await this.file.close();
  }
}

/** What `readNormalised` lays out in a kernel's memory for chunks of `frames`, with alignment to spare. */
function normaliserBytes(frames: number): number {
  return frames * (BYTES_PER_FRAME + 2 * Float32Array.BYTES_PER_ELEMENT) + 3 * 16;
}

/** demucs.api adds this to std so a silent track does not divide by zero. */
export const NORMALISATION_EPSILON = 1e-8;

/** Waits `ms`, or less if `until` settles first; `until` must not reject. */
async function pause(ms: number, until: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([elapsed, until]);
  } finally {
    clearTimeout(timer);
  }
}
