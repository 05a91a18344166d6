import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isProcessRunning } from '../../../../core/process-liveness.js';
import { locateFfmpeg } from '../../../../worker/audio/ffmpeg.js';
import { YouTubeCookies } from '../../../../worker/fetch/youtube/cookies.js';
import type { DownloadFailure } from '../../../../worker/fetch/youtube/failure-kinds.js';
import { classifyYtDlpError, describeYtDlpInfo, YtDlpDownloader } from '../../../../worker/fetch/youtube/ytdlp-downloader.js';
import { FakeYouTube, REAL_YTDLP } from '../../../support/fake-youtube.js';
import { makeTempDir } from '../../../support/services.js';
import { makeSong } from '../../../support/stembot-harness.js';

const SONG = 'ytdlpsong01';
const SLOW = 'ytdlpslow01';
const BLOCKED = 'ytdlpblock1';
const by = { name: 'yt-dlp', version: '2023.03.04' } as const;

/**
 * The yt-dlp backend runs the real yt-dlp (Debian's, installed by .ci/run) against local pages its
 * generic extractor reads, through a wrapper that notes each run's pid and arguments.
 */
describe('yt-dlp downloader', () => {
  let fake: FakeYouTube;
  let work: { dir: string; remove(): Promise<void> };
  let tempDir: string;
  let audio: Buffer;
  let wrapper: Awaited<ReturnType<FakeYouTube['ytDlpWrapper']>>;
  let version: string;

  beforeAll(async () => {
    work = await makeTempDir('stembot-ytdlp-');
    tempDir = path.join(work.dir, 'temp');
    const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
    audio = await readFile(await makeSong(ffmpeg, path.join(work.dir, 'song.mp3'), 3));
    fake = await FakeYouTube.start({
      [SONG]: { title: 'A Song', seconds: 3, audio },
      // 2 KB every 50 ms: about 1.5 s for the song, long enough to cancel halfway.
      [SLOW]: { title: 'Slow', seconds: 3, audio, bytesPerTick: 2048 },
      [BLOCKED]: { title: 'Blocked', seconds: 3, audio, pageStatus: 429 },
    });
    wrapper = await fake.ytDlpWrapper(work.dir);
    const real = new YtDlpDownloader({ program: REAL_YTDLP, tempDir });
    await real.ready;
    version = real.version;
  });

  afterAll(async () => {
    await fake?.close();
    await work?.remove();
  });

  const downloader = async (cookies?: YouTubeCookies) => {
    const ytdlp = new YtDlpDownloader({ program: wrapper.program, tempDir, cookies });
    await ytdlp.ready;
    return ytdlp;
  };

  it('describes a video from its JSON (-J): title and duration', async () => {
    expect(version).toMatch(/^\d{4}\.\d{2}\.\d{2}/);
    expect(await (await downloader()).describe(SONG)).toEqual({ title: 'A Song', durationSeconds: 3 });
    const run = (await wrapper.runs()).at(-1)?.args ?? [];
    // Best audio, no playlist, none of the operator's own yt-dlp settings, and a time limit on connections.
    expect(run).toEqual(expect.arrayContaining(['-J', '-f', 'bestaudio/best', '--no-playlist', '--ignore-config', '--socket-timeout']));
  });

  it('downloads the audio bytes with progress, and leaves no files once they are read', async () => {
    const progress: number[] = [];
    const stream = await (await downloader()).download(SONG, { onProgress: (fraction) => progress.push(fraction) });
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(audio)).toBe(true);
    expect(progress.some((fraction) => fraction > 0 && fraction < 1)).toBe(true);
    expect(progress.at(-1)).toBe(1);
    await expect.poll(() => readdir(tempDir)).toEqual([]);
  });

  it('is killed by a cancel, and its files go with it', async () => {
    const cancel = new AbortController();
    const reason = new Error('cancelled by the user');
    const download = (await downloader()).download(SLOW, { signal: cancel.signal, onProgress: (fraction) => fraction > 0.2 && cancel.abort(reason) });
    await expect(download).rejects.toBe(reason);
    const pid = (await wrapper.runs()).at(-1)?.pid as number;
    expect(pid).toBeGreaterThan(0);
    expect(isProcessRunning(pid)).toBe(false);
    expect(await readdir(tempDir)).toEqual([]);
  });

  it('sends YOUTUBE_COOKIES from a copy of its own, leaving the operator’s file as it was', async () => {
    const file = path.join(work.dir, 'cookies.txt');
    const text = '# Netscape HTTP Cookie File\n.youtube.com\tTRUE\t/\tTRUE\t0\tSID\tyt-session\n127.0.0.1\tFALSE\t/\tFALSE\t0\tLOCAL\tlocal-session\n';
    await writeFile(file, text, { mode: 0o600 });
    await (await downloader(await YouTubeCookies.load(file))).describe(SONG);
    expect(fake.cookiesSentTo(`/page/${SONG}`).at(-1)).toBe('LOCAL=local-session');
    const args = (await wrapper.runs()).at(-1)?.args ?? [];
    const given = args[args.indexOf('--cookies') + 1] as string;
    expect(given.startsWith(tempDir)).toBe(true);
    // yt-dlp writes its cookie jar back into the file it is given: that must not be the operator's.
    expect(await readFile(file, 'utf8')).toBe(text);
    expect(await readdir(tempDir)).toEqual([]);
  });

  it('tells a refusing YouTube (HTTP 429) apart, in the words users read', async () => {
    const failure = (await (await downloader()).describe(BLOCKED).catch((error: unknown) => error)) as DownloadFailure;
    expect(failure).toMatchObject({ kind: 'bot_check', code: 'youtube_blocked', downloader: 'yt-dlp', version, message: 'YouTube is refusing this server right now; try again later, or upload the file.' });
    expect(failure.detail).toMatch(/^ERROR: .*HTTP Error 429/);
  });
});

