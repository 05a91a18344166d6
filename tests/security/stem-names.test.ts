/**
 * Names are never paths, from chat: a `/separate` stem that spells a path to another separation's
 * masters is refused before anything is queued, and none of that separation's files reach the
 * asker. Runs on every deployment a user can choose.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDiscordRole } from '../../bots/discord/discord-role.js';
import { registerDiscordCommands } from '../../bots/discord/register-commands.js';
import { Separation, SeparationRequest } from '../../core/db/entities/index.js';
import type { RoleHandle } from '../../core/queue/relay-role.js';
import { separationPrefix } from '../../core/storage.js';
import { locateFfmpeg } from '../../worker/audio/ffmpeg.js';
import { FakeDiscord, TestClock, defaultGuild, type FakeInteraction, type StoredMessage } from '../support/fake-discord/index.js';
import { LocalVideoSource } from '../support/local-sources.js';
import { captureLogger, makeTempDir } from '../support/services.js';
import { DEPLOYMENTS, makeSong, startHarness, type Harness } from '../support/stembot-harness.js';
import { rejectsWithUserError } from '../support/user-error.js';

const GUILD = '1100000000000000001';
const GENERAL = '1100000000000000010';
const BOB = '1100000000000000101'; // the victim
const MALLORY = '1100000000000000666'; // the attacker
const VICTIM_SONG = 'victimsong1';
const ATTACKER_SONG = 'mallorysong';

describe.each(DEPLOYMENTS)('stem names from chat (%s)', (deployment) => {
  let fake: FakeDiscord;
  let harness: Harness;
  let discord: RoleHandle;
  let songs: { dir: string; remove(): Promise<void> };
  let victim: Separation;

  const separate = (options: Record<string, string>, userId: string): FakeInteraction =>
    fake.dispatchInteraction({ type: 'command', name: 'separate', options, userId, channelId: GENERAL });
  const attachmentsIn = (messages: StoredMessage[]) => messages.flatMap((m) => m.attachments.map((a) => a.filename).filter((name) => name !== 'waveforms.png'));

  beforeAll(async () => {
    const clock = new TestClock();
    const base = defaultGuild({ id: '1100000000000000050', username: 'stembot', bot: true });
    fake = await FakeDiscord.start({ clock, guilds: [{ ...base, members: [...base.members, { user: { id: BOB, username: 'bob' }, roles: [] }, { user: { id: MALLORY, username: 'mallory' }, roles: [] }] }] });
    songs = await makeTempDir('stembot-stem-names-');
    const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
    const videos = {
      [VICTIM_SONG]: await makeSong(ffmpeg, path.join(songs.dir, 'victim.mp3'), 5),
      [ATTACKER_SONG]: await makeSong(ffmpeg, path.join(songs.dir, 'attacker.mp3'), 5, 330),
    };
    harness = await startHarness({ backend: deployment, fetchers: (ffprobe) => ({ youtube: new LocalVideoSource(ffprobe, videos), attachment: new LocalVideoSource(ffprobe, {}) }) });
    const settings = { token: fake.token, applicationId: fake.applicationId, apiUrl: `${fake.url}/api` };
    await registerDiscordCommands(settings, GUILD);
    discord = await startDiscordRole({ core: harness.core, settings, logger: captureLogger('silent').logger, knownModels: async () => ['htdemucs'], now: () => clock.now() });

    // Bob's song is separated first: its masters are really on disk when Mallory asks.
    const bobs = separate({ link: `https://youtu.be/${VICTIM_SONG}`, stems: 'vocals' }, BOB);
    await bobs.waitFor((i) => (i.original?.attachments.length ?? 0) > 0);
    victim = await harness.runtime.orm.em.fork().findOneOrFail(Separation, { sourceKey: `youtube:${VICTIM_SONG}` });
  });

  afterAll(async () => {
    await discord?.stop();
    await harness?.stop();
    await fake?.close();
    await songs?.remove();
  });

  it('/separate with a stem that is a path to another separation is refused, and none of its files are delivered', async () => {
    const vocals = harness.storage.pathOf(`${separationPrefix(victim.id)}/masters/vocals.flac`);
    expect(existsSync(vocals)).toBe(true);
    const delivered = attachmentsIn(fake.channelMessages(GENERAL));

    const attack = separate({ link: `https://youtu.be/${ATTACKER_SONG}`, stems: `../../${victim.id}/masters/vocals` }, MALLORY);
    // The first thing Mallory reads: a refusal, not a progress message.
    const firstWords = (i: FakeInteraction) => i.messages().find((m) => m.content !== '');
    const refusal = firstWords(await attack.waitFor((i) => firstWords(i) !== undefined)) as StoredMessage;

    expect(refusal.content).toMatch(/^Pick one of the offered stems: .*vocals/);
    expect(refusal.flags & 64).toBe(64);
    expect(refusal.attachments).toEqual([]);
    // Refused before anything was recorded or queued, so nothing can be delivered later either.
    expect(await harness.runtime.orm.em.fork().count(SeparationRequest, { userId: MALLORY })).toBe(0);
    expect(attachmentsIn(fake.channelMessages(GENERAL))).toEqual(delivered);
    expect(existsSync(vocals)).toBe(true);
  });

  it('the same stem sent to core directly (any platform) is refused at submit, naming the stem', async () => {
    const error = await rejectsWithUserError(
      harness.core.submit({
        platform: 'slack',
        tenantId: 'T0ATTACKER',
        userId: MALLORY,
        channelId: 'C0ATTACKER',
        platformMessage: {},
        source: { kind: 'youtube', videoId: ATTACKER_SONG },
        options: { stems: 'single', stem: `../../${victim.id}/masters/vocals`, format: 'mp3' },
      }),
    );
    expect(error.message).toMatch(/stem.*is not a stem name: pick one of the stems offered/);
    expect(await harness.runtime.orm.em.fork().count(SeparationRequest, { userId: MALLORY })).toBe(0);
  });
});
