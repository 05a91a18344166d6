/**
 * Apps > Separate stems on someone's message: the real discord.js client against the fake Discord,
 * with the real core, relay and worker on the embedded default. The asker need not copy a link or
 * download and re-upload a file to get its stems.
 */
import { mkdir, readFile, readdir, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerDiscordCommands } from '../../../bots/discord/register-commands.js';
import { startDiscordRole } from '../../../bots/discord/discord-role.js';
import { SeparationRequest } from '../../../core/db/entities/index.js';
import type { RoleHandle } from '../../../core/queue/relay-role.js';
import { locateFfmpeg } from '../../../worker/audio/ffmpeg.js';
import { AttachmentFetcher } from '../../../worker/fetch/attachment-fetcher.js';
import { FakeDiscord, TestClock, defaultGuild, type FakeInteraction, type StoredMessage } from '../../support/fake-discord/index.js';
import { LocalVideoSource } from '../../support/local-sources.js';
import { makeSong, startHarness, type Harness } from '../../support/stembot-harness.js';
import { captureLogger, makeTempDir } from '../../support/services.js';

const GUILD = '1100000000000000001';
const ALICE = '1100000000000000100';
const BOB = '1100000000000000101';
const SONG = 'shortsong01';
const STEMS = ['bass.mp3', 'drums.mp3', 'other.mp3', 'vocals.mp3'];

describe('Discord message command "Separate stems" (embedded)', () => {
  let fake: FakeDiscord;
  let harness: Harness;
  let discord: RoleHandle;
  let songs: { dir: string; remove(): Promise<void> };
  let songBytes: Buffer;
  /** The worker's TEMP_DIR/spool-files, seeded with spool files an earlier, longer separation left. */
  let keptSpools: string;

  beforeAll(async () => {
    const clock = new TestClock();
    const base = defaultGuild({ id: '1100000000000000050', username: 'stembot', bot: true });
    fake = await FakeDiscord.start({ clock, guilds: [{ ...base, members: [...base.members, { user: { id: BOB, username: 'bob' }, roles: [] }] }] });
    songs = await makeTempDir('stembot-message-command-');
    const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
    const song = await makeSong(ffmpeg, path.join(songs.dir, 'song.mp3'), 8);
    songBytes = await readFile(song);
    keptSpools = path.join(songs.dir, 'temp', 'spool-files');
    await mkdir(keptSpools, { recursive: true });
    for (const i of [0, 1, 2, 3]) {
      await writeFile(path.join(keptSpools, `earlier-${i}.f32`), Buffer.from(new Float32Array(2 ** 16).fill(1e30).buffer));
      await truncate(path.join(keptSpools, `earlier-${i}.f32`), 20 * 2 ** 20);
    }
    harness = await startHarness({
      backend: 'embedded',
      env: { TEMP_DIR: path.join(songs.dir, 'temp') },
      fetchers: (ffprobe, tools) => ({
        youtube: new LocalVideoSource(ffprobe, { [SONG]: song }),
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
    await songs?.remove();
  });

  /** Bob runs Apps > Separate stems on a message Alice posted. */
  const separateFrom = (message: StoredMessage): FakeInteraction => fake.dispatchInteraction({ type: 'message-command', name: 'Separate stems', message, userId: BOB });

  const stemsOf = (handle: FakeInteraction): Promise<StoredMessage> =>
    handle.waitFor((i) => Boolean(i.original && (i.original.attachments.length > 0 || /could not be separated/.test(i.original.content)))).then((i) => i.original as StoredMessage);

  const requestsOf = (): Promise<SeparationRequest[]> => harness.runtime.orm.em.fork().find(SeparationRequest, {}, { orderBy: { createdAt: 'asc' } });

  it('is registered as a message command next to the slash commands', () => {
    expect(fake.commands(GUILD).find((c) => c.name === 'Separate stems')?.type).toBe(3);
  });

  it('on a message with a YouTube link: separates the first YouTube link in it, for the one who asked', async () => {
    const message = fake.postUserMessage({ content: `the lyrics are at https://example.com/lyrics and the song <https://youtu.be/${SONG}?si=share> 🔥`, userId: ALICE });
    const handle = separateFrom(message);
    const reply = await stemsOf(handle);
    expect(handle.callbacks[0]?.type).toBe(5);
    expect(fake.violations).toEqual([]);
    expect(reply.attachments.map((a) => a.filename).filter((name) => name !== 'waveforms.png').sort()).toEqual(STEMS);
    const request = (await requestsOf()).at(-1);
    expect(request?.source).toMatchObject({ kind: 'youtube', videoId: SONG });
    expect(request?.userId).toBe(BOB);
  });

  it('on a message with an mp3 attachment: separates the first audio file, skipping an image before it', async () => {
    const cover = fake.registerAttachment('cover.png', Buffer.from('not really a png'), 'image/png');
    const track = fake.registerAttachment('demo take 3.mp3', songBytes, 'audio/mpeg');
    const reply = await stemsOf(separateFrom(fake.postUserMessage({ content: 'new demo!', attachments: [cover, track], userId: ALICE })));
    expect(reply.attachments.map((a) => a.filename).filter((name) => name !== 'waveforms.png').sort()).toEqual(STEMS);
    expect((await requestsOf()).at(-1)?.source).toMatchObject({ kind: 'attachment', platform: 'discord', filename: 'demo take 3.mp3' });
  });

  it('the worker writes its stem spools over the files TEMP_DIR kept, and keeps them again for the next job', async () => {
    // A song of its own: the same song again would be served from the separation already made.
    const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
    const other = await readFile(await makeSong(ffmpeg, path.join(songs.dir, 'other.mp3'), 8, 330));
    const track = fake.registerAttachment('other take.mp3', other, 'audio/mpeg');
    const reply = await stemsOf(separateFrom(fake.postUserMessage({ content: 'another one', attachments: [track], userId: ALICE })));
    expect(reply.attachments.map((a) => a.filename).filter((name) => name !== 'waveforms.png').sort()).toEqual(STEMS);
    const kept = await readdir(keptSpools);
    expect(kept).toHaveLength(4);
    expect(kept.filter((name) => name.startsWith('earlier-'))).toEqual([]);
  });

  it('on a message with neither: tells only the asker what to do, without a public reply or a request', async () => {
    const before = (await requestsOf()).length;
    const cover = fake.registerAttachment('cover.png', Buffer.from('not really a png'), 'image/png');
    const handle = separateFrom(fake.postUserMessage({ content: 'what a song, see https://example.com/tour', attachments: [cover], userId: ALICE }));
    await handle.waitFor((i) => i.messages().length > 0);
    const [refusal, ...others] = handle.messages();
    expect(others).toEqual([]);
    expect(refusal?.content).toBe('That message has no YouTube link or audio file. Use Separate stems on a message that has one, or /separate with `link:` or `file:`.');
    expect((refusal?.flags ?? 0) & 64).toBe(64);
    // Refused at once: never a public "thinking…" that the channel would see vanish.
    expect(handle.callbacks.map((c) => c.type)).toEqual([4]);
    expect((await requestsOf()).length).toBe(before);
  });
});
