/**
 * Uploads and sources made to reach inside the network or to get more audio than was checked,
 * sent as a chat user would: the real discord.js client against the fake Discord, the real core,
 * relay and worker, on each deployment a user can choose.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerDiscordCommands } from '../../bots/discord/register-commands.js';
import { startDiscordRole } from '../../bots/discord/discord-role.js';
import { Separation, SeparationRequest, UsageEntry } from '../../core/db/entities/index.js';
import type { RoleHandle } from '../../core/queue/relay-role.js';
import { separationPrefix } from '../../core/storage.js';
import { locateFfmpeg } from '../../worker/audio/ffmpeg.js';
import { AttachmentFetcher } from '../../worker/fetch/attachment-fetcher.js';
import { FakeDiscord, TestClock, type FakeInteraction, type StoredMessage } from '../support/fake-discord/index.js';
import { hlsPlaylist, makeLyingMp3 } from '../support/hostile-files.js';
import { LocalVideoSource } from '../support/local-sources.js';
import { DEPLOYMENTS, makeSong, startHarness, type Harness } from '../support/stembot-harness.js';
import { captureLogger, makeTempDir } from '../support/services.js';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

const GUILD = '1100000000000000001';
const ALICE = '1100000000000000100';
/** A "YouTube video" whose file claims 10 s in its header and holds 40 s. */
const LYING_VIDEO = 'lyingvideo1';

describe.each(DEPLOYMENTS)('hostile uploads through Discord (%s)', (deployment) => {
  let fake: FakeDiscord;
  let harness: Harness;
  let discord: RoleHandle;
  let files: { dir: string; remove(): Promise<void> };
  /** Inside the network: no upload may make the bot reach it. It records what it is asked. */
  let internal: Server;
  let internalUrl: string;
  const internalHits: string[] = [];
  let songBytes: Buffer;
  let lyingBytes: Buffer;

  beforeAll(async () => {
    const clock = new TestClock();
    fake = await FakeDiscord.start({ clock });
    files = await makeTempDir('stembot-hostile-');
    const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
    songBytes = await readFile(await makeSong(ffmpeg, path.join(files.dir, 'song.mp3'), 5));
    lyingBytes = await makeLyingMp3(ffmpeg, path.join(files.dir, 'liar.mp3'), 10, 300);
    const lyingVideo = path.join(files.dir, 'lying-video.mp3');
    await makeLyingMp3(ffmpeg, lyingVideo, 10, 30);
    internal = createServer((req, res) => {
      internalHits.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': songBytes.length }).end(songBytes);
    });
    await new Promise<void>((resolve) => internal.listen(0, '127.0.0.1', resolve));
    internalUrl = `http://127.0.0.1:${(internal.address() as AddressInfo).port}`;
    harness = await startHarness({
      backend: deployment,
      env: { QUOTA_MAX_TRACK_MINUTES: '3' },
      fetchers: (ffprobe, tools) => ({
        // The stand-in for YouTube believes a file's header, as a downloader believes YouTube's stated length.
        youtube: new LocalVideoSource(ffprobe, { [LYING_VIDEO]: lyingVideo }),
        attachment: new AttachmentFetcher({ tools, logger: captureLogger('silent').logger, extraHosts: { discord: [new URL(fake.url).host] } }),
      }),
    });
    const settings = { token: fake.token, applicationId: fake.applicationId, apiUrl: `${fake.url}/api` };
    await registerDiscordCommands(settings, GUILD);
    discord = await startDiscordRole({ core: harness.core, settings, logger: harness.logger, knownModels: async () => ['htdemucs'], now: () => clock.now() });
  });

  afterAll(async () => {
    await discord?.stop();
    await harness?.stop();
    await fake?.close();
    internal?.close();
    await files?.remove();
  });

  const separate = (options: Record<string, string | ReturnType<FakeDiscord['registerAttachment']>>): FakeInteraction =>
    fake.dispatchInteraction({ type: 'command', name: 'separate', options, userId: ALICE });

  /** The one ephemeral sentence the user gets instead of a request. */
  async function refusal(handle: FakeInteraction, text: RegExp): Promise<StoredMessage> {
    await handle.waitFor((i) => i.messages().some((m) => text.test(m.content)));
    const message = handle.messages().find((m) => text.test(m.content)) as StoredMessage;
    expect(message.flags & 64).toBe(64);
    return message;
  }

  const requestsOf = async (): Promise<number> => harness.runtime.orm.em.fork().count(SeparationRequest, {});

  it('refuses an HLS playlist named song.mp3, and the address it names is never asked', async () => {
    const before = await requestsOf();
    const upload = fake.registerAttachment('song.mp3', hlsPlaylist(`${internalUrl}/seg.ts`), 'audio/mpeg');
    await refusal(separate({ file: upload }), /^song\.mp3: That file is not an audio file/);
    expect(internalHits).toEqual([]);
    expect(await requestsOf()).toBe(before);
  });

  it('refuses an upload the file host redirects inside the network, and the inside is never asked', async () => {
    const upload = fake.registerAttachment('moved.mp3', songBytes, 'audio/mpeg');
    fake.redirectAttachment(upload.id, `${internalUrl}/secret.mp3`);
    await refusal(separate({ file: upload }), /^Only files uploaded to Discord itself can be separated\.$/);
    expect(internalHits).toEqual([]);
  });

  it('charges an mp3 by the frames it holds: 10 s in the header, 310 s of frames, over the 3-minute limit', async () => {
    const before = await requestsOf();
    const upload = fake.registerAttachment('short song.mp3', lyingBytes, 'audio/mpeg');
    await refusal(separate({ file: upload }), /^This track is 5 min 11 s; the limit here is 3 min/);
    expect(await requestsOf()).toBe(before);
  });

  it('stops a source that turns out longer than it said, refunds it, and keeps no stems', async () => {
    const handle = separate({ link: `https://youtu.be/${LYING_VIDEO}` });
    await handle.waitFor((i) => Boolean(i.original && /could not be separated/.test(i.original.content)));
    expect(handle.original?.content).toMatch(/could not be separated: This audio is longer than it says: it runs past 12 s, so it was stopped\. Nothing was charged\.$/);
    const em = harness.runtime.orm.em.fork();
    const request = await em.findOneOrFail(SeparationRequest, { source: { kind: 'youtube', videoId: LYING_VIDEO } } as never, { populate: ['separation'] });
    expect((await em.find(UsageEntry, { requestId: request.id })).map((row) => row.kind).sort()).toEqual(['refund', 'reserve']);
    const separation = await em.findOneOrFail(Separation, request.separation!.id);
    expect(separation.state).toBe('failed');
    expect(existsSync(harness.storage.pathOf(separationPrefix(separation.id)))).toBe(false);
  });
});
