/**
 * Guild admins are trusted only within the operator's limits and only in their own server, from
 * chat: `/quota-admin set` past the operator's QUOTA_* settings (or with a limit that does not exist)
 * is refused with the allowed range and saves nothing, overrides saved before the operator lowered a
 * setting do not outlive it, an admin of one server cannot cancel another server's request, and a
 * user in cooldown costs no download or probe. Runs on every deployment a user can choose.
 */
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startDiscordRole } from '../../bots/discord/discord-role.js';
import { registerDiscordCommands } from '../../bots/discord/register-commands.js';
import { QuotaChange, SeparationRequest, Tenant, UsageEntry } from '../../core/db/entities/index.js';
import type { RoleHandle } from '../../core/queue/relay-role.js';
import { locateFfmpeg } from '../../worker/audio/ffmpeg.js';
import { AttachmentFetcher } from '../../worker/fetch/attachment-fetcher.js';
import { FakeDiscord, MEMBER_PERMISSIONS, Permission, TestClock, defaultGuild, type FakeGuild, type FakeInteraction, type FakeUser, type StoredMessage } from '../support/fake-discord/index.js';
import { LocalVideoSource } from '../support/local-sources.js';
import { RecordingFetcher } from '../support/recording-fetcher.js';
import { captureLogger, makeTempDir } from '../support/services.js';
import { DEPLOYMENTS, makeSong, startHarness, type Harness } from '../support/stembot-harness.js';

const GUILD_A = '1100000000000000001';
const GENERAL_A = '1100000000000000010';
const ADA = '1100000000000000100'; // Manage Server in A (defaultGuild's admin)
const CARA = '1100000000000000101'; // a member of A
const GUILD_B = '1200000000000000001';
const ADMINS_B = '1200000000000000002';
const GENERAL_B = '1200000000000000010';
const BEN = '1200000000000000101'; // a member of B
const BRYONY = '1200000000000000102'; // Manage Server in B
const SHORT = 'shortsong01';
const LONG = 'longsong001';
const OTHER = 'othersong01';

/** The operator's settings: what no guild admin may go past. */
const OPERATOR = {
  QUOTA_MAX_TRACK_MINUTES: '10',
  QUOTA_DAILY_MINUTES: '60',
  QUOTA_MONTHLY_MINUTES: '600',
  QUOTA_CONCURRENT_JOBS: '3',
  QUOTA_USER_COOLDOWN_SECONDS: '60',
  QUOTA_ALLOWED_MODELS: 'htdemucs',
};

function guilds(bot: FakeUser): FakeGuild[] {
  const a = defaultGuild(bot);
  const b: FakeGuild = {
    id: GUILD_B,
    name: 'Other Guild',
    ownerId: BRYONY,
    roles: [
      { id: GUILD_B, name: '@everyone', permissions: MEMBER_PERMISSIONS },
      { id: ADMINS_B, name: 'Admins', permissions: Permission.administrator },
    ],
    channels: [{ id: GENERAL_B, name: 'general' }],
    members: [{ user: bot, roles: [] }, { user: { id: BEN, username: 'ben' }, roles: [] }, { user: { id: BRYONY, username: 'bryony' }, roles: [ADMINS_B] }],
  };
  return [{ ...a, members: [...a.members, { user: { id: CARA, username: 'cara' }, roles: [] }] }, b];
}

