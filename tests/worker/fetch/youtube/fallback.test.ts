import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import type { YouTubeDownloader } from '../../../../worker/fetch/youtube/downloader.js';
import { FallbackDownloader } from '../../../../worker/fetch/youtube/fallback.js';
import { FAILURE_KINDS, type FailureKind } from '../../../../worker/fetch/youtube/failure-kinds.js';
import { captureLogger } from '../../../support/services.js';
import { StandInDownloader as StandIn } from '../../../support/stand-in-downloader.js';

function chain(...downloaders: YouTubeDownloader[]) {
  const reported: string[] = [];
  const { logger, lines } = captureLogger('info');
  const fallback = new FallbackDownloader(downloaders, { logger, onFailure: (failure) => reported.push(`${failure.downloader}:${failure.kind}`) });
  return { fallback, reported, lines };
}

async function readAll(stream: Readable): Promise<string> {
  let text = '';
  await pipeline(stream, new Writable({ write: (chunk: Buffer, _encoding, done) => ((text += chunk.toString()), done()) }));
  return text;
}

const FALLS_BACK: readonly FailureKind[] = ['bot_check', 'player_parse', 'unknown'];

describe('auto: the second downloader after the first fails', () => {
  it.each(FAILURE_KINDS.map((kind) => [kind, FALLS_BACK.includes(kind)] as const))('%s: falls back = %s', async (kind, fallsBack) => {
    const first = new StandIn('yt-dlp', { fails: kind });
    const second = new StandIn('ytdl', {});
    const { fallback, reported } = chain(first, second);
    const outcome = await fallback.describe('abcdefghijk').catch((error: unknown) => error);
    expect(reported).toEqual([`yt-dlp:${kind}`]);
    if (fallsBack) {
      expect(outcome).toEqual({ title: 'from ytdl', durationSeconds: 10 });
    } else {
      // The video's own refusal, or a network that is down, would be the same for the other one.
      expect(outcome).toMatchObject({ kind, downloader: 'yt-dlp' });
      expect(second.calls).toBe(0);
    }
  });

  it('says in the log which downloader served, and what the first one met', async () => {
    const { fallback, lines } = chain(new StandIn('yt-dlp', { fails: 'bot_check' }), new StandIn('ytdl', {}));
    await fallback.describe('abcdefghijk');
    expect(lines()).toContainEqual(expect.objectContaining({ msg: 'youtube request served by the fallback downloader', downloader: 'ytdl', version: '1.0', fellBackFrom: ['yt-dlp (bot_check)'] }));
  });

  it('tries the other only once, and tells the user the first failure, or the video’s verdict when the second got that far', async () => {
    const bothBlocked = chain(new StandIn('yt-dlp', { fails: 'bot_check' }), new StandIn('ytdl', { fails: 'player_parse' }));
    expect(await bothBlocked.fallback.describe('abcdefghijk').catch((error: unknown) => error)).toMatchObject({
      kind: 'bot_check',
      message: 'YouTube is refusing this server right now; try again later, or upload the file.',
    });
    expect(bothBlocked.reported).toEqual(['yt-dlp:bot_check', 'ytdl:player_parse']);
    const secondSeesPrivate = chain(new StandIn('yt-dlp', { fails: 'bot_check' }), new StandIn('ytdl', { fails: 'private' }));
    expect(await secondSeesPrivate.fallback.describe('abcdefghijk').catch((error: unknown) => error)).toMatchObject({ kind: 'private', code: 'video_private' });
  });

  it('falls back when the download fails before its first byte (YouTube refusing the media URL)', async () => {
    const { fallback, reported } = chain(new StandIn('ytdl', { failsBeforeBytes: 'bot_check' }), new StandIn('yt-dlp', {}));
    expect(await readAll(await fallback.download('abcdefghijk', {}))).toBe('bytes from yt-dlp');
    expect(reported).toEqual(['ytdl:bot_check']);
  });

  it('hands a failure after the first bytes to the reader, and reports it', async () => {
    const second = new StandIn('yt-dlp', {});
    const { fallback, reported } = chain(new StandIn('ytdl', { failsAfterBytes: 'network' }), second);
    const stream = await fallback.download('abcdefghijk', {});
    await expect(readAll(stream)).rejects.toMatchObject({ kind: 'network', code: 'youtube_unreachable' });
    expect(reported).toEqual(['ytdl:network']);
    expect(second.calls).toBe(0);
  });

  it('passes a cancel on as it is, without asking the other', async () => {
    const cancelled = new Error('cancelled');
    const first: YouTubeDownloader = { name: 'yt-dlp', version: '1.0', describe: () => Promise.reject(cancelled), download: () => Promise.reject(cancelled) };
    const second = new StandIn('ytdl', {});
    const { fallback, reported } = chain(first, second);
    await expect(fallback.download('abcdefghijk', {})).rejects.toBe(cancelled);
    expect(reported).toEqual([]);
    expect(second.calls).toBe(0);
  });
});
