import { once } from 'node:events';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { z } from 'zod';
import type { Logger } from '../../core/logging.js';
import { UserError } from '../../core/errors.js';
import { exitedCleanly, runTool, ToolError, type ToolExit, type ToolRun } from './ffmpeg.js';
import { packSamples, type SampleKind } from './pcm.js';
import { openWavEncoder } from './wav-encoder.js';

/** One output file's format. Defaults follow the demucs CLI (`--mp3-bitrate 320`, 16-bit wav/flac unless asked). */
export const encodeFormatSchema = z.discriminatedUnion('format', [
  z.object({
    format: z.literal('mp3'),
    bitrateKbps: z.number().int().min(32).max(320).default(320),
    /** lame's algorithm quality (`-q`, 0 best, 9 fastest); 2 is demucs' `--mp3-preset` default. */
    quality: z.number().int().min(0).max(9).default(2),
  }),
  z.object({ format: z.literal('flac'), bitDepth: z.union([z.literal(16), z.literal(24)]).default(16) }),
  z.object({ format: z.literal('wav'), bitDepth: z.union([z.literal(16), z.literal(24), z.literal(32)]).default(16) }),
  // 192 kbps stereo is transparent for music with libopus; demucs has no opus output to follow.
  z.object({ format: z.literal('opus'), bitrateKbps: z.number().int().min(6).max(510).default(192) }),
]);
export type EncodeFormatInput = z.input<typeof encodeFormatSchema>;
export type EncodeFormat = z.output<typeof encodeFormatSchema>;
export type OutputFormat = EncodeFormat['format'];

export const OUTPUT_EXTENSIONS: Record<OutputFormat, string> = { mp3: 'mp3', flac: 'flac', wav: 'wav', opus: 'opus' };

export interface EncoderOptions {
  ffmpeg: string;
  /** Final path; the file appears there only once it is complete. */
  outputPath: string;
  format: EncodeFormatInput;
  /** Rate of the planar blocks written in; default 44100. */
  sampleRate?: number;
  signal?: AbortSignal;
  logger?: Logger;
}

/**
 * Accepts planar stereo float32 blocks and writes one encoded file: through an ffmpeg process, or
 * for wav directly (wav-encoder.ts).
 */
export interface StemEncoder {
  /**
   * Resolves once the block is packed and queued (for ffmpeg's stdin, or the file), so the caller may
   * reuse `planar`; past a few MB of backlog it waits for the queue to drain (backpressure).
   */
  write(planar: Float32Array[]): Promise<void>;
  /** Finishes the file (closes ffmpeg's input and waits for it) and moves it into place. */
  end(): Promise<void>;
  /** Stops the work (kills ffmpeg) and removes the partial file. */
  abort(): Promise<void>;
}

interface EncodePlan {
  input: SampleKind;
  codecArgs: string[];
}

/**
 * Integer conversions (see pcm.ts): mp3 gets demucs' `i16_pcm` (clamp to ±1, ×32767, truncate), because
 * demucs feeds lame those exact int16s; flac (and wav, in wav-encoder.ts) get torchaudio.save's conversion
 * (×2^15 or ×2^23, round to nearest even, clip), done here rather than by ffmpeg so the result does not
 * depend on the ffmpeg build.
 */
function planFor(format: Exclude<EncodeFormat, { format: 'wav' }>, sampleRate: number): EncodePlan {
  switch (format.format) {
    case 'mp3':
      // compression_level is lame's algorithm quality.
      return { input: 'lame16', codecArgs: ['-c:a', 'libmp3lame', '-b:a', `${format.bitrateKbps}k`, '-compression_level', String(format.quality), '-f', 'mp3'] };
    case 'flac':
      return format.bitDepth === 16
        ? { input: 'pcm16', codecArgs: ['-c:a', 'flac', '-sample_fmt', 's16', '-f', 'flac'] }
        : { input: 'pcm24', codecArgs: ['-c:a', 'flac', '-sample_fmt', 's32', '-bits_per_raw_sample', '24', '-f', 'flac'] };
    case 'opus':
      // libopus only runs at 48 kHz (or lower telephone rates), so ffmpeg resamples on the way out.
      return { input: 'f32', codecArgs: ['-c:a', 'libopus', '-b:a', `${format.bitrateKbps}k`, ...(sampleRate === 48000 ? [] : ['-ar', '48000']), '-f', 'opus'] };
  }
}