describe.each(DEPLOYMENTS)('guild admins within the operator’s limits, from chat (%s)', (deployment) => {
  let fake: FakeDiscord;
  let harness: Harness;
  let discord: RoleHandle;
  let songs: { dir: string; remove(): Promise<void> };
  let songBytes: Buffer;
  let youtube: RecordingFetcher;
  let attachments: RecordingFetcher;

  const command = (name: string, userId: string, guildId = GUILD_A, extra: { subcommand?: string; options?: Record<string, string | ReturnType<FakeDiscord['registerAttachment']>> } = {}): FakeInteraction =>
    fake.dispatchInteraction({ type: 'command', name, userId, guildId, channelId: guildId === GUILD_A ? GENERAL_A : GENERAL_B, ...extra });
  const quotaAdmin = (userId: string, limit: string, value: string) => command('quota-admin', userId, GUILD_A, { subcommand: 'set', options: { limit, value } });
  /** The first thing the user reads back: the reply, or the ephemeral refusal after a deferred reply. */
  const answer = async (handle: FakeInteraction): Promise<StoredMessage> => {
    await handle.waitFor((i) => i.messages().some((m) => m.content !== ''));
    return handle.messages().find((m) => m.content !== '') as StoredMessage;
  };
  const quotaShown = async (guildId: string) => (await answer(command('quota', guildId === GUILD_A ? CARA : BEN, guildId, { subcommand: 'show' }))).content;

  beforeAll(async () => {
    const clock = new TestClock();
    fake = await FakeDiscord.start({ clock, guilds: guilds({ id: '1100000000000000050', username: 'stembot', bot: true }) });
    songs = await makeTempDir('stembot-admin-limits-');
    const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
    const short = await makeSong(ffmpeg, path.join(songs.dir, 'short.mp3'), 10);
    songBytes = await readFile(short);
    const videos = { [SHORT]: short, [OTHER]: short, [LONG]: await makeSong(ffmpeg, path.join(songs.dir, 'long.mp3'), 75, 330) };
    harness = await startHarness({
      backend: deployment,
      // Without a worker every admitted request stays queued: "still running" is then a fact, not a race.
      worker: false,
      env: OPERATOR,
      fetchers: (ffprobe, tools) => {
        youtube = new RecordingFetcher(new LocalVideoSource(ffprobe, videos));
        attachments = new RecordingFetcher(new AttachmentFetcher({ tools, logger: captureLogger('silent').logger, extraHosts: { discord: [new URL(fake.url).host] } }));
        return { youtube, attachment: attachments };
      },
    });
    const settings = { token: fake.token, applicationId: fake.applicationId, apiUrl: `${fake.url}/api` };
    await registerDiscordCommands(settings, GUILD_A);
    await registerDiscordCommands(settings, GUILD_B);
    discord = await startDiscordRole({ core: harness.core, settings, logger: harness.logger, knownModels: async () => ['htdemucs', 'htdemucs_ft'], now: () => clock.now() });
  });

  afterAll(async () => {
    await discord?.stop();
    await harness?.stop();
    await fake?.close();
    await songs?.remove();
  });

  const changesIn = async (guildId: string) => harness.runtime.orm.em.fork().count(QuotaChange, { tenant: { externalId: guildId } });

  it('refuses a track limit past the operator’s with the allowed range, saves nothing, and takes a lower one', async () => {
    onTestFinished(() => harness.core.quota.reset({ platform: 'discord', externalId: GUILD_A }, 'test').then(() => undefined));
    const refused = await answer(quotaAdmin(ADA, 'max_track_minutes', '1440'));
    expect(refused.content).toBe('`max_track_minutes` takes a whole number from 1 to 10 on this bot; you gave 1440.');
    expect(refused.flags & 64).toBe(64);
    expect(await changesIn(GUILD_A)).toBe(0);
    expect(await quotaShown(GUILD_A)).toContain('longest track: 10 min');

    expect((await answer(quotaAdmin(ADA, 'max_track_minutes', '1'))).content).toMatch(/^Saved\.\n/);
    expect(await quotaShown(GUILD_A)).toContain('longest track: 1 min');
    const tooLong = await answer(command('separate', CARA, GUILD_A, { options: { link: `https://youtu.be/${LONG}` } }));
    expect(tooLong.content).toMatch(/^This track is 1 min 1[56] s; the limit here is 1 min\.$/);
  });

  it('refuses more jobs, a shorter cooldown, a model the operator does not offer and a limit that does not exist, saving nothing', async () => {
    const attempts: [string, string, string][] = [
      ['concurrent_jobs', '50', '`concurrent_jobs` takes a whole number from 1 to 3 on this bot; you gave 50.'],
      ['user_cooldown_seconds', '0', '`user_cooldown_seconds` takes a whole number from 60 to 86400 on this bot; you gave 0.'],
      ['allowed_models', 'htdemucs_ft', '`allowed_models` takes one or more of the models this bot offers: htdemucs.'],
      // A modified client can send any name, not only the command's choices.
      ['gpu_hours', '1', 'That is not a limit stembot has; choose one of `max_track_minutes`, `daily_minutes`, `monthly_minutes`, `concurrent_jobs`, `user_cooldown_seconds`, `allowed_models`.'],
    ];
    const before = await changesIn(GUILD_A);
    for (const [limit, value, refusal] of attempts) expect((await answer(quotaAdmin(ADA, limit, value))).content).toBe(refusal);
    expect(await changesIn(GUILD_A)).toBe(before);
    const shown = await quotaShown(GUILD_A);
    expect(shown).toContain('Running now: 0 of 3');
    expect(shown).toContain('wait between requests: 1 min');
    expect(shown).toContain('Models: htdemucs\n');
  });

  it('holds a guild to the operator’s settings lowered after its admins had set higher ones', async () => {
    const em = harness.runtime.orm.em.fork();
    await harness.core.quota.show({ platform: 'discord', externalId: GUILD_B });
    // What /quota-admin let admins save before the operator's settings were ceilings (or were lowered).
    await em.nativeUpdate(Tenant, { platform: 'discord', externalId: GUILD_B }, { quotaOverrides: { maxTrackSeconds: 86_400, concurrentJobs: 50, userCooldownSeconds: 0, allowedModels: ['htdemucs_ft'] } });
    onTestFinished(() => harness.core.quota.reset({ platform: 'discord', externalId: GUILD_B }, 'test').then(() => undefined));
    const shown = await quotaShown(GUILD_B);
    expect(shown).toContain('Running now: 0 of 3 · longest track: 10 min · wait between requests: 1 min');
    expect(shown).toContain('Models: htdemucs\n');
    const model = await answer(command('separate', BEN, GUILD_B, { options: { link: `https://youtu.be/${SHORT}`, model: 'htdemucs_ft' } }));
    expect(model.content).toBe('The htdemucs_ft model is not allowed here; the allowed ones are htdemucs.');
  });

  it('refuses an admin of another server who presses Cancel on this server’s request; the request goes on', async () => {
    const handle = command('separate', BEN, GUILD_B, { options: { link: `https://youtu.be/${LONG}` } });
    const progress = (await handle.waitFor((i) => Boolean(i.original?.components.length))).original as StoredMessage;
    const requestId = JSON.stringify(progress.components).match(/cancel:([0-9a-f-]{36})/)?.[1] as string;

    // Ada has Manage Server in her own server, and sends the button from there.
    const outsider = fake.dispatchInteraction({ type: 'component', customId: `cancel:${requestId}`, message: progress, userId: ADA, guildId: GUILD_A, channelId: GENERAL_A });
    const refusal = await answer(outsider);
    expect(refusal.content).toBe('Only the person who asked, or an admin, can cancel this.');
    expect(refusal.flags & 64).toBe(64);
    // `/cancel` only ever reaches her own requests in her own server.
    expect((await answer(command('cancel', ADA, GUILD_A))).content).toBe('You have nothing queued or running here.');

    expect(fake.message(progress.id)?.content).not.toMatch(/Cancelled/);
    const em = harness.runtime.orm.em.fork();
    expect((await em.findOneOrFail(SeparationRequest, requestId)).state).toBe('queued');
    expect(await em.count(UsageEntry, { requestId, kind: 'refund' })).toBe(0);

    // B's own admin still can.
    const insider = fake.dispatchInteraction({ type: 'component', customId: `cancel:${requestId}`, message: progress, userId: BRYONY, guildId: GUILD_B, channelId: GENERAL_B });
    await insider.waitFor((i) => i.callbacks.length > 0);
    await fake.waitFor(() => fake.message(progress.id)?.content === `Cancelled by <@${BRYONY}>. Nothing was charged.`);
  });

  it('downloads and probes nothing for a user in cooldown, whether they upload a file or link a video', async () => {
    expect((await command('separate', CARA, GUILD_A, { options: { link: `https://youtu.be/${SHORT}` } }).waitFor((i) => Boolean(i.original?.components.length))).original).toBeDefined();
    const [inspectedVideos, inspectedFiles] = [youtube.inspected.length, attachments.inspected.length];

    const upload = fake.registerAttachment('next song.mp3', songBytes, 'audio/mpeg');
    const byFile = await answer(command('separate', CARA, GUILD_A, { options: { file: upload } }));
    expect(byFile.content).toMatch(/^Please wait \d+ s before your next separation\.$/);
    const byLink = await answer(command('separate', CARA, GUILD_A, { options: { link: `https://youtu.be/${OTHER}` } }));
    expect(byLink.content).toMatch(/^Please wait \d+ s before your next separation\.$/);

    expect(youtube.inspected.length).toBe(inspectedVideos);
    expect(attachments.inspected.length).toBe(inspectedFiles);
    expect(fake.downloads.filter((d) => d.attachmentId === upload.id)).toEqual([]);
  });
});
