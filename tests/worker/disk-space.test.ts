import { execFile } from 'node:child_process';
import { mkdir, readdir, statfs } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { locateFfmpeg } from '../../worker/audio/ffmpeg.js';
import { DiskGuard, diskBytesPerFrame } from '../../worker/disk-space.js';
import { separateTrack } from '../../worker/separate-track.js';
import { loadTestModel } from '../support/engine-harness.js';
import { captureLogger, makeTempDir } from '../support/services.js';
import { rejectsWithUserError } from '../support/user-error.js';

const exec = promisify(execFile);
const RATE = 44100;
const MASTERS = { stems: 4, clip: 'rescale', format: { format: 'flac', bitDepth: 24 }, sampleRate: RATE } as const;
const CHAT_MESSAGE = 'The server is short of disk space for a track this long right now; try again later or send a shorter one.';

let work: { dir: string; remove(): Promise<void> };
beforeAll(async () => {
  work = await makeTempDir('stembot-disk-');
});
afterAll(async () => work.remove());

describe('the disk estimate', () => {
  it('counts the track spool, a spool per stem for rescale, and the encoded stems at their raw size', () => {
    // float32 stereo: 8 bytes a frame for the track and for each of 4 held-back stems; 24-bit stereo FLAC: 6 a stem.
    expect(diskBytesPerFrame(MASTERS)).toEqual({ temp: 40, perStem: 6 });
    expect(diskBytesPerFrame({ ...MASTERS, clip: 'clamp', format: { format: 'wav', bitDepth: 16 } })).toEqual({ temp: 8, perStem: 4 });
    expect(diskBytesPerFrame({ ...MASTERS, clip: 'none', format: { format: 'mp3', bitrateKbps: 320 } }).perStem).toBeCloseTo(40_000 / RATE, 12);
  });
});

describe('the disk guard', () => {
  const largerThanAnyDisk = 1e7 * RATE; // 1e7 s: 17.6 TB of spools alone

  it('refuses a track no disk has room for, telling chat users no paths and the log everything', async () => {
    const { logger, lines } = captureLogger('warn');
    const stemDir = path.join(work.dir, 'not', 'made', 'yet');
    const guard = new DiskGuard({ tempDir: work.dir, stemDirs: [stemDir, stemDir, stemDir, stemDir], perFrame: diskBytesPerFrame(MASTERS), reserveBytes: 0, nameFolders: false, logger });
    const error = await rejectsWithUserError(guard.checkLength(largerThanAnyDisk));
    expect(error.code).toBe('disk_full');
    expect(error.message).toBe(CHAT_MESSAGE);
    const free = await statfs(work.dir);
    // The temp folder and the (future) stem folder are on one disk here, so their needs add up.
    expect(lines()).toEqual([
      expect.objectContaining({ level: 40, msg: 'not enough disk space for the track', dir: `${work.dir}, ${stemDir}`, neededBytes: largerThanAnyDisk * (40 + 4 * 6), freeBytes: expect.closeTo(free.bavail * free.bsize, -9) }),
    ]);
  });

  it('names the folders for the operator at the command line', async () => {
    const guard = new DiskGuard({ tempDir: work.dir, stemDirs: [work.dir], perFrame: diskBytesPerFrame(MASTERS), reserveBytes: 0, nameFolders: true });
    const error = await rejectsWithUserError(guard.checkLength(largerThanAnyDisk));
    expect(error.message).toMatch(new RegExp(`^Not enough disk space in ${work.dir}: this track needs about [\\d.]+ TB there and [\\d.]+ [GT]B can be used`));
  });

  it('keeps DISK_MIN_FREE_MB free: a track that fits the disk but not beside the reserve is refused', async () => {
    const free = await statfs(work.dir);
    const guard = new DiskGuard({ tempDir: work.dir, stemDirs: [work.dir], perFrame: diskBytesPerFrame(MASTERS), reserveBytes: free.bavail * free.bsize, nameFolders: false });
    expect((await rejectsWithUserError(guard.checkLength(RATE))).code).toBe('disk_full');
    await new DiskGuard({ tempDir: work.dir, stemDirs: [work.dir], perFrame: diskBytesPerFrame(MASTERS), reserveBytes: 0, nameFolders: false }).checkLength(RATE);
  });
});

describe('a track longer than it said', () => {
  it('stops spooling with disk_full once the decoded audio outgrows the room, leaving no files behind', async () => {
    // Silence compresses to almost nothing: 40 minutes of it is a small file that decodes to 850 MB.
    const track = path.join(work.dir, 'long-silence.flac');
    await exec((await locateFfmpeg({ searchPath: process.env.PATH })).ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', `anullsrc=r=${RATE}:cl=stereo`, '-t', '2400', '-c:a', 'flac', track]);
    const temp = path.join(work.dir, 'temp');
    await mkdir(temp);
    const out = path.join(work.dir, 'out');
    const { logger, lines } = captureLogger('warn');
    const free = await statfs(work.dir);
    // Leave 2 GB to this track: room for the second it claims to last, far from enough for the 40
    // minutes it holds (2 GB is about 9 minutes of masters), and more than other tests running
    // beside this one will take or give back meanwhile.
    const reserveBytes = free.bavail * free.bsize - 2e9;
    let spooled = 0;
    const error = await rejectsWithUserError(
      separateTrack({
        input: track,
        model: await loadTestModel({ contract: 'waveform', kind: 'fractions', segment: 4096 }),
        ffmpeg: (await locateFfmpeg({ searchPath: process.env.PATH })).ffmpeg,
        outputPath: (stem) => path.join(out, `${stem}.flac`),
        format: MASTERS.format,
        settings: { shifts: 0, clip: 'rescale' },
        tempDir: temp,
        expectedSeconds: 1,
        diskReserveBytes: reserveBytes,
        onProgress: (progress) => {
          if (progress.stage === 'spool') spooled = progress.samples;
        },
        logger,
      }),
    );
    expect(error.code).toBe('disk_full');
    expect(spooled / RATE).toBeGreaterThan(60);
    expect(lines()).toHaveLength(1);
    expect(lines()[0]?.msg).toBe('not enough disk space for the track');
    expect(lines()[0]?.frames).toBeGreaterThan(spooled);
    expect(await readdir(temp)).toEqual([]);
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });
});
