import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from '../core/logging.js';
import { UserError } from '../core/errors.js';
import { decodeToFile, DECODE_SAMPLE_RATE } from './audio/decode.js';
import { createEncoder, type EncodeFormatInput, type StemEncoder } from './audio/encode.js';
import { separate, separationSettingsSchema, stemNames, type ExcerptOptions, type SeparationProgress, type SeparationSettings } from './engine/apply.js';
import type { LoadedModel } from './engine/model.js';
import { TrackSpool, type SpoolFiller } from './engine/spool.js';
import type { SpoolFiles } from './engine/spool-files.js';
import type { StemWriter } from './engine/stem-output.js';
import { DiskGuard, diskBytesPerFrame } from './disk-space.js';

/** Wall time per stage. Stages overlap in the stream, so each counts the time spent waiting on it. */
export interface TrackTimings {
  decodeMs: number;
  inferenceMs: number;
  /** Of inferenceMs, the time inside onnxruntime itself, on the inference thread. */
  sessionRunMs: number;
  /** Not in inferenceMs: requests on their way to the inference thread (see `ModelSession.lastHandoffMs`). */
  handoffMs: number;
  /** Overlap-add and STFT/iSTFT on the host: the engine's own work around the model. */
  overlapAddMs: number;
  stftMs: number;
  encodeMs: number;
  /** From the start until the preview's stems were complete, when one was asked for and made. */
  previewMs?: number;
  totalMs: number;
}

export interface SeparateTrackOptions {
  /** A file path or a byte stream of any audio ffmpeg can decode. */
  input: string | Readable;
  model: LoadedModel;
  ffmpeg: string;
  /** Where each stem goes; the file appears only once it is complete. */
  outputPath: (stem: string) => string;
  format: EncodeFormatInput;
  settings: SeparationSettings;
  tempDir: string;
  /** Stem spool files kept from earlier separations (see spool-files.ts). */
  spoolFiles?: SpoolFiles | undefined;
  /** The length the source claims (ffprobe's, at submit); the disk is checked for it before anything is written. */
  expectedSeconds?: number | undefined;
  /**
   * The most audio this track may turn out to hold, in seconds: decoding stops with a UserError
   * past it, before the spool grows further. Unset for the operator's own files at the CLI.
   */
  maxSeconds?: number | undefined;
  /** Bytes to leave free on the temp and output disks (DISK_MIN_FREE_MB). Default 0. */
  diskReserveBytes?: number;
  /** Whether a `disk_full` refusal may name the folders: yes for the operator at the CLI, never for chat users. */
  nameFoldersInErrors?: boolean;
  signal?: AbortSignal;
  onProgress?: (progress: SeparationProgress) => void;
  logger?: Logger;
  /** Separate a short excerpt first and hand it over before the whole track (tracks under twice its length get none). */
  preview?: PreviewOptions;
}

/**
 * What previews are encoded as: small mp3s, quick to post. lame at quality 7 encodes about four
 * times faster than demucs' 2 (measured: 0.36 s against 1.5 s per 30 s stem on this project's
 * 2-core machine), and a preview is heard once, in chat, before the real stems arrive.
 */
export const PREVIEW_FORMAT = { format: 'mp3', bitrateKbps: 128, quality: 7 } as const;

export interface PreviewOptions {
  /** Where the excerpt starts (the link's `t=`); default a third of the way in. Clamped to fit. */
  startSeconds?: number | undefined;
  seconds: number;
  format: EncodeFormatInput;
  outputPath: (stem: string) => string;
  /** Awaited before the whole track is separated; a rejection fails the separation, so catch what may fail. */
  onReady: (preview: SeparatedPreview) => void | Promise<void>;
}

export interface SeparatedPreview {
  stems: { name: string; path: string }[];
  startSeconds: number;
  durationSeconds: number;
}

export interface SeparatedTrack {
  stems: { name: string; path: string }[];
  durationSeconds: number;
  timings: TrackTimings;
}

/**
 * Wall time during which at least one call is in flight: stems are encoded concurrently, and
 * summing their overlapping waits would count the same second several times.
 */
class BusyClock {
  ms = 0;
  private active = 0;
  private since = 0;

  async time<T>(work: () => Promise<T>): Promise<T> {
    if (this.active++ === 0) this.since = performance.now();
    try {
      return await work();
    } finally {
      if (--this.active === 0) this.ms += performance.now() - this.since;
    }
  }
}

/**
 * One track end to end as a stream: ffmpeg decode (into the engine's spool) -> engine (chunks,
 * model, overlap-add) -> one encoder per stem (an ffmpeg process, or for wav the file written
 * directly). Memory stays bounded by the engine's window, not the track.
 */
