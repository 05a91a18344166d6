/**
 * Messages cannot ping or phish (issue 9, point 5): a video title or file name written to ping
 * the server and hide a link is shown as plain text, and every message the bot sends tells Discord
 * to parse no mentions except the requester's own. Through the real discord.js client against the
 * fake Discord, with the real core, relay and worker.
 */
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDiscordRole } from '../../bots/discord/discord-role.js';
import { registerDiscordCommands } from '../../bots/discord/register-commands.js';
import type { RequestSource } from '../../core/db/entities/separation-request.js';
import type { RoleHandle } from '../../core/queue/relay-role.js';
import type { OpenOptions, SourceInfo } from '../../core/sources.js';
import { locateFfmpeg } from '../../worker/audio/ffmpeg.js';
import { AttachmentFetcher } from '../../worker/fetch/attachment-fetcher.js';
import { liveMarkup } from '../support/discord-markup.js';
import { FakeDiscord, TestClock, defaultGuild, type FakeInteraction, type RecordedRequest, type StoredMessage } from '../support/fake-discord/index.js';
import { LocalVideoSource } from '../support/local-sources.js';
import { captureLogger, makeTempDir } from '../support/services.js';
import { makeSong, startHarness, type Harness } from '../support/stembot-harness.js';

const GENERAL = '1100000000000000010';
const BOB = '1100000000000000101';
const SONG = 'hostile0001';
const LATE = 'hostile0002';
const HOSTILE = '@everyone FREE NITRO [claim](https://evil.example) <@&123>';
/** HOSTILE as a reader sees it: the same words, nothing live (zero-width spaces split the syntax). */
const SHOWN = '@\u200beveryone FREE NITRO \\[claim](https:\u200b//evil.example) <\u200b@&123>';

/** Local songs under a title the attacker chose; `gate` holds a download back until the test lets it go. */
class HostileVideos extends LocalVideoSource {
  gate: Promise<void> = Promise.resolve();

  override async inspect(source: RequestSource): Promise<SourceInfo> {
    return { ...(await super.inspect(source)), title: HOSTILE };
  }

  override async open(source: RequestSource, options: OpenOptions): Promise<Readable> {
    await this.gate;
    return super.open(source, options);
  }
}

interface SentBody {
  request: RecordedRequest;
  content: string;
  allowedMentions: unknown;
}

