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
const SPOOL_BLOCK_FRAMES = 1 << 16; // frames per read when replaying a rescaled stem
const FRAME_BYTES = 2 * Float32Array.BYTES_PER_ELEMENT; // interleaved stereo float32

interface Stem {
  name: string;
  writer: StemWriter;
  peak: number;
  spool?: FileHandle;
  spooled: number; // frames written to the spool
}

/**
 * Hands finished stems to their writers. With `rescale` the gain depends on the whole stem's
 * peak, so stems go to temp files first and are replayed with the gain at the end; otherwise
 * each block is passed on as soon as it is final.
 */
export class StemOutput {
  private constructor(
    private readonly stems: Stem[],
    private readonly clip: ClipMode,
  ) {}

  static async open(names: readonly string[], clip: ClipMode, openStem: (name: string) => StemWriter | Promise<StemWriter>, spoolDir: string): Promise<StemOutput> {
    const stems: Stem[] = [];
    for (const [i, name] of names.entries()) {
      const stem: Stem = { name, writer: await openStem(name), peak: 0, spooled: 0 };
      if (clip === 'rescale') stem.spool = await open(join(spoolDir, `stem-${i}.f32`), 'w+');
      stems.push(stem);
    }
    return new StemOutput(stems, clip);
  }

  /** One planar `[2][n]` block per stem, in stem order. */
  async write(blocks: readonly Float32Array[][]): Promise<void> {
    for (const [i, stem] of this.stems.entries()) {
      const planar = blocks[i] as Float32Array[];
      for (const channel of planar) for (const v of channel) stem.peak = Math.max(stem.peak, Math.abs(v));
      if (stem.spool) {
        await stem.spool.write(new Uint8Array(interleave(planar).buffer));
        stem.spooled += (planar[0] as Float32Array).length;
        continue;
      }
      if (this.clip === 'clamp') planar.forEach((c) => c.forEach((v, j) => (c[j] = Math.min(CLAMP_LIMIT, Math.max(-CLAMP_LIMIT, v)))));
      await stem.writer.write(planar);
    }
  }

  /** Replays spooled stems with their gain, ends every writer; returns each stem's peak and gain. */
  async finish(onFraction?: (fraction: number) => void): Promise<Array<{ name: string; peak: number; gain: number }>> {
    const total = this.stems.reduce((n, s) => n + s.spooled, 0);
    let replayed = 0;
    const summary = [];
    for (const stem of this.stems) {
      const gain = this.clip === 'rescale' ? 1 / Math.max(RESCALE_HEADROOM * stem.peak, 1) : 1;
      if (stem.spool) {
        for (let at = 0; at < stem.spooled; at += SPOOL_BLOCK_FRAMES) {
          const frames = Math.min(SPOOL_BLOCK_FRAMES, stem.spooled - at);
          const buffer = Buffer.alloc(frames * FRAME_BYTES);
          await stem.spool.read(buffer, 0, buffer.length, at * FRAME_BYTES);
          await stem.writer.write(deinterleave(new Float32Array(buffer.buffer, buffer.byteOffset, frames * 2), gain));
          replayed += frames;
          onFraction?.(replayed / total);
        }
      }
      await stem.writer.end();
      summary.push({ name: stem.name, peak: stem.peak, gain });
    }
    await this.close();
    return summary;
  }

  async close(): Promise<void> {
    for (const stem of this.stems) {
      await stem.spool?.close();
      delete stem.spool;
    }
  }
}

function interleave([left, right]: readonly Float32Array[]): Float32Array {
  const l = left as Float32Array;
  const r = right as Float32Array;
  const out = new Float32Array(l.length * 2);
  for (let i = 0; i < l.length; i++) {
    out[2 * i] = l[i] as number;
    out[2 * i + 1] = r[i] as number;
  }
  return out;
}

function deinterleave(frames: Float32Array, gain: number): Float32Array[] {
  const n = frames.length / 2;
  const left = new Float32Array(n);
  const right = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    left[i] = (frames[2 * i] as number) * gain;
    right[i] = (frames[2 * i + 1] as number) * gain;
  }
  return [left, right];
}
