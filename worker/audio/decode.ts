import { stat } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '../../core/logging.js';
import { UserError } from '../../core/errors.js';
import type { SpoolWriter } from '../engine/spool.js';
import { exitedCleanly, inputGuardArgs, refusedByInputGuard, runTool, ToolError, type ToolExit, type ToolRun } from './ffmpeg.js';

/** Planar stereo samples: `[left, right]`, both the same length. */
export type PlanarBlock = Float32Array[]; /* [2][n] */
/** Interleaved stereo samples, as ffmpeg writes them: `[n,2]`. */
export type InterleavedBlock = Float32Array;

/** What every model we run expects; ffmpeg resamples and up/down-mixes to it. */
export const DECODE_SAMPLE_RATE = 44100;
export const DECODE_CHANNELS = 2;
/** 1.5 s at 44.1 kHz: 512 KiB per block, small against a 7.8 s model segment. */
export const DEFAULT_BLOCK_FRAMES = 65536;

const BYTES_PER_FRAME = DECODE_CHANNELS * Float32Array.BYTES_PER_ELEMENT;

export interface DecodeOptions {
  /** Path of the ffmpeg binary (from `locateFfmpeg`). */
  ffmpeg: string;
  /** Frames per yielded block; the last block may be shorter. Default `DEFAULT_BLOCK_FRAMES`. */
  blockFrames?: number;
  /** Aborting kills ffmpeg; the iterator then throws the signal's reason. */
  signal?: AbortSignal;
  logger?: Logger;
}

/**
 * Decodes a file path or a byte stream to 44.1 kHz stereo float32, yielding bounded planar blocks.
 * The arguments mirror demucs' own `AudioFile.read` (first audio stream, `-f f32le -ac 2 -ar 44100`),
 * so other rates are resampled and mono is upmixed exactly as demucs would hand them to the model. Note that
 * `-ac 2` puts mono on both sides at -3 dB (swresample's centre gain), not at full level: demucs does the same.
 */
export async function* decodeAudio(input: string | Readable, options: DecodeOptions): AsyncGenerator<PlanarBlock, void, undefined> {
  for await (const block of decodeInterleaved(input, options)) yield deinterleave(block);
}

/**
 * The same decode, yielding blocks interleaved as ffmpeg wrote them: what a consumer that stores
 * the track (the engine's spool) takes without splitting and re-joining the channels.
 */
export async function* decodeInterleaved(input: string | Readable, options: DecodeOptions): AsyncGenerator<InterleavedBlock, void, undefined> {
  const blockFrames = options.blockFrames ?? DEFAULT_BLOCK_FRAMES;
  if (!Number.isInteger(blockFrames) || blockFrames < 1) throw new RangeError(`blockFrames must be a positive integer, got ${blockFrames}`);
  if (typeof input === 'string') await assertNonEmptyFile(input);
  options.signal?.throwIfAborted();

  const fromStream = typeof input !== 'string';
  const run = runTool(options.ffmpeg, decodeArgs(fromStream ? 'pipe:0' : input, 'pipe:1'), { stdin: fromStream ? 'pipe' : 'ignore', signal: options.signal });
  const feed = fromStream ? feedStdin(input, run) : undefined;
  const blocks = new BlockAssembler(blockFrames);
  let frames = 0;
  try {
    for await (const chunk of run.stdout as AsyncIterable<Buffer>) {
      for (const block of blocks.push(chunk)) {
        frames += block.length / DECODE_CHANNELS;
        yield block;
      }
    }
    const exit = await run.exit;
    options.signal?.throwIfAborted();
    const fed = await feed;
    if (fed?.error) throw fed.error;
    if (!exitedCleanly(exit)) throw decodeFailure(exit, fed?.bytes, options.logger);
    const last = blocks.flush();
    if (last) {
      frames += last.length / DECODE_CHANNELS;
      yield last;
    }
    if (frames === 0) throw emptyAudio();
  } finally {
    // Also runs when the consumer stops early: ffmpeg must not outlive the iterator.
    run.kill();
  }
}

