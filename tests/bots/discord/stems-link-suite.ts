/**
 * Stems beyond the upload limit, end to end: the real discord.js client against the fake Discord
 * (with a small per-file limit), the real core, relay, worker and web role. A wav request (a link, or
 * a 10-minute upload) comes back
 * with the waveform picture and a signed link; the link serves the page, its data and the files.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDiscordRole } from '../../../bots/discord/discord-role.js';
import { registerDiscordCommands } from '../../../bots/discord/register-commands.js';
import type { RoleHandle } from '../../../core/queue/relay-role.js';
import { startWebRole, type WebRole } from '../../../core/web/web-role.js';
import { locateFfmpeg } from '../../../worker/audio/ffmpeg.js';
import { AttachmentFetcher } from '../../../worker/fetch/attachment-fetcher.js';
import { FakeDiscord, TestClock, defaultGuild, type StoredMessage } from '../../support/fake-discord/index.js';
import { LocalVideoSource } from '../../support/local-sources.js';
import { captureLogger, makeTempDir } from '../../support/services.js';
import { makeSong, repeatSong, startHarness, type Deployment, type Harness } from '../../support/stembot-harness.js';

const GUILD = '1100000000000000001';
const GENERAL = '1100000000000000010';
const BOB = '1100000000000000101';
const SHORT = 'linksong001';
const MIB = 1024 * 1024;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export function stemsLinkEndToEnd(deployment: Deployment, options: { tenMinutes: boolean }): void {
  let fake: FakeDiscord;
  let harness: Harness;
  let discord: RoleHandle;
  let web: WebRole;
  let songs: { dir: string; remove(): Promise<void> };
  let tenMinutes: Buffer | undefined;

  beforeAll(async () => {
    const guild = defaultGuild({ id: '1100000000000000050', username: 'stembot', bot: true });
    // A server at 1 MiB a file: four wav stems of a 10 s song (1.7 MiB each) do not fit.
    fake = await FakeDiscord.start({ clock: new TestClock(), fileSizeLimit: MIB, guilds: [{ ...guild, members: [...guild.members, { user: { id: BOB, username: 'bob' }, roles: [] }] }] });
    songs = await makeTempDir('stembot-link-songs-');
    const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
    const short = await makeSong(ffmpeg, path.join(songs.dir, 'short.mp3'), 10);
    const videos: Record<string, string> = { [SHORT]: short };
    if (options.tenMinutes) tenMinutes = await readFile(await repeatSong(ffmpeg, short, 60, path.join(songs.dir, 'ten-minutes.mp3')));
    const port = await freePort();
    harness = await startHarness({
      backend: deployment,
      env: { WEB_PORT: String(port), QUOTA_MAX_TRACK_MINUTES: '11', QUOTA_DAILY_MINUTES: '60' },
      fetchers: (ffprobe, tools) => ({
        youtube: new LocalVideoSource(ffprobe, videos),
        attachment: new AttachmentFetcher({ tools, logger: captureLogger('silent').logger, extraHosts: { discord: [new URL(fake.url).host] } }),
      }),
    });
    const settings = { token: fake.token, applicationId: fake.applicationId, apiUrl: `${fake.url}/api` };
    await registerDiscordCommands(settings, GUILD);
    discord = await startDiscordRole({ core: harness.core, settings, logger: harness.logger, knownModels: async () => ['htdemucs'] });
    const { config } = harness;
    web = await startWebRole({ settings: config.web, core: harness.core, runtime: harness.runtime, roles: () => [discord], defaultModel: 'htdemucs', links: { settings: config.links, retentionDays: config.retentionDays }, logger: harness.logger });
  });

  afterAll(async () => {
    await web?.stop();
    await discord?.stop();
    await harness?.stop();
    await fake?.close();
    await songs?.remove();
  });

  const separateWav = async (source: { link: string } | { file: ReturnType<FakeDiscord['registerAttachment']> }): Promise<StoredMessage> => {
    const handle = fake.dispatchInteraction({ type: 'command', name: 'separate', options: { ...source, format: 'wav' }, userId: BOB, channelId: GENERAL });
    return handle.waitFor((i) => Boolean(i.original && /stems page/.test(i.original.content))).then((i) => i.original as StoredMessage);
  };
  const linkIn = (message: StoredMessage): string => /\(<(http[^>]+)>\)/.exec(message.content)?.[1] as string;

  async function expectWorkingLink(message: StoredMessage): Promise<void> {
    // The picture goes along; the stems, too big for this server, are on the page.
    expect(message.attachments.map((a) => a.filename)).toEqual(['waveforms.png']);
    expect(message.attachments[0]!.bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(message.content).toMatch(/is separated: the stems are on their page\.\nGet them on the \[stems page\]\(<http:\/\/127\.0\.0\.1:\d+\/s\/[\w-]+\.[\w-]+>\) \(a mixer and downloads; the link works until <t:\d+:f>\)\.$/);
    const link = linkIn(message);
    const page = await fetch(link);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const data = (await (await fetch(`${link}/data.json`)).json()) as { files: { name: string; bytes: number; url: string }[]; peaks: Record<string, unknown> };
    expect(data.files.map((file) => file.name).sort()).toEqual(['bass.wav', 'drums.wav', 'other.wav', 'vocals.wav']);
    // Every stem has the peaks the worker stored (an empty object would pass an every() alone).
    expect(Object.keys(data.peaks).sort()).toEqual(['bass', 'drums', 'other', 'vocals']);
    expect(Object.values(data.peaks).every((peaks) => peaks !== null)).toBe(true);
    for (const file of data.files) {
      expect(file.bytes).toBeGreaterThan(MIB);
      const response = await fetch(new URL(file.url, `${link}/data.json`));
      expect(response.status).toBe(200);
      expect((await response.arrayBuffer()).byteLength).toBe(file.bytes);
    }
    // Another request's page is not reached by editing the link.
    const [payload, signature] = link.split('/s/')[1]!.split('.');
    expect((await fetch(`${link.split('/s/')[0]}/s/${payload}.${signature!.slice(0, -2)}xx`)).status).toBe(404);
  }

  describe('stems that do not fit as attachments', () => {
    it('come back with the waveform picture and a link that serves the page, its data and every file', async () => {
      await expectWorkingLink(await separateWav({ link: `https://youtu.be/${SHORT}` }));
    });

    it.runIf(options.tenMinutes)('a 10-minute upload asked for in wav, too: picture, page and files', async () => {
      await expectWorkingLink(await separateWav({ file: fake.registerAttachment('ten minutes.mp3', tenMinutes as Buffer, 'audio/mpeg') }));
    }, 300_000);
  });
}