describe('messages cannot ping or phish', () => {
  let clock: TestClock;
  let fake: FakeDiscord;
  let harness: Harness;
  let discord: RoleHandle;
  let videos: HostileVideos;
  let songs: { dir: string; remove(): Promise<void> };

  beforeAll(async () => {
    clock = new TestClock();
    const base = defaultGuild({ id: '1100000000000000050', username: 'stembot', bot: true });
    fake = await FakeDiscord.start({ clock, guilds: [{ ...base, members: [...base.members, { user: { id: BOB, username: 'bob' }, roles: [] }] }] });
    songs = await makeTempDir('stembot-mentions-songs-');
    const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
    const song = await makeSong(ffmpeg, path.join(songs.dir, 'song.mp3'), 5);
    harness = await startHarness({
      backend: 'embedded',
      fetchers: (ffprobe, tools) => {
        videos = new HostileVideos(ffprobe, { [SONG]: song, [LATE]: song });
        return { youtube: videos, attachment: new AttachmentFetcher({ tools, logger: captureLogger('silent').logger, extraHosts: { discord: [new URL(fake.url).host] } }) };
      },
    });
    const settings = { token: fake.token, applicationId: fake.applicationId, apiUrl: `${fake.url}/api` };
    await registerDiscordCommands(settings, base.id);
    discord = await startDiscordRole({ core: harness.core, settings, logger: harness.logger, knownModels: async () => ['htdemucs'], now: () => clock.now() });
  });

  afterAll(async () => {
    await discord?.stop();
    await harness?.stop();
    await fake?.close();
    await songs?.remove();
  });

  const separate = (options: Record<string, string | ReturnType<FakeDiscord['registerAttachment']>>) =>
    fake.dispatchInteraction({ type: 'command', name: 'separate', options, userId: BOB, channelId: GENERAL });

  /** Every message body with content the bot sent that `where` picks: replies, edits, follow-ups, channel posts. */
  function sentBodies(where: (request: RecordedRequest) => boolean): SentBody[] {
    return fake.requests.filter(where).flatMap((request) => {
      const json = (request.json ?? {}) as { data?: unknown };
      // An interaction callback carries its message under `data`.
      const body = (request.route === '/interactions/:id/:token/callback' ? json.data : json) as { content?: unknown; allowed_mentions?: unknown } | undefined;
      return typeof body?.content === 'string' ? [{ request, content: body.content, allowedMentions: body.allowed_mentions }] : [];
    });
  }
  const forInteraction = (handle: FakeInteraction) => (request: RecordedRequest) => request.path.includes(handle.token);

  it('a video titled to ping and phish runs to the end; every message shows the title as text and parses no mention', async () => {
    const handle = separate({ link: `https://youtu.be/${SONG}` });
    const reply = await handle.waitFor((i) => Boolean(i.original?.attachments.length)).then((i) => i.original as StoredMessage);
    expect(reply.content.startsWith(`**${SHOWN}** is separated: `)).toBe(true);
    expect(reply.revisions.some((revision) => revision.content.startsWith(`**${SHOWN}**\nQueued`))).toBe(true);

    const sent = sentBodies(forInteraction(handle));
    // The first progress message and the result at least; the defer before them has no content.
    expect(sent.length).toBeGreaterThanOrEqual(2);
    for (const body of sent) {
      expect(body.allowedMentions, `${body.request.method} ${body.request.route}`).toEqual({ parse: [] });
      expect(liveMarkup(body.content)).toEqual([]);
    }
  });

  it('/jobs lists that title as text too', async () => {
    const handle = fake.dispatchInteraction({ type: 'command', name: 'jobs', userId: BOB, channelId: GENERAL });
    const list = await handle.waitForReply();
    expect(list.content).toContain(`**${SHOWN}** — completed`);
    // Our own jump link to the result is the one link meant to be there.
    const ours = / · \[message\]\(https:\/\/discord\.com\/channels\/[\d/]+\)/g;
    for (const body of sentBodies(forInteraction(handle))) {
      expect(body.allowedMentions).toEqual({ parse: [] });
      expect(liveMarkup(body.content.replaceAll(ours, ''))).toEqual([]);
    }
  });

  it('an unreadable upload whose file name pings and phishes is refused in words with nothing live', async () => {
    const upload = fake.registerAttachment(`${HOSTILE}.mp3`, Buffer.from('these bytes are not audio '.repeat(40)), 'audio/mpeg');
    const handle = separate({ file: upload });
    // The refusal, or a failure delivered in place of the result: either names the file, with no buttons.
    const answered = (i: FakeInteraction) => i.messages().find((m) => m.content.includes('FREE NITRO') && m.components.length === 0);
    const refusal = answered(await handle.waitFor((i) => Boolean(answered(i)))) as StoredMessage;
    expect(refusal.content).toContain(`${SHOWN}.mp3`);

    const sent = sentBodies(forInteraction(handle));
    expect(sent.some((body) => body.content.includes('FREE NITRO'))).toBe(true);
    for (const body of sent) {
      expect(body.allowedMentions, `${body.request.method} ${body.request.route}`).toEqual({ parse: [] });
      expect(liveMarkup(body.content)).toEqual([]);
    }
  });

  // Last: it moves the fake's clock past the interaction token's life.
  it('after the token expires, the channel post mentions the requester and pings no one else', async () => {
    let release: () => void = () => undefined;
    videos.gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const before = fake.requests.length;
    const handle = separate({ link: `https://youtu.be/${LATE}` });
    await handle.waitFor((i) => Boolean(i.original?.components.length));
    clock.advance(14 * 60_000 + 10_000);
    release();
    const posted = await fake.waitFor(() => fake.channelMessages(GENERAL).find((m) => m.webhookId === undefined && m.attachments.length > 0));
    expect(posted.content.startsWith(`<@${BOB}> **${SHOWN}** is separated: `)).toBe(true);

    const inChannel = sentBodies((request) => request.seq > before && request.route?.startsWith('/channels/:channel/messages') === true);
    const result = inChannel.find((body) => body.request.files.length > 0);
    expect(result?.allowedMentions).toEqual({ parse: [], users: [BOB] });
    expect(liveMarkup(result?.content ?? '')).toEqual([`<@${BOB}>`]);
    for (const body of inChannel.filter((b) => b !== result)) {
      expect(body.allowedMentions, `${body.request.method} ${body.request.route}`).toEqual({ parse: [] });
      expect(liveMarkup(body.content)).toEqual([]);
    }
  });
});