export interface DecodeToFileOptions extends Omit<DecodeOptions, 'blockFrames'> {
  /**
   * The longest the caller will take, in seconds: ffmpeg stops a second past it, a backstop to the
   * caller's own check of the frames (which then sees more than it takes and refuses the track).
   */
  maxSeconds?: number | undefined;
}

/** How far past `maxSeconds` ffmpeg decodes: enough for the caller to see the track run past it. */
const PAST_MAX_SECONDS = 1;

/**
 * The same decode, with ffmpeg writing the interleaved samples to `outputPath` itself (made by the
 * caller, who follows it as it grows: `TrackSpool.follow`). Nothing passes through Node, whose pipe
 * costs more than the decode: a 4-minute flac took 0.6-0.8 s through it against 0.4 s for ffmpeg
 * alone. `done` rejects with the same errors `decodeInterleaved` throws.
 */
export async function decodeToFile(input: string | Readable, outputPath: string, options: DecodeToFileOptions): Promise<SpoolWriter> {
  if (typeof input === 'string') await assertNonEmptyFile(input);
  options.signal?.throwIfAborted();

  const fromStream = typeof input !== 'string';
  const limit = options.maxSeconds === undefined ? [] : ['-t', String(options.maxSeconds + PAST_MAX_SECONDS)];
  // `file:` so that no character in the path makes ffmpeg take it for another protocol.
  const run = runTool(options.ffmpeg, decodeArgs(fromStream ? 'pipe:0' : input, `file:${outputPath}`, limit), { stdin: fromStream ? 'pipe' : 'ignore', signal: options.signal });
  // ffmpeg writes nothing there; drained so that the pipe's end does not hold up the exit.
  run.stdout.resume();
  const feed = fromStream ? feedStdin(input, run) : undefined;
  let stopped = false;
  const done = (async () => {
    const exit = await run.exit;
    options.signal?.throwIfAborted();
    const fed = await feed;
    if (fed?.error) throw fed.error;
    // Stopped by the caller, who has its own reason: ffmpeg being killed is not a decode failure to log.
    if (stopped) throw new Error('the decode was stopped');
    if (!exitedCleanly(exit)) throw decodeFailure(exit, fed?.bytes, options.logger);
    if ((await stat(outputPath)).size < BYTES_PER_FRAME) throw emptyAudio();
  })();
  return {
    done,
    stop: () => {
      stopped = true;
      run.kill();
    },
  };
}

function decodeArgs(source: string, output: string, outputLimit: readonly string[] = []): string[] {
  return [
    '-hide_banner', '-nostdin', '-loglevel', 'error', '-y',
    ...inputGuardArgs(source === 'pipe:0' ? 'pipe' : 'file'),
    '-i', source,
    '-map', '0:a:0', '-vn', '-sn', '-dn',
    ...outputLimit,
    '-f', 'f32le', '-acodec', 'pcm_f32le', '-ac', String(DECODE_CHANNELS), '-ar', String(DECODE_SAMPLE_RATE),
    output,
  ];
}

async function assertNonEmptyFile(file: string): Promise<void> {
  const info = await stat(file).catch((error: unknown) => {
    throw new UserError('audio_missing', `The audio file ${file} does not exist or cannot be read.`, { cause: error });
  });
  if (!info.isFile()) throw new UserError('audio_missing', `${file} is not a file.`);
  if (info.size === 0) throw emptyAudio();
}

interface FeedResult {
  bytes: number;
  /** Set only when the *input* failed; ffmpeg closing its stdin early is reported by its exit code. */
  error?: Error;
}

async function feedStdin(input: Readable, run: ToolRun): Promise<FeedResult> {
  const result: FeedResult = { bytes: 0 };
  const stdin = run.stdin!;
  // Registered before pipeline's own listeners, so it runs first: if stdin is already gone, this is
  // pipeline handing ffmpeg's early exit (EPIPE) back to the input, and the exit code tells that story.
  input.once('error', (error) => {
    if (stdin.destroyed) return;
    result.error = error;
    run.kill();
  });
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      result.bytes += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(input, counter, stdin).catch(() => undefined);
  return result;
}

