import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { z } from 'zod';
import type { SpoolFiles } from './spool-files.js';

/**
 * How stems are kept from clipping when saved, as demucs `audio.prevent_clip`: `rescale`
 * divides the whole stem by `max(1.01 * peak, 1)`, `clamp` limits samples to ±0.99, `none`
 * leaves them. demucs' default is `rescale`.
 */
export const clipModeSchema = z.enum(['rescale', 'clamp', 'none']);
export type ClipMode = z.infer<typeof clipModeSchema>;

/** Where a stem's audio goes (an encoder): planar float32 stereo blocks, then `end()`, or `abort()` to throw it away. */
export interface StemWriter {
  /** The samples are the engine's buffer, reused once the returned promise settles: copy what you keep. */
  write(planar: Float32Array[]): void | Promise<void>;
  end(): void | Promise<void>;
  abort(): void | Promise<void>;
}

const CLAMP_LIMIT = 0.99;
const RESCALE_HEADROOM = 1.01;

interface Stem {
  name: string;
  writer: StemWriter;
  peak: number;
  spool?: FileHandle;
  spoolPath?: string;
  /** Frames of each block in the spool, in order: blocks are spooled planar, `[left][right]`. */
  spooledBlocks: number[];
  spooled: number; // frames written to the spool
}

/**
 * Hands finished stems to their writers as soon as each block is final. With `rescale` the gain
 * depends on the whole stem's peak, which is known only at the end; most stems never come near
 * full scale (gain 1), so every block goes to its writer at gain 1 and, on the side, to a spool
 * file (see spool-files.ts); at the end only a stem whose peak called for a gain is written again
 * from its file, by a fresh writer. Stems are written concurrently: each writer is a separate encoder process, so
 * waiting on them one at a time would leave the others idle.
 */
export class StemOutput {
  private constructor(
    private readonly stems: Stem[],
    private readonly clip: ClipMode,
    private readonly openStem: (name: string) => StemWriter | Promise<StemWriter>,
    private readonly spoolFiles: SpoolFiles | undefined,
  ) {}

  /** With `spoolFiles`, the stem spools are files kept from earlier separations, and kept again at `close`. */
  static async open(names: readonly string[], clip: ClipMode, openStem: (name: string) => StemWriter | Promise<StemWriter>, spoolDir: string, spoolFiles?: SpoolFiles): Promise<StemOutput> {
    const stems: Stem[] = [];
    const output = new StemOutput(stems, clip, openStem, spoolFiles);
    try {
      for (const [i, name] of names.entries()) {
        const stem: Stem = { name, writer: await openStem(name), peak: 0, spooledBlocks: [], spooled: 0 };
        stems.push(stem);
        if (clip !== 'rescale') continue;
        stem.spoolPath = join(spoolDir, `stem-${i}.f32`);
        stem.spool = await (spoolFiles ? spoolFiles.open(stem.spoolPath) : open(stem.spoolPath, 'w+'));
      }
    } catch (error) {
      await output.close();
      throw error;
    }
    return output;
  }

