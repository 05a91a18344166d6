import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { youtubeFailures } from '../../../core/metrics.js';
import { createYouTubeFetcher, YouTubeFetcher } from '../../../worker/fetch/youtube-fetcher.js';
import { captureLogger, makeTempDir } from '../../support/services.js';
import { StandInDownloader } from '../../support/stand-in-downloader.js';
import { rejectsWithUserError } from '../../support/user-error.js';

const video = (videoId: string) => ({ kind: 'youtube' as const, videoId });

async function failuresCounted(downloader: string, kind: string): Promise<number> {
  const { values } = await youtubeFailures.get();
  return values.find((sample) => sample.labels.downloader === downloader && sample.labels.kind === kind)?.value ?? 0;
}

describe("the operator's view of YouTube failures", () => {
  it('one warning per downloader and kind, with its version and what to do; every failure counted', async () => {
    const { logger, lines } = captureLogger('debug');
    const fetcher = new YouTubeFetcher({ downloaders: [new StandInDownloader('yt-dlp', { fails: 'bot_check' }), new StandInDownloader('ytdl', { fails: 'player_parse' })], logger });
    const before = await failuresCounted('yt-dlp', 'bot_check');
    for (let i = 0; i < 3; i += 1) {
      const error = await rejectsWithUserError(fetcher.inspect(video('abcdefghijk')));
      expect(error.message).toBe('YouTube is refusing this server right now; try again later, or upload the file.');
    }
    const warnings = lines().filter((line) => line.msg === 'youtube download failed');
    expect(warnings).toEqual([
      expect.objectContaining({ level: 40, kind: 'bot_check', downloader: 'yt-dlp', version: '1.0', advice: expect.stringMatching(/YOUTUBE_COOKIES/) }),
      expect.objectContaining({ level: 40, kind: 'player_parse', downloader: 'ytdl', version: '1.0', advice: expect.stringMatching(/update/) }),
    ]);
    expect((await failuresCounted('yt-dlp', 'bot_check')) - before).toBe(3);
    // Series exist from the start for every kind of the configured downloaders.
    expect((await youtubeFailures.get()).values.filter((sample) => sample.labels.downloader === 'ytdl').length).toBeGreaterThanOrEqual(9);
  });

  it('after the quiet time, warns again and says how many alike failures it left out', async () => {
    const { logger, lines } = captureLogger('debug');
    const fetcher = new YouTubeFetcher({ downloaders: [new StandInDownloader('ytdl', { fails: 'network' })], logger, quietMs: 100 });
    for (let i = 0; i < 3; i += 1) await fetcher.inspect(video('abcdefghijk')).catch(() => undefined);
    await sleep(150);
    await fetcher.inspect(video('abcdefghijk')).catch(() => undefined);
    const warnings = lines().filter((line) => line.msg === 'youtube download failed');
    expect(warnings.map((line) => line.alikeSinceLastWarning)).toEqual([undefined, 2]);
  });

  it("keeps a video's own refusal (private, removed) out of the warnings: there is nothing to fix", async () => {
    const { logger, lines } = captureLogger('debug');
    const fetcher = new YouTubeFetcher({ downloaders: [new StandInDownloader('ytdl', { fails: 'private' })], logger });
    expect((await rejectsWithUserError(fetcher.inspect(video('abcdefghijk')))).code).toBe('video_private');
    expect(lines().filter((line) => (line.level as number) >= 40)).toEqual([]);
    expect(lines()).toContainEqual(expect.objectContaining({ msg: 'youtube refused the video', kind: 'private', downloader: 'ytdl' }));
  });
});

describe('YOUTUBE_DOWNLOADER, YTDLP_PATH and YOUTUBE_COOKIES at start-up', () => {
  let work: { dir: string; remove(): Promise<void> };
  const settings = (overrides: Partial<Parameters<typeof createYouTubeFetcher>[0]> = {}) => ({ downloader: 'auto' as const, cookiesPath: undefined, ytdlpPath: undefined, ...overrides });
  const start = (overrides: Partial<Parameters<typeof createYouTubeFetcher>[0]>, searchPath: string, logger = captureLogger('silent').logger) =>
    createYouTubeFetcher(settings(overrides), { tempDir: path.join(work.dir, 'temp'), searchPath, logger });

  beforeAll(async () => {
    work = await makeTempDir('stembot-youtube-settings-');
  });
  afterAll(async () => {
    await work?.remove();
  });

  it('auto: yt-dlp first where it is on the PATH, then ytdl; ytdl alone, said so, where it is not', async () => {
    const found = captureLogger('info');
    await start({}, '/usr/bin', found.logger);
    await expect.poll(found.lines).toContainEqual(expect.objectContaining({ msg: 'youtube downloaders ready', downloaders: [expect.stringMatching(/^yt-dlp \d{4}\./), expect.stringMatching(/^ytdl \d/)] }));
    const missing = captureLogger('info');
    await start({}, work.dir, missing.logger);
    expect(missing.lines().map((line) => line.msg)).toContain('yt-dlp is not installed, so YouTube downloads have no second downloader to fall back on (see YouTube in the README)');
  });

  it('refuses to start without the yt-dlp it was told to use, saying how to install it', async () => {
    const asked = await rejectsWithUserError(start({ downloader: 'yt-dlp' }, work.dir));
    expect(asked).toMatchObject({ code: 'ytdlp_missing', message: expect.stringMatching(/^YOUTUBE_DOWNLOADER is yt-dlp, but yt-dlp was not found on the PATH: install it \(apt install yt-dlp/) });
    const wrongPath = await rejectsWithUserError(start({ ytdlpPath: path.join(work.dir, 'nothing-here') }, '/usr/bin'));
    expect(wrongPath.message).toMatch(/^YTDLP_PATH points at .*nothing-here, which is not an executable file/);
  });

  it('refuses to start with a cookies file other users may read', async () => {
    const cookies = path.join(work.dir, 'cookies.txt');
    await writeFile(cookies, '.youtube.com\tTRUE\t/\tTRUE\t0\tSID\tsecret\n');
    await chmod(cookies, 0o640);
    expect((await rejectsWithUserError(start({ downloader: 'ytdl', cookiesPath: cookies }, work.dir))).code).toBe('youtube_cookies');
  });
});