/** Patterns in ffmpeg's stderr that mean "there is no audio in this file" rather than "this file is broken". */
const NOT_AUDIO = /matches no streams|does not contain any stream|no audio stream/i;

/** ffmpeg could not write its output (the spool): the server's disk, never the user's file. */
const OUTPUT_FAILED = /No space left on device|Disk quota exceeded|av_interleaved_write_frame|Error writing trailer|Error submitting a packet to the muxer/i;

function decodeFailure(exit: ToolExit, fedBytes: number | undefined, logger: Logger | undefined): Error {
  if (exit.spawnError) return new ToolError(`could not start ffmpeg: ${exit.spawnError.message}`, exit);
  logger?.warn({ code: exit.code, signal: exit.signal, stderrTail: exit.stderrTail }, 'ffmpeg decode failed');
  if (fedBytes === 0) return emptyAudio();
  if (exit.signal !== null) return new ToolError(`ffmpeg was killed by ${exit.signal}`, exit);
  if (OUTPUT_FAILED.test(exit.stderrTail.join('\n'))) return new ToolError('ffmpeg could not write the decoded audio', exit);
  const refused = refusedByInputGuard(exit);
  if (refused) return refused;
  if (NOT_AUDIO.test(exit.stderrTail.join('\n'))) {
    return new UserError('audio_not_audio', 'That file has no audio track. Send a song as mp3, m4a, opus, ogg, wav or flac.');
  }
  return new UserError('audio_undecodable', 'That file could not be decoded as audio; it may be damaged or in an unsupported format. Try mp3, m4a, opus, ogg, wav or flac.');
}

function emptyAudio(): UserError {
  return new UserError('audio_empty', 'That audio is empty (it has no samples). Send a song with some sound in it.');
}

function deinterleave(block: InterleavedBlock): PlanarBlock {
  const frames = block.length / DECODE_CHANNELS;
  const left = new Float32Array(frames);
  const right = new Float32Array(frames);
  for (let i = 0; i < frames; i++) {
    left[i] = block[2 * i]!;
    right[i] = block[2 * i + 1]!;
  }
  return [left, right];
}

/**
 * Packs ffmpeg's byte chunks (arbitrary sizes, floats split across chunks) into fixed-size
 * interleaved blocks. Each full block is handed out as it is and a fresh one started, so no
 * sample is copied twice. Assumes a little-endian host, as f32le is.
 */
class BlockAssembler {
  private interleaved: Float32Array;
  private bytes: Uint8Array;
  private filled = 0;

  constructor(private readonly blockFrames: number) {
    this.interleaved = new Float32Array(blockFrames * DECODE_CHANNELS);
    this.bytes = new Uint8Array(this.interleaved.buffer);
  }

  *push(chunk: Uint8Array): Generator<InterleavedBlock> {
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(chunk.length - offset, this.bytes.length - this.filled);
      this.bytes.set(chunk.subarray(offset, offset + take), this.filled);
      this.filled += take;
      offset += take;
      if (this.filled === this.bytes.length) yield this.take(this.blockFrames);
    }
  }

  /** The trailing partial block, or undefined; a dangling partial frame cannot come from ffmpeg and is dropped. */
  flush(): InterleavedBlock | undefined {
    const frames = Math.floor(this.filled / BYTES_PER_FRAME);
    return frames > 0 ? this.take(frames) : undefined;
  }

  private take(frames: number): InterleavedBlock {
    const block = frames === this.blockFrames ? this.interleaved : this.interleaved.slice(0, frames * DECODE_CHANNELS);
    this.interleaved = new Float32Array(this.blockFrames * DECODE_CHANNELS);
    this.bytes = new Uint8Array(this.interleaved.buffer);
    this.filled = 0;
    return block;
  }
}
