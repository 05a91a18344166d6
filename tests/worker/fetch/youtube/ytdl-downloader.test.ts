import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { locateFfmpeg } from '../../../../worker/audio/ffmpeg.js';
import { YouTubeCookies } from '../../../../worker/fetch/youtube/cookies.js';
import type { DownloadFailure } from '../../../../worker/fetch/youtube/failure-kinds.js';
import { describeVideo, YtdlDownloader, type VideoDetails } from '../../../../worker/fetch/youtube/ytdl-downloader.js';
import { FakeYouTube } from '../../../support/fake-youtube.js';
import { makeTempDir } from '../../../support/services.js';
import { makeSong } from '../../../support/stembot-harness.js';

const by = { name: 'ytdl', version: '4.16.12' } as const;
const refusal = (reason: string, status: 'LOGIN_REQUIRED' | 'ERROR' | 'UNPLAYABLE' = 'LOGIN_REQUIRED') => ({ status, reason });

/**
 * ytdl-core's own code (page parsing, player script, player API, cookie agent, media download) on
 * handmade copies of YouTube's answers, served by the fake over the connections it opens.
 */
describe('ytdl downloader', () => {
  let fake: FakeYouTube;
  let work: { dir: string; remove(): Promise<void> };
  let audio: Buffer;
  let ytdl: YtdlDownloader;

  beforeAll(async () => {
    work = await makeTempDir('stembot-ytdl-');
    const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
    audio = await readFile(await makeSong(ffmpeg, path.join(work.dir, 'song.mp3'), 2));
    const video = (title: string, refuse?: { status: 'LOGIN_REQUIRED' | 'ERROR' | 'UNPLAYABLE'; reason: string }) => ({ title, seconds: 2, audio, ...(refuse ? { refuse } : {}) });
    fake = await FakeYouTube.start({
      ytdlsong001: video('A Song'),
      ytdlsong002: video('Another Song'),
      ytdlbot0001: video('Blocked', refusal('Sign in to confirm you’re not a bot')),
      ytdlpriv001: video('Private', refusal('This video is private')),
      ytdlage0001: video('Adults', refusal('Sign in to confirm your age')),
      ytdlgone001: video('Gone', refusal('Video unavailable', 'ERROR')),
    });
    ytdl = new YtdlDownloader({ connect: fake.connect, retry: { attempts: 1, firstDelayMs: 0 } });
  });

  afterAll(async () => {
    await fake?.close();
    await work?.remove();
  });

  it('describes a video from its watch page and downloads its audio with progress', async () => {
    expect(await ytdl.describe('ytdlsong001')).toEqual({ title: 'A Song', durationSeconds: 2 });
    const progress: number[] = [];
    const stream = await ytdl.download('ytdlsong001', { onProgress: (fraction) => progress.push(fraction) });
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(audio)).toBe(true);
    expect(progress.at(-1)).toBe(1);
  });

  it.each([
    ['ytdlbot0001', 'bot_check', 'youtube_blocked', 'YouTube is refusing this server right now; try again later, or upload the file.'],
    ['ytdlpriv001', 'private', 'video_private', "That video is private or for members only, so it can't be separated."],
    ['ytdlage0001', 'age_restricted', 'age_restricted', "That video is age-restricted, so it can't be downloaded; try another upload of the song."],
    ['ytdlgone001', 'unavailable', 'video_unavailable', 'That video is unavailable (removed, blocked or mistyped); check the link.'],
  ])('reads YouTube’s refusal of %s as %s', async (videoId, kind, code, message) => {
    const failure = (await ytdl.describe(videoId).catch((error: unknown) => error)) as DownloadFailure;
    expect(failure).toMatchObject({ kind, code, message, downloader: 'ytdl', version: by.version });
  });

  it("sends YOUTUBE_COOKIES' youtube.com cookies with the page, API and media requests, and no other site's", async () => {
    const file = path.join(work.dir, 'cookies.txt');
    const lines = ['# Netscape HTTP Cookie File', '.youtube.com\tTRUE\t/\tTRUE\t0\tSID\tyt-session', '#HttpOnly_.youtube.com\tTRUE\t/\tTRUE\t1999999999\t__Secure-3PSID\tyt-secure', '.google.com\tTRUE\t/\tTRUE\t0\tNID\tgoogle-only'];
    await writeFile(file, `${lines.join('\n')}\n`, { mode: 0o600 });
    const signedIn = new YtdlDownloader({ connect: fake.connect, cookies: await YouTubeCookies.load(file) });
    const stream = await signedIn.download('ytdlsong002', {});
    for await (const _chunk of stream);
    for (const prefix of ['/watch', '/youtubei/v1/player', '/media/ytdlsong002']) {
      const sent = fake.cookiesSentTo(prefix).at(-1) ?? '';
      expect(sent, prefix).toContain('SID=yt-session');
      expect(sent, prefix).toContain('__Secure-3PSID=yt-secure');
      expect(sent, prefix).not.toContain('google-only');
    }
  });
});

describe('ytdl video details', () => {
  const video = (overrides: Partial<VideoDetails>): VideoDetails => ({ title: 'Song', lengthSeconds: '212', isLiveContent: false, age_restricted: false, ...overrides });
  const kindOf = (details: VideoDetails) => {
    try {
      describeVideo(details, by);
    } catch (error) {
      return (error as DownloadFailure).kind;
    }
    return 'described';
  };

  it('gives title and duration of a normal video, and of a finished live stream (it has a length)', () => {
    expect(describeVideo(video({}), by)).toEqual({ title: 'Song', durationSeconds: 212 });
    expect(describeVideo(video({ isLiveContent: true, lengthSeconds: '3600' }), by).durationSeconds).toBe(3600);
  });

  it('refuses live streams, premieres, age-restricted and lengthless videos', () => {
    expect(kindOf(video({ isLiveContent: true, lengthSeconds: '0' }))).toBe('live');
    expect(kindOf(video({ isUpcoming: true }))).toBe('upcoming');
    expect(kindOf(video({ age_restricted: true }))).toBe('age_restricted');
    expect(kindOf(video({ lengthSeconds: '' }))).toBe('unavailable');
  });
});