const RAW_INPUT_FORMAT: Record<SampleKind, string> = { f32: 'f32le', pcm16: 's16le', lame16: 's16le', pcm24: 's32le' };

export async function createEncoder(options: EncoderOptions): Promise<StemEncoder> {
  const format = encodeFormatSchema.parse(options.format);
  const sampleRate = options.sampleRate ?? 44100;
  await ensureWritableDir(path.dirname(options.outputPath));
  options.signal?.throwIfAborted();
  if (format.format === 'wav') return openWavEncoder({ outputPath: options.outputPath, sampleRate, bitDepth: format.bitDepth, signal: options.signal, logger: options.logger });
  const plan = planFor(format, sampleRate);
  const partPath = `${options.outputPath}.part`;
  const args = [
    '-hide_banner', '-nostdin', '-loglevel', 'error', '-y',
    '-f', RAW_INPUT_FORMAT[plan.input], '-ar', String(sampleRate), '-ac', '2', '-i', 'pipe:0',
    ...plan.codecArgs,
    partPath,
  ];
  const run = runTool(options.ffmpeg, args, { stdin: 'pipe', signal: options.signal });
  return new FfmpegEncoder(run, plan.input, partPath, options);
}

async function ensureWritableDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new UserError('output_unwritable', `Cannot write output files to ${dir}: check that the folder exists and is writable.`, { cause: error });
  }
}

/** Bytes queued for one encoder's stdin before a write waits (about 24 s of 16-bit stereo). */
const ENCODER_BACKLOG_BYTES = 4 * 2 ** 20;

/** Packed buffers an encoder keeps for reuse. */
const SPARE_BUFFERS = 4;

class FfmpegEncoder implements StemEncoder {
  private state: 'open' | 'ended' | 'aborted' = 'open';
  private readonly spare: ArrayBuffer[] = [];
  private readonly stdin: Writable;

  constructor(
    private readonly run: ToolRun,
    private readonly kind: SampleKind,
    private readonly partPath: string,
    private readonly options: EncoderOptions,
  ) {
    this.stdin = run.stdin!;
  }

  async write(planar: Float32Array[]): Promise<void> {
    this.assertOpen();
    // Packed bytes are the largest allocation per block; once a write has gone to the pipe, its
    // buffer packs a later block.
    const packed = packSamples(planar, this.kind, this.spare.pop());
    this.stdin.write(packed, () => this.spare.length < SPARE_BUFFERS && this.spare.push(packed.buffer as ArrayBuffer));
    // A few MB may queue for ffmpeg: waiting for every 64 KB pipe to empty would stall the
    // engine on each encoder in turn, while a bounded backlog lets both run at their own pace.
    if (this.stdin.writableLength <= ENCODER_BACKLOG_BYTES) return;
    // ffmpeg dying leaves 'drain' unsent forever, so its exit also ends the wait.
    const drained = await Promise.race([once(this.stdin, 'drain').then(() => true), this.run.exit.then(() => false)]);
    if (!drained) await this.fail(await this.run.exit);
  }

  async end(): Promise<void> {
    this.assertOpen();
    this.state = 'ended';
    this.stdin.end();
    const exit = await this.run.exit;
    if (!exitedCleanly(exit)) await this.fail(exit);
    await rename(this.partPath, this.options.outputPath);
  }

  async abort(): Promise<void> {
    if (this.state === 'aborted') return;
    this.state = 'aborted';
    this.run.kill();
    await this.run.exit;
    await rm(this.partPath, { force: true });
  }

  private assertOpen(): void {
    this.options.signal?.throwIfAborted();
    if (this.state !== 'open') throw new Error(`encoder for ${this.options.outputPath} is already ${this.state}`);
  }

  private async fail(exit: ToolExit): Promise<never> {
    await this.abort();
    this.options.signal?.throwIfAborted();
    if (exit.spawnError) throw new ToolError(`could not start ffmpeg: ${exit.spawnError.message}`, exit);
    this.options.logger?.error({ code: exit.code, signal: exit.signal, stderrTail: exit.stderrTail, outputPath: this.options.outputPath }, 'ffmpeg encode failed');
    if (exit.stderrTail.some((line) => /Permission denied|Read-only file system|No space left/i.test(line))) {
      throw new UserError('output_unwritable', `Cannot write ${this.options.outputPath}: the disk is full or the folder is not writable.`);
    }
    throw new ToolError(`ffmpeg exited with ${exit.code ?? exit.signal} while encoding ${path.basename(this.options.outputPath)}`, exit);
  }
}
