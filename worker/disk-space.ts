import { stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import type { Logger } from '../core/logging.js';
import { DECODE_CHANNELS } from './audio/decode.js';
import { encodeFormatSchema, type EncodeFormatInput } from './audio/encode.js';
import type { ClipMode } from './engine/stem-output.js';

/** Decoded audio as the track and stem spools hold it: float32 stereo. */
const SPOOL_BYTES_PER_FRAME = DECODE_CHANNELS * Float32Array.BYTES_PER_ELEMENT;
/**
 * Once the decoded length passes what was checked, the next check covers this much more: a long
 * lie costs a few dozen checks rather than one per block, and a track a little longer than it said
 * (encoder padding) is not asked for much more room than it needs.
 */
const GROWTH = 1.1;

export interface TrackDiskPlan {
  /** Stems written (the model's sources, or 2 for two-stem output). */
  stems: number;
  /** `rescale` holds every stem back in a temp spool until its peak is known. */
  clip: ClipMode;
  format: EncodeFormatInput;
  /** Frames per second of the decoded track. */
  sampleRate: number;
}

/** Bytes per stereo frame of the track: in the temp folder and, per stem, in the output folders. */
export interface DiskBytesPerFrame {
  temp: number;
  perStem: number;
}

/**
 * What a track takes on disk per frame while it is separated: the decoded track spool plus, with
 * `rescale`, one spool per stem; and each encoded stem, lossless ones at their raw PCM size (FLAC
 * of music is smaller: the estimate errs on the safe side), lossy ones at their bitrate.
 */
export function diskBytesPerFrame(plan: TrackDiskPlan): DiskBytesPerFrame {
  const spooledStems = plan.clip === 'rescale' ? plan.stems : 0;
  return { temp: SPOOL_BYTES_PER_FRAME * (1 + spooledStems), perStem: encodedBytesPerFrame(plan.format, plan.sampleRate) };
}

function encodedBytesPerFrame(input: EncodeFormatInput, sampleRate: number): number {
  const format = encodeFormatSchema.parse(input);
  switch (format.format) {
    case 'wav':
    case 'flac':
      return DECODE_CHANNELS * (format.bitDepth / 8);
    case 'mp3':
    case 'opus':
      return (format.bitrateKbps * 1000) / 8 / sampleRate;
  }
}

export interface DiskGuardOptions {
  tempDir: string;
  /** The folder of each stem's file, one entry per stem (they may repeat). */
  stemDirs: readonly string[];
  perFrame: DiskBytesPerFrame;
  /** Bytes every disk keeps free for everything else (DISK_MIN_FREE_MB). */
  reserveBytes: number;
  /** The operator at the CLI may read folder names in the refusal; chat users must not see server paths. */
  nameFolders: boolean;
  logger?: Logger | undefined;
}

interface Shortage {
  dirs: string[];
  neededBytes: number;
  freeBytes: number;
}

/**
 * Free space, checked before a track is spooled for the length known up front, and again whenever
 * the decoded length outgrows what was checked: files can misstate their length, and a job must
 * fail with `disk_full` rather than fill the disk.
 */
export class DiskGuard {
  private checkedFrames = 0;

  constructor(private readonly options: DiskGuardOptions) {}

  /** Checks room for a track of `frames`, as far as it was not checked already. */
  async checkLength(frames: number): Promise<void> {
    if (!Number.isFinite(frames) || frames <= this.checkedFrames) return;
    await this.check(frames, 0);
    this.checkedFrames = frames;
  }

  /** The track spool is about to grow to `frames`, with `spooled` of them on disk already. */
  async checkGrowth(frames: number, spooled: number): Promise<void> {
    if (frames <= this.checkedFrames) return;
    const target = Math.max(frames, Math.ceil(this.checkedFrames * GROWTH));
    await this.check(target, spooled);
    this.checkedFrames = target;
  }

  private async check(frames: number, spooled: number): Promise<void> {
    const { tempDir, stemDirs, perFrame } = this.options;
    const needs = [{ dir: tempDir, bytes: perFrame.temp * frames - SPOOL_BYTES_PER_FRAME * spooled }, ...stemDirs.map((dir) => ({ dir, bytes: perFrame.perStem * frames }))];
    const shortage = await findShortage(needs, this.options.reserveBytes);
    if (!shortage) return;
    this.options.logger?.warn(
      { dir: shortage.dirs.join(', '), neededBytes: Math.ceil(shortage.neededBytes), freeBytes: shortage.freeBytes, reserveBytes: this.options.reserveBytes, frames },
      'not enough disk space for the track',
    );
    throw diskFull(shortage, this.options);
  }
}

/** Folders on one filesystem share its free space, so their needs add up before they are compared. */
async function findShortage(needs: readonly { dir: string; bytes: number }[], reserveBytes: number): Promise<Shortage | undefined> {
  const byDevice = new Map<number, Shortage & { existing: string }>();
  for (const need of needs) {
    const existing = await nearestExisting(need.dir);
    const { dev } = await stat(existing);
    const entry = byDevice.get(dev) ?? { dirs: [], neededBytes: 0, freeBytes: 0, existing };
    if (!entry.dirs.includes(need.dir)) entry.dirs.push(need.dir);
    entry.neededBytes += need.bytes;
    byDevice.set(dev, entry);
  }
  for (const { existing, ...entry } of byDevice.values()) {
    const disk = await statfs(existing);
    const freeBytes = disk.bavail * disk.bsize;
    if (entry.neededBytes + reserveBytes > freeBytes) return { ...entry, freeBytes };
  }
  return undefined;
}

/** Output folders are made when the first file is written; their disk is the nearest folder that exists. */
async function nearestExisting(dir: string): Promise<string> {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    const found = await stat(current).then(
      () => true,
      () => false,
    );
    if (found || current === path.dirname(current)) return current;
  }
}

function diskFull(shortage: Shortage, options: DiskGuardOptions): UserError {
  if (!options.nameFolders) return new UserError('disk_full', 'The server is short of disk space for a track this long right now; try again later or send a shorter one.');
  const usable = Math.max(0, shortage.freeBytes - options.reserveBytes);
  return new UserError(
    'disk_full',
    `Not enough disk space in ${shortage.dirs.join(' and ')}: this track needs about ${formatBytes(shortage.neededBytes)} there and ${formatBytes(usable)} can be used (DISK_MIN_FREE_MB keeps ${formatBytes(options.reserveBytes)} free). Free some space or separate a shorter track.`,
  );
}

function formatBytes(bytes: number): string {
  if (bytes >= 1e12) return `${(bytes / 1e12).toFixed(1)} TB`;
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  return `${Math.ceil(bytes / 1e6)} MB`;
}