  /** One planar `[2][n]` block per stem, in stem order, with each block's peak |sample| when the caller already knows it. */
  async write(blocks: readonly Float32Array[][], peaks?: readonly number[]): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const [i, stem] of this.stems.entries()) {
      // Each stem's peak and packing gets a turn of the event loop of its own: in the all-in-one
      // process, chat replies and queue locks get in between.
      await nextTurn();
      const write = this.writeStem(stem, blocks[i] as Float32Array[], peaks?.[i]);
      write.catch(() => undefined); // met by Promise.all below; not unhandled while the next turn waits
      writes.push(write);
    }
    await Promise.all(writes);
  }

  /** Rewrites the stems that need a gain from their spools, ends every writer; returns each stem's peak and gain. */
  async finish(onFraction?: (fraction: number) => void): Promise<Array<{ name: string; peak: number; gain: number }>> {
    const gainOf = (stem: Stem): number => (this.clip === 'rescale' ? 1 / Math.max(RESCALE_HEADROOM * stem.peak, 1) : 1);
    const rewrites = this.stems.filter((stem) => gainOf(stem) !== 1);
    const total = rewrites.reduce((n, s) => n + s.spooled, 0);
    let replayed = 0;
    const onFrames = (frames: number): void => {
      replayed += frames;
      onFraction?.(replayed / total);
    };
    const summary = await Promise.all(
      this.stems.map(async (stem) => {
        const gain = gainOf(stem);
        if (gain !== 1 && stem.spool) {
          await stem.writer.abort();
          stem.writer = await this.openStem(stem.name);
          await replay(stem.spool, stem.spooledBlocks, gain, stem.writer, onFrames);
        }
        await stem.writer.end();
        return { name: stem.name, peak: stem.peak, gain };
      }),
    );
    if (rewrites.length === 0) onFraction?.(1);
    await this.close();
    return summary;
  }

  /** Closes the stem spools, giving their files back for reuse; the writers are the caller's. */
  async close(): Promise<void> {
    for (const stem of this.stems) {
      const { spool, spoolPath } = stem;
      delete stem.spool;
      await spool?.close();
      if (spool && spoolPath && this.spoolFiles) await this.spoolFiles.giveBack(spoolPath);
    }
  }

  private async writeStem(stem: Stem, planar: Float32Array[], peak: number | undefined): Promise<void> {
    if (peak === undefined) for (const channel of planar) stem.peak = peakOf(channel, stem.peak);
    else stem.peak = Number.isNaN(stem.peak) || Number.isNaN(peak) ? Number.NaN : Math.max(stem.peak, peak);
    if (this.clip === 'clamp') for (const channel of planar) clamp(channel);
    await Promise.all([stem.writer.write(planar), stem.spool && spool(stem, stem.spool, planar)]);
  }
}

async function spool(stem: Stem, file: FileHandle, planar: Float32Array[]): Promise<void> {
  const bytes = planar.map((c) => new Uint8Array(c.buffer, c.byteOffset, c.byteLength));
  const expected = bytes.reduce((n, b) => n + b.length, 0);
  const { bytesWritten } = await file.writev(bytes);
  if (bytesWritten !== expected) throw new Error(`short write to the ${stem.name} spool: ${bytesWritten} of ${expected} bytes`);
  const frames = (planar[0] as Float32Array).length;
  stem.spooledBlocks.push(frames);
  stem.spooled += frames;
}

/** The largest |sample|; a NaN sample makes the peak NaN, and it stays NaN, as `Math.max` would. */
function peakOf(channel: Float32Array, peak: number): number {
  for (let i = 0; i < channel.length; i++) {
    const level = Math.abs(channel[i] as number);
    if (level > peak || level !== level) peak = level;
  }
  return peak;
}

function clamp(channel: Float32Array): void {
  for (let i = 0; i < channel.length; i++) channel[i] = Math.min(CLAMP_LIMIT, Math.max(-CLAMP_LIMIT, channel[i] as number));
}

/** Reads each spooled block back whole (blocks are at most about a segment) and writes it with `gain`. */
async function replay(spool: FileHandle, blocks: readonly number[], gain: number, writer: StemWriter, onFrames: (frames: number) => void): Promise<void> {
  let position = 0;
  for (const frames of blocks) {
    const samples = new Float32Array(2 * frames); // [left][right]
    const { bytesRead } = await spool.read(new Uint8Array(samples.buffer), 0, samples.byteLength, position);
    if (bytesRead !== samples.byteLength) throw new Error(`short read from a stem spool: ${bytesRead} of ${samples.byteLength} bytes`);
    position += samples.byteLength;
    if (gain !== 1) for (let i = 0; i < samples.length; i++) samples[i] = (samples[i] as number) * gain;
    await writer.write([samples.subarray(0, frames), samples.subarray(frames)]);
    onFrames(frames);
  }
}
