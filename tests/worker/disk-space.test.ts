import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { locateFfmpeg } from '../../worker/audio/ffmpeg.js';
import { DiskGuard, diskBytesPerFrame } from '../../worker/disk-space.js';
import { lengthAllowance } from '../../worker/jobs/separate-job.js';
import { separateTrack, type SeparateTrackOptions } from '../../worker/separate-track.js';
import { childProcesses } from '../support/child-processes.js';
import { loadTestModel } from '../support/engine-harness.js';
import { makeLyingMp3 } from '../support/hostile-files.js';
import { captureLogger, makeTempDir } from '../support/services.js';
import { rejectsWithUserError } from '../support/user-error.js';
import { trickle } from '../support/slow-upload.js';

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

/**
 * A separation into fresh temp and output folders, as a chat job runs it (chat wording, masters).
 * The input is made only once the decode is about to start, so a stream's bytes all reach it.
 */
async function attempt(input: () => string | Readable, name: string, options: Partial<SeparateTrackOptions> = {}): Promise<{ error: unknown; temp: string; out: string; spooled: number }> {
  const temp = path.join(work.dir, `${name}-temp`);
  await mkdir(temp);
  const out = path.join(work.dir, `${name}-out`);
  const model = await loadTestModel({ contract: 'waveform', kind: 'fractions', segment: 4096 });
  const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
  let spooled = 0;
  const error = await separateTrack({
    input: input(),
    model,
    ffmpeg,
    outputPath: (stem) => path.join(out, `${stem}.flac`),
    format: MASTERS.format,
    settings: { shifts: 0, clip: 'rescale' },
    tempDir: temp,
    ...options,
    onProgress: (progress) => {
      if (progress.stage === 'spool') spooled = progress.samples;
      options.onProgress?.(progress);
    },
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { error, temp, out, spooled };
}

describe('the decode straight into the spool, attacked', () => {
  const ffmpeg = () => locateFfmpeg({ searchPath: process.env.PATH }).then((tools) => tools.ffmpeg);

  it('stops a file whose header claims 10 s but holds 70 s as longer than stated, from a path and from a stream, killing ffmpeg and keeping nothing', async () => {
    const liar = path.join(work.dir, 'liar.mp3');
    await makeLyingMp3(await ffmpeg(), liar, 10, 60);
    const stated = { expectedSeconds: 10, maxSeconds: lengthAllowance(10) };
    for (const [name, input] of [['liar-path', () => liar], ['liar-stream', () => createReadStream(liar)]] as const) {
      const { error, temp, out, spooled } = await attempt(input, name, stated);
      expect(error).toMatchObject({ code: 'audio_longer_than_stated', message: 'This audio is longer than it says: it runs past 12 s, so it was stopped. Nothing was charged.' });
      // Stopped within ffmpeg's own backstop, a second past the allowance, not at the end of the file.
      expect(spooled / RATE).toBeLessThan(stated.maxSeconds + 1.1);
      expect(await childProcesses('ffmpeg')).toEqual([]);
      expect(await readdir(temp)).toEqual([]);
      expect(await readdir(out).catch(() => [])).toEqual([]);
    }
  });

  it('stops with disk_full when a streamed track outgrows the room mid-decode, killing ffmpeg and keeping nothing', async () => {
    const track = path.join(work.dir, 'long-silence-streamed.flac');
    await exec(await ffmpeg(), ['-v', 'error', '-y', '-f', 'lavfi', '-i', `anullsrc=r=${RATE}:cl=stereo`, '-t', '1200', '-c:a', 'flac', track]);
    const free = await statfs(work.dir);
    // 1 GB for this track: about 4.5 minutes of masters, far less than the 20 minutes it holds.
    const { error, temp, out, spooled } = await attempt(() => createReadStream(track), 'disk-streamed', { expectedSeconds: 1, diskReserveBytes: free.bavail * free.bsize - 1e9 });
    expect(error).toMatchObject({ code: 'disk_full' });
    expect(spooled / RATE).toBeGreaterThan(30);
    expect(spooled / RATE).toBeLessThan(1200);
    expect(await childProcesses('ffmpeg')).toEqual([]);
    expect(await readdir(temp)).toEqual([]);
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });

  it('kills ffmpeg and removes the spool when aborted mid-decode', async () => {
    const song = path.join(work.dir, 'abort-me.flac');
    await exec(await ffmpeg(), ['-v', 'error', '-y', '-f', 'lavfi', '-i', `anoisesrc=c=pink:r=${RATE}:a=0.1:d=30`, '-ac', '2', '-c:a', 'flac', song]);
    const controller = new AbortController();
    const reason = new Error('cancelled by user');
    const { error, temp, out, spooled } = await attempt(() => trickle(song, 2), 'aborted', {
      signal: controller.signal,
      onProgress: (progress) => {
        if (progress.stage === 'spool') controller.abort(reason);
      },
    });
    expect(error).toBe(reason);
    expect(spooled).toBeGreaterThan(0);
    expect(spooled / RATE).toBeLessThan(30);
    expect(await childProcesses('ffmpeg')).toEqual([]);
    expect(await readdir(temp)).toEqual([]);
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });

  it("fails with the stream's own error when the upload breaks mid-decode, killing ffmpeg and keeping nothing", async () => {
    const song = path.join(work.dir, 'breaks.flac');
    await exec(await ffmpeg(), ['-v', 'error', '-y', '-f', 'lavfi', '-i', `anoisesrc=c=pink:r=${RATE}:a=0.1:d=30`, '-ac', '2', '-c:a', 'flac', song]);
    const broken = new Error('connection reset by peer');
    const half = (await stat(song)).size / 2;
    const { error, temp, out, spooled } = await attempt(() => trickle(song, 2, { bytes: half, error: broken }), 'broken');
    expect(error).toBe(broken);
    expect(spooled).toBeGreaterThan(0);
    expect(await childProcesses('ffmpeg')).toEqual([]);
    expect(await readdir(temp)).toEqual([]);
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });
});
