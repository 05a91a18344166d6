/**
 * YouTube's refusals, end to end: the real discord.js client against the fake Discord, the real
 * core, relay and worker, and both real downloaders against the fake YouTube. ytdl meets YouTube's
 * bot check; yt-dlp (Debian's, through its generic extractor) is the second downloader.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { registerDiscordCommands } from '../../../bots/discord/register-commands.js';
import { startDiscordRole } from '../../../bots/discord/discord-role.js';
import { UsageEntry } from '../../../core/db/entities/index.js';
import type { RoleHandle } from '../../../core/queue/relay-role.js';
import { locateFfmpeg } from '../../../worker/audio/ffmpeg.js';
import { AttachmentFetcher } from '../../../worker/fetch/attachment-fetcher.js';
import { YouTubeFetcher } from '../../../worker/fetch/youtube-fetcher.js';
import { YtdlDownloader } from '../../../worker/fetch/youtube/ytdl-downloader.js';
import { YtDlpDownloader } from '../../../worker/fetch/youtube/ytdlp-downloader.js';
import { FakeDiscord, TestClock, defaultGuild, type StoredMessage } from '../../support/fake-discord/index.js';
import { FakeYouTube, REAL_YTDLP } from '../../support/fake-youtube.js';
import { captureLogger, makeTempDir } from '../../support/services.js';
import { makeSong, startHarness, type Deployment, type Harness } from '../../support/stembot-harness.js';

const GENERAL = '1100000000000000010';
const BOT_CHECKED = 'botchecked1';
const BLOCKED_BOTH = 'blockedboth';
const BOT_CHECK = { status: 'LOGIN_REQUIRED' as const, reason: 'Sign in to confirm you’re not a bot' };
const STEMS = ['bass.mp3', 'drums.mp3', 'other.mp3', 'vocals.mp3'];

export function youtubeFallbackEndToEnd(deployment: Deployment): void {
  let fake: FakeDiscord;
  let youtube: FakeYouTube;
  let harness: Harness;
  let discord: RoleHandle;
  let work: { dir: string; remove(): Promise<void> };
  const fetcherLog = captureLogger('info');

  beforeAll(async () => {
    work = await makeTempDir('stembot-youtube-e2e-');
    const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
    const audio = await readFile(await makeSong(ffmpeg, path.join(work.dir, 'song.mp3'), 5));
    youtube = await FakeYouTube.start({
      [BOT_CHECKED]: { title: 'Served Second', seconds: 5, audio, refuse: BOT_CHECK },
      [BLOCKED_BOTH]: { title: 'Nobody Gets This', seconds: 5, audio, refuse: BOT_CHECK, pageStatus: 429 },
    });
    fake = await FakeDiscord.start({ clock: new TestClock(), guilds: [defaultGuild({ id: '1100000000000000050', username: 'stembot', bot: true })] });
    const ytdlp = new YtDlpDownloader({ program: REAL_YTDLP, tempDir: path.join(work.dir, 'temp'), urlFor: youtube.pageFor });
    await ytdlp.ready;
    harness = await startHarness({
      backend: deployment,
      fetchers: (_ffprobe, tools) => ({
        youtube: new YouTubeFetcher({ downloaders: [new YtdlDownloader({ connect: youtube.connect }), ytdlp], logger: fetcherLog.logger }),
        attachment: new AttachmentFetcher({ tools, logger: captureLogger('silent').logger, extraHosts: { discord: [new URL(fake.url).host] } }),
      }),
    });
    const settings = { token: fake.token, applicationId: fake.applicationId, apiUrl: `${fake.url}/api` };
    await registerDiscordCommands(settings, '1100000000000000001');
    discord = await startDiscordRole({ core: harness.core, settings, logger: harness.logger, knownModels: async () => ['htdemucs'] });
  });

  afterAll(async () => {
    await discord?.stop();
    await harness?.stop();
    await fake?.close();
    await youtube?.close();
    await work?.remove();
  });

  const separate = (videoId: string) => fake.dispatchInteraction({ type: 'command', name: 'separate', options: { link: `https://youtu.be/${videoId}` }, channelId: GENERAL });
  const withStems = (message: StoredMessage) => STEMS.every((stem) => message.attachments.some((attachment) => attachment.filename === stem));

  it('a link YouTube refuses to ytdl comes back as stems through yt-dlp; with both refused, the user is told why and charged nothing', async () => {
    const refused = separate(BLOCKED_BOTH);
    await refused.waitFor((i) => i.messages().some((m) => m.content.includes('YouTube is refusing')));
    const refusal = refused.messages().find((m) => m.content.includes('YouTube is refusing')) as StoredMessage;
    expect(refusal.content).toBe('YouTube is refusing this server right now; try again later, or upload the file.');
    expect(refusal.flags & 64).toBe(64);
    expect(await harness.runtime.orm.em.fork().count(UsageEntry, {})).toBe(0);

    const served = separate(BOT_CHECKED);
    await served.waitFor((i) => i.messages().some(withStems));
    expect(served.messages().find(withStems)?.content).toContain('Served Second');
    // Looked at (submit) and downloaded (worker) by yt-dlp after ytdl's bot check, and the log says so.
    const servedBy = fetcherLog.lines().filter((line) => line.msg === 'youtube request served by the fallback downloader' && line.videoId === BOT_CHECKED);
    expect(servedBy.map((line) => [line.purpose, line.downloader, line.fellBackFrom])).toEqual([
      ['describe', 'yt-dlp', ['ytdl (bot_check)']],
      ['download', 'yt-dlp', ['ytdl (bot_check)']],
    ]);
    // One warning for ytdl's bot check however often it met it, one for yt-dlp's 429.
    const warnings = fetcherLog.lines().filter((line) => line.msg === 'youtube download failed');
    expect(warnings.map((line) => `${line.downloader}:${line.kind}`).sort()).toEqual(['yt-dlp:bot_check', 'ytdl:bot_check']);
  });
}