describe("yt-dlp's errors and JSON", () => {
  it.each([
    ["ERROR: [youtube] abc: Sign in to confirm you're not a bot. Use --cookies-from-browser or --cookies for the authentication.", 'bot_check'],
    ['WARNING: [youtube] abc: nsig extraction failed: You may experience throttling\nERROR: [youtube] abc: Requested format is not available.', 'player_parse'],
    ['ERROR: [youtube] abc: Private video. Sign in if you\'ve been granted access to this video', 'private'],
    ['ERROR: [youtube] abc: Sign in to confirm your age. This video may be inappropriate for some users.', 'age_restricted'],
    ['ERROR: [youtube] abc: Video unavailable. This video has been removed by the uploader', 'unavailable'],
    ['ERROR: [youtube] abc: This live event will begin in 3 hours.', 'upcoming'],
    ['ERROR: [youtube] abc: Unable to download webpage: <urlopen error [Errno -3] Temporary failure in name resolution>', 'network'],
    ['Traceback (most recent call last):\n  KeyError: formats', 'unknown'],
  ])('%s is %s', (stderr, kind) => {
    expect(classifyYtDlpError(stderr)).toBe(kind);
  });

  it('refuses live, upcoming and lengthless videos, as ytdl does', () => {
    const kindOf = (json: unknown) => {
      try {
        describeYtDlpInfo(json, by);
      } catch (error) {
        return (error as DownloadFailure).kind;
      }
      return 'described';
    };
    expect(kindOf({ title: 'Now', live_status: 'is_live', duration: null })).toBe('live');
    expect(kindOf({ title: 'Ended, processing', live_status: 'post_live', duration: 3600 })).toBe('live');
    expect(kindOf({ title: 'Soon', live_status: 'is_upcoming' })).toBe('upcoming');
    expect(kindOf({ title: 'No length' })).toBe('unavailable');
    expect(kindOf({ duration: 10 })).toBe('unknown');
    expect(describeYtDlpInfo({ title: 'Was live', live_status: 'was_live', duration: 3600.5 }, by)).toEqual({ title: 'Was live', durationSeconds: 3600.5 });
  });
});
