import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * How stems are kept from clipping when saved, as demucs `audio.prevent_clip`: `rescale`
 * divides the whole stem by `max(1.01 * peak, 1)`, `clamp` limits samples to ±0.99, `none`
 * leaves them. demucs' default is `rescale`.
 */
export const clipModeSchema = z.enum(['rescale', 'clamp', 'none']);
export type ClipMode = z.infer<typeof clipModeSchema>;

/** Where a stem's audio goes (an encoder): planar float32 stereo blocks, then `end()`. */
export interface StemWriter {
  write(planar: Float32Array[]): void | Promise<void>;
  end(): void | Promise<void>;
}

const CLAMP_LIMIT = 0.99;
const RESCALE_HEADROOM = 1.01;

interface Stem {
  name: string;
  writer: StemWriter;
  peak: number;
  spool?: FileHandle;
  /** Frames of each block in the spool, in order: blocks are spooled planar, `[left][right]`. */
  spooledBlocks: number[];
  spooled: number; // frames written to the spool
}

/**
 * Hands finished stems to their writers. With `rescale` the gain depends on the whole stem's
 * peak, so stems go to temp files first and are replayed with the gain at the end; otherwise
 * each block is passed on as soon as it is final. Stems are written concurrently: each writer is
 * a separate encoder process, so waiting on them one at a time would leave the others idle.
 */
export class StemOutput {
  private constructor(
    private readonly stems: Stem[],
    private readonly clip: ClipMode,
  ) {}

  static async open(names: readonly string[], clip: ClipMode, openStem: (name: string) => StemWriter | Promise<StemWriter>, spoolDir: string): Promise<StemOutput> {
    const stems: Stem[] = [];
    for (const [i, name] of names.entries()) {
      const stem: Stem = { name, writer: await openStem(name), peak: 0, spooledBlocks: [], spooled: 0 };
      if (clip === 'rescale') stem.spool = await open(join(spoolDir, `stem-${i}.f32`), 'w+');
      stems.push(stem);
    }
    return new StemOutput(stems, clip);
  }

  /** One planar `[2][n]` block per stem, in stem order. */
  async write(blocks: readonly Float32Array[][]): Promise<void> {
    await Promise.all(this.stems.map((stem, i) => this.writeStem(stem, blocks[i] as Float32Array[])));
  }

  /** Replays spooled stems with their gain, ends every writer; returns each stem's peak and gain. */
  async finish(onFraction?: (fraction: number) => void): Promise<Array<{ name: string; peak: number; gain: number }>> {
    const total = this.stems.reduce((n, s) => n + s.spooled, 0);
    let replayed = 0;
    const onFrames = (frames: number): void => {
      replayed += frames;
      onFraction?.(replayed / total);
    };
    const summary = await Promise.all(
      this.stems.map(async (stem) => {
        const gain = this.clip === 'rescale' ? 1 / Math.max(RESCALE_HEADROOM * stem.peak, 1) : 1;
        if (stem.spool) await replay(stem.spool, stem.spooledBlocks, gain, stem.writer, onFrames);
        await stem.writer.end();
        return { name: stem.name, peak: stem.peak, gain };
      }),
    );
    await this.close();
    return summary;
  }

  async close(): Promise<void> {
    for (const stem of this.stems) {
      await stem.spool?.close();
      delete stem.spool;
    }
  }

  private async writeStem(stem: Stem, planar: Float32Array[]): Promise<void> {
    for (const channel of planar) stem.peak = peakOf(channel, stem.peak);
    if (stem.spool) {
      const bytes = planar.map((c) => new Uint8Array(c.buffer, c.byteOffset, c.byteLength));
      const expected = bytes.reduce((n, b) => n + b.length, 0);
      const { bytesWritten } = await stem.spool.writev(bytes);
      if (bytesWritten !== expected) throw new Error(`short write to the ${stem.name} spool: ${bytesWritten} of ${expected} bytes`);
      const frames = (planar[0] as Float32Array).length;
      stem.spooledBlocks.push(frames);
      stem.spooled += frames;
      return;
    }
    if (this.clip === 'clamp') for (const channel of planar) clamp(channel);
    await stem.writer.write(planar);
  }
}

/** Math.max, not a comparison, so a NaN sample makes the peak NaN as it always has. */
function peakOf(channel: Float32Array, peak: number): number {
  for (let i = 0; i < channel.length; i++) peak = Math.max(peak, Math.abs(channel[i] as number));
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
