import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { UserError } from '../../core/errors.js';
import type { EncoderOptions, StemEncoder } from './encode.js';
import { packSamples, type SampleKind } from './pcm.js';
import { maxWavDataBytes, wavFrameBytes, wavHeader, wavHeaderBytes, type WavLayout } from './wav-header.js';

export interface WavEncoderOptions extends WavLayout, Pick<EncoderOptions, 'outputPath' | 'signal' | 'logger'> {}

/** torchaudio.save's conversions for 16 and 24 bits (see pcm.ts); float goes out as it is. */
const WAV_SAMPLES: Record<WavLayout['bitDepth'], SampleKind> = { 16: 'pcm16', 24: 'pcm24', 32: 'f32' };

/**
 * Bytes handed to the threadpool but not yet in the page cache before a write waits (about 24 s of
 * 16-bit stereo): the engine runs ahead of a slow disk by this much, and no further.
 */
const WAV_BACKLOG_BYTES = 4 * 2 ** 20;

/** Packed buffers an encoder keeps for reuse. */
const SPARE_BUFFERS = 4;

/** errno codes that mean the output folder or its disk, not stembot, is at fault. */
const UNWRITABLE_CODES = new Set(['EACCES', 'EROFS', 'ENOSPC', 'EDQUOT']);

/**
 * A wav stem written straight to disk: its samples are the packed PCM itself, so an ffmpeg process
 * and its pipe would only copy them. The file is `${outputPath}.part` until `end()` renames it.
 */
export async function openWavEncoder(options: WavEncoderOptions): Promise<StemEncoder> {
  const partPath = `${options.outputPath}.part`;
  try {
    return new WavFileEncoder(await open(partPath, 'w'), partPath, options);
  } catch (error) {
    throw unwritable(options.outputPath, error) ?? error;
  }
}

class WavFileEncoder implements StemEncoder {
  private state: 'open' | 'ended' | 'aborted' = 'open';
  private dataBytes = 0;
  /**
   * Settles once every write queued so far is done. Writes run one after another on the threadpool
   * (FileHandle writes with a position), so the main thread only packs and queues.
   */
  private written: Promise<void> = Promise.resolve();
  private queuedBytes = 0;
  /** The first write that failed; later writes are skipped and the next call reports it. */
  private failure: { error: unknown } | undefined;
  private readonly spare: ArrayBuffer[] = [];
  private readonly kind: SampleKind;
  private readonly headerBytes: number;
  private aborting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly onAbort = (): void => {
    this.abort().catch((error: unknown) => this.options.logger?.warn({ err: (error as Error).message, outputPath: this.options.outputPath }, 'could not remove a cancelled stem'));
  };