export async function separateTrack(options: SeparateTrackOptions): Promise<SeparatedTrack> {
  const started = performance.now();
  const encodeClock = new BusyClock();
  const encoders: StemEncoder[] = [];
  const stems: { name: string; path: string }[] = [];
  const stemOpener = (outputPath: (stem: string) => string, format: EncodeFormatInput, opened: { name: string; path: string }[]) => async (name: string): Promise<StemWriter> => {
    const path = outputPath(name);
    const encoder = await createEncoder({ ffmpeg: options.ffmpeg, outputPath: path, format, sampleRate: options.model.sampleRate, signal: options.signal, logger: options.logger });
    encoders.push(encoder);
    opened.push({ name, path });
    return {
      write: (planar) => encodeClock.time(() => encoder.write(planar)),
      end: () => encodeClock.time(() => encoder.end()),
      abort: () => encoder.abort(),
    };
  };
  const openStem = stemOpener(options.outputPath, options.format, stems);
  const disk = diskGuardFor(options);
  await disk.checkLength(Math.ceil((options.expectedSeconds ?? 0) * DECODE_SAMPLE_RATE));
  const previewStems: { name: string; path: string }[] = [];
  const decoder = decoderFor(options);
  const maxFrames = options.maxSeconds === undefined ? Infinity : Math.ceil(options.maxSeconds * DECODE_SAMPLE_RATE);
  try {
    let previewMs: number | undefined;
    const preview = options.preview && {
      ...options.preview,
      onReady: (ready: SeparatedPreview) => {
        previewMs = performance.now() - started;
        return options.preview?.onReady(ready);
      },
    };
    const result = await separate(decoder, {
      ...options.settings,
      model: options.model,
      openStem,
      tempDir: options.tempDir,
      spoolFiles: options.spoolFiles,
      // ffmpeg writes the spool itself, so both checks see growth once it is on disk: the spool can
      // run a poll's worth (a few MB) past a refusal before ffmpeg is killed (see TrackSpool.follow).
      beforeSpoolGrowth: async (samples, spooled) => {
        // The length a source states is what was checked and charged: a file whose frames run on past its header must not get more.
        if (samples > maxFrames) throw longerThanStated(options.maxSeconds ?? 0);
        await disk.checkGrowth(samples, spooled);
      },
      signal: options.signal,
      onProgress: options.onProgress,
      excerpt: preview && excerptFor(preview, stemOpener(preview.outputPath, preview.format, previewStems), previewStems),
    });
    return {
      stems,
      durationSeconds: result.length / DECODE_SAMPLE_RATE,
      timings: {
        decodeMs: decoder.ms,
        inferenceMs: result.timings.inferenceMs,
        sessionRunMs: result.timings.sessionRunMs,
        handoffMs: result.timings.handoffMs,
        overlapAddMs: result.timings.overlapAddMs,
        stftMs: result.timings.stftMs,
        encodeMs: encodeClock.ms,
        ...(previewMs === undefined ? {} : { previewMs }),
        totalMs: performance.now() - started,
      },
    };
  } catch (error) {
    await Promise.all(encoders.map((encoder) => encoder.abort().catch(() => undefined)));
    throw error;
  }
}

function excerptFor(preview: PreviewOptions, openStem: (name: string) => Promise<StemWriter>, stems: { name: string; path: string }[]): ExcerptOptions {
  return {
    start: preview.startSeconds === undefined ? undefined : Math.round(preview.startSeconds * DECODE_SAMPLE_RATE),
    length: Math.round(preview.seconds * DECODE_SAMPLE_RATE),
    openStem,
    onDone: (result, start) => preview.onReady({ stems, startSeconds: start / DECODE_SAMPLE_RATE, durationSeconds: result.length / DECODE_SAMPLE_RATE }),
  };
}

/**
 * ffmpeg decoding straight into the engine's track spool, followed as it grows; `ms` is the decode
 * phase's wall time, until the whole track is on disk and its statistics are known.
 */
function decoderFor(options: SeparateTrackOptions): SpoolFiller & { ms: number } {
  const decode = { ffmpeg: options.ffmpeg, maxSeconds: options.maxSeconds, signal: options.signal, logger: options.logger };
  const decoder: SpoolFiller & { ms: number } = {
    ms: 0,
    fill: async (spoolPath, spoolOptions) => {
      const started = performance.now();
      try {
        return await TrackSpool.follow(spoolPath, (file) => decodeToFile(options.input, file, decode), spoolOptions);
      } finally {
        decoder.ms = performance.now() - started;
      }
    },
  };
  return decoder;
}

function longerThanStated(maxSeconds: number): UserError {
  return new UserError('audio_longer_than_stated', `This audio is longer than it says: it runs past ${formatMinutes(maxSeconds)}, so it was stopped. Nothing was charged.`);
}

function formatMinutes(seconds: number): string {
  return seconds < 60 ? `${Math.floor(seconds)} s` : `${Math.floor(seconds / 60)} min ${Math.floor(seconds % 60)} s`;
}

/** Sized from what this track will write: its stems, their clip mode and format, and where each goes. */
function diskGuardFor(options: SeparateTrackOptions): DiskGuard {
  const settings = separationSettingsSchema.parse(options.settings);
  const stemDirs = stemNames(options.model.sources, settings.twoStems).map((stem) => path.dirname(options.outputPath(stem)));
  return new DiskGuard({
    tempDir: options.tempDir,
    stemDirs,
    perFrame: diskBytesPerFrame({ stems: stemDirs.length, clip: settings.clip, format: options.format, sampleRate: DECODE_SAMPLE_RATE }),
    reserveBytes: options.diskReserveBytes ?? 0,
    nameFolders: options.nameFoldersInErrors ?? false,
    logger: options.logger,
  });
}