  constructor(
    private readonly file: FileHandle,
    private readonly partPath: string,
    private readonly options: WavEncoderOptions,
  ) {
    this.kind = WAV_SAMPLES[options.bitDepth];
    this.headerBytes = wavHeaderBytes(options);
    // The sizes are unknown until end(), which rewrites the header; a crash leaves a .part that
    // still parses, as an empty wav.
    this.enqueue(wavHeader(options, 0), 0, false);
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  async write(planar: Float32Array[]): Promise<void> {
    this.assertOpen();
    if (this.failure) await this.fail(this.failure.error);
    // Packed now: the caller reuses `planar` once this resolves.
    const packed = this.pack(planar);
    if (this.dataBytes + packed.length > maxWavDataBytes(this.options)) await this.fail(this.tooLong());
    const before = this.written;
    this.enqueue(packed, this.headerBytes + this.dataBytes, true);
    this.dataBytes += packed.length;
    if (this.queuedBytes <= WAV_BACKLOG_BYTES) return;
    // Waiting for the writes queued before this block, not for this one, keeps the disk busy
    // while the engine computes the next block.
    await before;
    if (this.failure) await this.fail(this.failure.error);
  }

  async end(): Promise<void> {
    this.assertOpen();
    this.state = 'ended';
    try {
      this.enqueue(wavHeader(this.options, this.dataBytes), 0, false);
      await this.written;
      if (this.failure) throw this.failure.error;
      await this.close();
      // A cancel while the last writes ran has removed, or is removing, the partial file.
      this.options.signal?.throwIfAborted();
      await rename(this.partPath, this.options.outputPath);
    } catch (error) {
      await this.fail(error);
    } finally {
      this.options.signal?.removeEventListener('abort', this.onAbort);
    }
  }

  /** Idempotent: a second call (or the signal's) waits for the first. */
  abort(): Promise<void> {
    this.state = 'aborted';
    this.aborting ??= (async () => {
      this.options.signal?.removeEventListener('abort', this.onAbort);
      // Queued writes are skipped from now on, but one may be on the threadpool with the handle.
      await this.written;
      // The file is removed next, so a failed close loses nothing.
      await this.close().catch(() => undefined);
      await rm(this.partPath, { force: true });
    })();
    return this.aborting;
  }

  private pack(planar: Float32Array[]): Buffer {
    const packed = packSamples(planar, this.kind, this.spare.pop());
    return this.kind === 'pcm24' ? narrowToS24(packed) : packed;
  }

  private enqueue(bytes: Buffer, position: number, reusable: boolean): void {
    this.queuedBytes += bytes.length;
    this.written = this.written
      .then(() => (this.failure || this.state === 'aborted' ? undefined : writeFully(this.file, bytes, position)))
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => {
        this.queuedBytes -= bytes.length;
        if (reusable && this.spare.length < SPARE_BUFFERS) this.spare.push(bytes.buffer as ArrayBuffer);
      });
  }

  private close(): Promise<void> {
    this.closing ??= this.file.close();
    return this.closing;
  }

  private assertOpen(): void {
    this.options.signal?.throwIfAborted();
    if (this.state !== 'open') throw new Error(`encoder for ${this.options.outputPath} is already ${this.state}`);
  }

  private async fail(error: unknown): Promise<never> {
    await this.abort();
    this.options.signal?.throwIfAborted();
    const userError = unwritable(this.options.outputPath, error);
    if (!userError) throw error;
    this.options.logger?.error({ code: (error as NodeJS.ErrnoException).code, outputPath: this.options.outputPath }, 'wav write failed');
    throw userError;
  }

  private tooLong(): UserError {
    const hours = maxWavDataBytes(this.options) / wavFrameBytes(this.options) / this.options.sampleRate / 3600;
    return new UserError('track_too_long', `A ${this.options.bitDepth}-bit WAV file holds at most ${hours.toFixed(1)} hours; choose flac for a track this long.`);
  }
}

async function writeFully(file: FileHandle, bytes: Buffer, position: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await file.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

function unwritable(outputPath: string, error: unknown): UserError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (!code || !UNWRITABLE_CODES.has(code)) return undefined;
  return new UserError('output_unwritable', `Cannot write ${outputPath}: the disk is full or the folder is not writable.`, { cause: error });
}

/**
 * pcm24's s32 samples (value << 8, for ffmpeg's s32 input) narrowed in place to the 3-byte
 * little-endian samples of a 24-bit wav: the top three bytes, which is what ffmpeg's pcm_s24le
 * writes from that s32 (it drops the low byte, zero here). Sample i's bytes land at 3i..3i+2,
 * below sample i + 1's source at 4i + 4, so one forward pass never overwrites what it has not read.
 */
function narrowToS24(packed: Buffer): Buffer {
  const samples = new Int32Array(packed.buffer, packed.byteOffset, packed.length / 4);
  const bytes = new Uint8Array(packed.buffer, packed.byteOffset, packed.length);
  for (let i = 0; i < samples.length; i++) {
    const sample = samples[i]!;
    bytes[3 * i] = sample >> 8;
    bytes[3 * i + 1] = sample >> 16;
    bytes[3 * i + 2] = sample >> 24;
  }
  return packed.subarray(0, 3 * samples.length);
}
