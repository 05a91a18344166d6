/**
 * The Discord end-to-end suite: the real discord.js client against the fake Discord, with the real
 * core, relay and worker. Each deployment a user can choose runs it from its own test file
 * (discord.<deployment>.test.ts), so vitest spreads them over its workers.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { registerDiscordCommands } from '../../../bots/discord/register-commands.js';
import { startDiscordRole } from '../../../bots/discord/discord-role.js';
import { SeparationRequest, UsageEntry } from '../../../core/db/entities/index.js';
import type { RoleHandle } from '../../../core/queue/relay-role.js';
import { locateFfmpeg } from '../../../worker/audio/ffmpeg.js';
import { AttachmentFetcher } from '../../../worker/fetch/attachment-fetcher.js';
import { FakeDiscord, Permission, TestClock, defaultGuild, type FakeGuild, type FakeInteraction, type StoredMessage } from '../../support/fake-discord/index.js';
import { LocalVideoSource } from '../../support/local-sources.js';
import { makeSong, repeatSong, startHarness, waitForUpdate, type Deployment, type Harness } from '../../support/stembot-harness.js';
import { captureLogger, makeTempDir } from '../../support/services.js';

const GUILD = '1100000000000000001';
const GENERAL = '1100000000000000010';
const LOCKED = '1100000000000000011';
const ALICE = '1100000000000000100'; // admin (Admins role)
const BOB = '1100000000000000101';
const CAROL = '1100000000000000102';
const SHORT = 'shortsong01';
const LONG = 'longsong001';
const MEDIUM = 'mediumsong1';
const LATE = 'latesong001';
const UNRELAYED = 'unrelayed01';
const LINK = (id: string) => `https://youtu.be/${id}`;
/** A result's stems: its attachments less the waveform picture. */
const stemsOf = (message: StoredMessage) => message.attachments.filter((attachment) => attachment.filename !== 'waveforms.png');

export function discordEndToEnd(deployment: Deployment): void {
  let clock: TestClock;
  let fake: FakeDiscord;
  let harness: Harness;
  let discord: RoleHandle;
  let settings: { token: string; applicationId: string; apiUrl: string };
  let songBytes: Buffer;
  let songs: { dir: string; remove(): Promise<void> };

  function guildWithMembers(): FakeGuild {
    const base = defaultGuild({ id: '1100000000000000050', username: 'stembot', bot: true });
    return {
      ...base,
      channels: [
        ...base.channels,
        // A channel where the bot may talk but not attach files.
        { id: LOCKED, name: 'no-files', overwrites: [{ id: '1100000000000000050', type: 'member', deny: Permission.attachFiles }] },
      ],
      members: [...base.members, { user: { id: BOB, username: 'bob' }, roles: [] }, { user: { id: CAROL, username: 'carol' }, roles: [] }],
    };
  }

  beforeAll(async () => {
    clock = new TestClock();
    fake = await FakeDiscord.start({ clock, guilds: [guildWithMembers()] });
    songs = await makeTempDir('stembot-discord-songs-');
    const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
    const short = await makeSong(ffmpeg, path.join(songs.dir, 'short.mp3'), 10);
    const videos: Record<string, string> = {
      [SHORT]: short,
      [MEDIUM]: await makeSong(ffmpeg, path.join(songs.dir, 'medium.mp3'), 30),
      [LATE]: await makeSong(ffmpeg, path.join(songs.dir, 'late.mp3'), 30, 440),
      [UNRELAYED]: await makeSong(ffmpeg, path.join(songs.dir, 'unrelayed.mp3'), 60, 330),
      // Two minutes (the short song, repeated): only ever cancelled, so its length costs nothing but must keep the worker busy.
      [LONG]: await repeatSong(ffmpeg, short, 12, path.join(songs.dir, 'long.mp3')),
    };
    for (let i = 0; i < 12; i += 1) videos[`page${String(i).padStart(7, '0')}`] = short;
    songBytes = await readFile(short);
    harness = await startHarness({
      backend: deployment,
      env: { QUOTA_CONCURRENT_JOBS: '50', QUOTA_DAILY_MINUTES: '300', QUOTA_MAX_TRACK_MINUTES: '10' },
      fetchers: (ffprobe, tools) => ({
        youtube: new LocalVideoSource(ffprobe, videos),
        attachment: new AttachmentFetcher({ tools, logger: captureLogger('silent').logger, extraHosts: { discord: [new URL(fake.url).host] } }),
      }),
    });
    settings = { token: fake.token, applicationId: fake.applicationId, apiUrl: `${fake.url}/api` };
    await registerDiscordCommands(settings, GUILD);
    discord = await startDiscordRole({ core: harness.core, settings, logger: harness.logger, knownModels: async () => ['htdemucs', 'htdemucs_ft', 'htdemucs_6s'], now: () => clock.now() });
  });

  afterAll(async () => {
    await discord?.stop();
    await harness?.stop();
    await fake?.close();
    await songs?.remove();
  });

  const separate = (options: Record<string, string | ReturnType<FakeDiscord['registerAttachment']>>, userId = BOB, channelId = GENERAL) =>
    fake.dispatchInteraction({ type: 'command', name: 'separate', options, userId, channelId });

  /** The reply once it carries files or says it could not be separated. */
  const finalReply = (handle: FakeInteraction): Promise<StoredMessage> =>
    handle.waitFor((i) => Boolean(i.original && (i.original.attachments.length > 0 || /could not be separated|Cancelled/.test(i.original.content)))).then((i) => i.original as StoredMessage);

  describe('Discord /separate', () => {
    it('registers the commands in the guild', () => {
      expect(fake.commands(GUILD).map((c) => c.name).sort()).toEqual(['Separate stems', 'cancel', 'help', 'jobs', 'quota', 'quota-admin', 'separate', 'status']);
      for (const name of ['quota-admin', 'status']) {
        const admin = fake.commands(GUILD).find((c) => c.name === name) as { default_member_permissions?: string; contexts?: number[] };
        expect(admin.default_member_permissions).toBe(String(1n << 5n));
        expect(admin.contexts).toEqual([0]);
      }
    });

    it('with a link: defers in time, edits progress at most every 2 s, then attaches the stems under the size limit', async () => {
      const handle = separate({ link: LINK(SHORT), format: 'mp3' });
      const reply = await finalReply(handle);
      expect(handle.callbacks[0]?.type).toBe(5);
      expect(fake.violations).toEqual([]);
      expect(stemsOf(reply).map((a) => a.filename).sort()).toEqual(['bass.mp3', 'drums.mp3', 'other.mp3', 'vocals.mp3']);
      // The waveform picture comes first, beside the stems.
      expect(reply.attachments[0]?.filename).toBe('waveforms.png');
      for (const attachment of reply.attachments) expect(attachment.bytes.length).toBeLessThanOrEqual(10 * 1024 * 1024);
      const progress = reply.revisions.filter((r) => r.components.length > 0);
      expect(progress[0]?.content).toMatch(/Queued/);
      for (let i = 1; i < progress.length; i += 1) expect(progress[i]!.at - progress[i - 1]!.at).toBeGreaterThanOrEqual(2000);
    });

    it('with an uploaded file: the same, from the platform’s own file URL', async () => {
      const upload = fake.registerAttachment('my song.mp3', songBytes, 'audio/mpeg');
      const reply = await finalReply(separate({ file: upload, stems: 'karaoke' }));
      expect(stemsOf(reply).map((a) => a.filename).sort()).toEqual(['accompaniment.mp3', 'vocals.mp3']);
    });

    it('autocompletes models this server allows', async () => {
      const handle = fake.dispatchInteraction({ type: 'autocomplete', name: 'separate', focused: 'model', options: { model: 'ht' }, userId: BOB });
      await handle.waitFor((i) => i.autocompleteChoices !== undefined);
      expect(handle.autocompleteChoices).toEqual([{ name: 'htdemucs', value: 'htdemucs' }]);
    });

    it('refuses a bad link in one ephemeral sentence, never in the channel', async () => {
      const handle = separate({ link: 'https://vimeo.com/12345' });
      await handle.waitFor((i) => i.messages().some((m) => m.content.startsWith('Only YouTube links')));
      const message = handle.messages().find((m) => m.content.startsWith('Only YouTube links')) as StoredMessage;
      expect(message.flags & 64).toBe(64);
      expect(fake.channelMessages(GENERAL).some((m) => m.content.startsWith('Only YouTube links'))).toBe(false);
    });
  });

  describe('Discord uploads that go wrong mid-download', () => {
    const cancelButton = (message: StoredMessage) => JSON.stringify(message.components).match(/cancel:([0-9a-f-]{36})/)?.[1] as string;
    /** The look at the upload when it is submitted announces itself as `stembot (inspect)`; the worker's download does not. */
    const workerDownload = (attachmentId: string) => fake.downloads.find((d) => d.attachmentId === attachmentId && !d.userAgent.includes('inspect') && d.state === 'sending' && d.sent > 0);

    it('cancelled while the file is still downloading: ends cancelled and refunded, and the bot serves the next command', async () => {
      fake.throttleDownloads(40_000);
      const upload = fake.registerAttachment('slow song.mp3', songBytes, 'audio/mpeg');
      try {
        const handle = separate({ file: upload });
        const progress = (await handle.waitFor((i) => Boolean(i.original?.components.length))).original as StoredMessage;
        const requestId = cancelButton(progress);
        await fake.waitFor(() => workerDownload(upload.id));
        const owner = fake.dispatchInteraction({ type: 'component', customId: `cancel:${requestId}`, message: progress, userId: BOB });
        await owner.waitFor((i) => i.callbacks.length > 0);
        expect(fake.message(progress.id)?.content).toBe(`Cancelled by <@${BOB}>. Nothing was charged.`);
        // The worker lets go of the download instead of reading it to the end.
        await fake.waitFor(() => fake.downloads.find((d) => d.attachmentId === upload.id && !d.userAgent.includes('inspect') && d.state === 'cut'));
        const ledger = await harness.runtime.orm.em.fork().find(UsageEntry, { requestId });
        expect(ledger.map((row) => row.kind).sort()).toEqual(['refund', 'reserve']);
      } finally {
        fake.throttleDownloads(undefined);
      }
      const help = fake.dispatchInteraction({ type: 'command', name: 'help', userId: BOB });
      expect((await help.waitForReply()).content).toMatch(/^\*\*stembot\*\*/);
    });

    it('cut off by the file host mid-download: says so in one sentence and refunds, after retrying', async () => {
      fake.throttleDownloads(100_000);
      const upload = fake.registerAttachment('cut song.mp3', songBytes, 'audio/mpeg');
      const handle = separate({ file: upload });
      let requestId: string;
      try {
        requestId = cancelButton((await handle.waitFor((i) => Boolean(i.original?.components.length))).original as StoredMessage);
        fake.cutDownloadsAfter(1);
        const reply = await finalReply(handle);
        expect(reply.content).toBe('**cut song.mp3** could not be separated: The uploaded file could not be downloaded; try again later.');
      } finally {
        fake.cutDownloadsAfter(undefined);
        fake.throttleDownloads(undefined);
      }
      const ledger = await harness.runtime.orm.em.fork().find(UsageEntry, { requestId });
      expect(ledger.map((row) => row.kind).sort()).toEqual(['refund', 'reserve']);
      expect(fake.downloads.filter((d) => d.attachmentId === upload.id && !d.userAgent.includes('inspect') && d.state === 'cut').length).toBeGreaterThanOrEqual(2);
    });
  });

  describe('Discord cancel', () => {
    it('is refused to another member, works for the requester, and refunds the quota', async () => {
      const handle = separate({ link: LINK(LONG) });
      await handle.waitFor((i) => Boolean(i.original?.components.length));
      const progressMessage = handle.original as StoredMessage;
      const requestId = JSON.stringify(progressMessage.components).match(/cancel:([0-9a-f-]{36})/)?.[1] as string;

      const stranger = fake.dispatchInteraction({ type: 'component', customId: `cancel:${requestId}`, message: progressMessage, userId: CAROL });
      const refusal = await stranger.waitFor((i) => i.messages().length > 0);
      expect(refusal.messages()[0]?.content).toBe('Only the person who asked, or an admin, can cancel this.');
      expect((refusal.messages()[0]?.flags ?? 0) & 64).toBe(64);

      const owner = fake.dispatchInteraction({ type: 'component', customId: `cancel:${requestId}`, message: progressMessage, userId: BOB });
      await owner.waitFor((i) => i.callbacks.length > 0);
      expect(fake.message(progressMessage.id)?.content).toBe(`Cancelled by <@${BOB}>. Nothing was charged.`);
      const ledger = await harness.runtime.orm.em.fork().find(UsageEntry, { requestId });
      expect(ledger.map((row) => row.kind).sort()).toEqual(['refund', 'reserve']);
    });
  });

  describe('Discord /jobs and /quota', () => {
    it('pages 12 requests 5 at a time with Prev/Next', async () => {
      const requestIds: string[] = [];
      for (let i = 0; i < 12; i += 1) {
        const outcome = await harness.core.submit({ platform: 'discord', tenantId: GUILD, userId: CAROL, channelId: GENERAL, source: { kind: 'youtube', videoId: `page${String(i).padStart(7, '0')}` } });
        requestIds.push(outcome.requestId);
      }
      // Only the listing matters here: the twelve separations would hold up the tests after this one.
      onTestFinished(async () => {
        for (const requestId of requestIds) await harness.core.cancel(requestId, { userId: CAROL, isAdmin: false }).catch(() => undefined);
      });
      const list = fake.dispatchInteraction({ type: 'command', name: 'jobs', userId: CAROL });
      const first = await list.waitForReply();
      expect(first.content.split('\n').filter((line) => line.includes('**Local')).length).toBe(5);
      const next = fake.dispatchInteraction({ type: 'component', customId: 'jobs:1', message: first, userId: CAROL });
      await next.waitFor((i) => i.callbacks.length > 0);
      const last = fake.dispatchInteraction({ type: 'component', customId: 'jobs:2', message: first, userId: CAROL });
      await last.waitFor((i) => i.callbacks.length > 0);
      const page3 = fake.message(first.id) as StoredMessage;
      expect(page3.content).toMatch(/page 3/);
      expect(page3.content.split('\n').filter((line) => line.includes('**Local')).length).toBe(2);
    });

    it('lets an admin set a limit, and refuses a member without Manage Server even if the client shows the command', async () => {
      const admin = fake.dispatchInteraction({ type: 'command', name: 'quota-admin', subcommand: 'set', options: { limit: 'daily_minutes', value: '90' }, userId: ALICE });
      expect((await admin.waitForReply()).content).toMatch(/^Saved\.\n/);
      const member = fake.dispatchInteraction({ type: 'command', name: 'quota-admin', subcommand: 'set', options: { limit: 'daily_minutes', value: '9999' }, userId: BOB });
      await member.waitFor((i) => i.messages().some((m) => m.content.includes('Manage Server')));
      expect(member.messages().at(-1)?.content).toBe('Only members with the Manage Server permission can change this server’s limits.');
      const show = fake.dispatchInteraction({ type: 'command', name: 'quota', subcommand: 'show', userId: BOB });
      expect((await show.waitForReply()).content).toMatch(/of 1 h 30 min/);
    });
  });

  describe('Discord /status', () => {
    it('shows an admin the live worker, the queue and the last hour, and refuses a member without Manage Server', async () => {
      const admin = fake.dispatchInteraction({ type: 'command', name: 'status', userId: ALICE });
      const reply = await admin.waitForReply();
      expect(reply.flags & 64).toBe(64);
      // Earlier tests' separations may still be running or queued: the figures are checked for their shape.
      const [figures, workers, rest] = reply.content.split('```\n');
      expect(rest).toBeUndefined();
      expect(figures).toMatch(
        /^\*\*1 worker alive \(1 ready\), \d+ separations? running, \d+ jobs? waiting\.\*\*\nQueue: \d+ waiting, \d+ active\nLast hour: [1-9]\d* started, median wait \d[^;]* s; [1-9]\d* finished, median separation \d.* s\n$/,
      );
      expect(workers).toMatch(/^\S+ {2}cpu {2}ready {2}htdemucs {2}×\d+ {2}seen \d+ s ago\n```$/);
      const sent = fake.requests.find((r) => r.method === 'PATCH' && r.path.includes(admin.token) && JSON.stringify(r.json).includes('worker alive'));
      expect(sent?.json).toMatchObject({ allowed_mentions: { parse: [] } });

      const member = fake.dispatchInteraction({ type: 'command', name: 'status', userId: BOB });
      // Whatever comes first past "thinking…": the refusal, or the status itself if the guard let it through.
      const answered = (i: FakeInteraction) => i.messages().filter((m) => (m.flags & 128) === 0);
      await member.waitFor((i) => answered(i).length > 0);
      expect(answered(member).map((m) => m.content)).toEqual(['Only members with the Manage Server permission can see the bot’s status.']);
    });
  });

  describe('Discord under trouble', () => {
    it('retries an edit answered with 429 after the indicated time, and still delivers', async () => {
      const handle = separate({ link: LINK(SHORT), stems: 'vocals' });
      // After the first edit was answered: discord.js learns a route's bucket from an answer, and a
      // fresh client whose very first request is limited lets its next one skip the wait.
      await handle.waitFor((i) => Boolean(i.original?.components.length));
      fake.rateLimitNext({ method: 'PATCH', route: new RegExp(`/webhooks/\\d+/${handle.token}/messages/`), retryAfter: 1, count: 1 });
      const reply = await finalReply(handle);
      expect(stemsOf(reply).map((a) => a.filename).sort()).toEqual(['no_vocals.mp3', 'vocals.mp3']);
      const edits = fake.requests.filter((r) => r.method === 'PATCH' && r.path.includes(handle.token));
      const limited = edits.findIndex((r) => r.status === 429);
      expect(limited).toBeGreaterThanOrEqual(0);
      expect(edits[limited + 1]!.wallAt - edits[limited]!.wallAt).toBeGreaterThanOrEqual(1000);
    });

    it('reconnects after the gateway drops mid-job, delivers the job once, and hears later commands', async () => {
      const handle = separate({ link: LINK(MEDIUM) });
      await handle.waitFor((i) => Boolean(i.original?.components.length));
      fake.dropGateway({ mode: 'destroy' });
      const reply = await finalReply(handle);
      expect(stemsOf(reply)).toHaveLength(4);
      const deliveries = fake.requests.filter((r) => r.method === 'PATCH' && r.path.includes(handle.token) && r.files.length > 0);
      expect(deliveries).toHaveLength(1);
      const help = fake.dispatchInteraction({ type: 'command', name: 'help', userId: BOB });
      expect((await help.waitForReply()).content).toMatch(/^\*\*stembot\*\*/);
    });

    it('still delivers a result that finished while the bot was restarting, once', async () => {
      const handle = separate({ link: LINK(SHORT), format: 'flac' });
      await handle.waitFor((i) => Boolean(i.original?.components.length));
      const requestId = JSON.stringify(handle.original?.components).match(/cancel:([0-9a-f-]{36})/)?.[1] as string;
      await discord.stop();
      await waitForUpdate(harness.core, requestId, (update) => update.type === 'completed');
      expect(handle.original?.attachments).toHaveLength(0);
      discord = await startDiscordRole({ core: harness.core, settings, logger: harness.logger, knownModels: async () => ['htdemucs'], now: () => clock.now() });
      const reply = await finalReply(handle);
      expect(stemsOf(reply).map((a) => a.filename).sort()).toEqual(['bass.flac', 'drums.flac', 'other.flac', 'vocals.flac']);
      expect(fake.requests.filter((r) => r.method === 'PATCH' && r.path.includes(handle.token) && r.files.length > 0)).toHaveLength(1);
    });

    it('delivers a job that finished while the relay was stopped, once, when the relay is back', async () => {
      const handle = separate({ link: LINK(UNRELAYED) });
      await handle.waitFor((i) => Boolean(i.original?.components.length));
      await harness.stopRelay();
      const requestId = JSON.stringify(handle.original?.components).match(/cancel:([0-9a-f-]{36})/)?.[1] as string;
      const request = await harness.runtime.orm.em.fork().findOneOrFail(SeparationRequest, requestId);
      // A minute of audio takes seconds to separate: the job is still ahead when the relay goes.
      expect(['queued', 'running']).toContain(request.state);
      const queue = harness.runtime.queues.createQueue();
      try {
        while ((await queue.getJob(`separate-${request.separation?.id}`).then((job) => job?.getState())) !== 'completed') await new Promise((resolve) => setTimeout(resolve, 200));
      } finally {
        await queue.close();
      }
      await harness.startRelay();
      const reply = await finalReply(handle);
      expect(stemsOf(reply).map((a) => a.filename).sort()).toEqual(['bass.mp3', 'drums.mp3', 'other.mp3', 'vocals.mp3']);
      expect(fake.requests.filter((r) => r.method === 'PATCH' && r.path.includes(handle.token) && r.files.length > 0)).toHaveLength(1);
      const ledger = await harness.runtime.orm.em.fork().find(UsageEntry, { requestId });
      expect(ledger.map((row) => row.kind).sort()).toEqual(['commit', 'reserve']);
    });

    // The burst is the default deployment's; the others run a smaller one, as the suite files run
    // side by side on two cores with Slack's own burst, and the defer path is the same code.
    const inFlight = deployment === 'embedded' ? 200 : 50;
    it(`defers ${inFlight} commands in flight within Discord’s 3 s`, async () => {
      const handles = Array.from({ length: inFlight }, (_, i) => separate({ link: LINK('unknown0000') }, i % 2 ? BOB : CAROL));
      await Promise.all(handles.map((handle) => handle.waitFor((i) => i.callbacks.length > 0)));
      const latencies = handles.map((handle) => (handle.callbacks[0]?.at ?? Infinity) - handle.dispatchedAt).sort((a, b) => a - b);
      expect(fake.violations.filter((v) => v.kind === 'late-first-callback')).toEqual([]);
      console.log(`INTERACTION_CREATE -> defer callback over ${inFlight} in flight: p50 ${latencies[Math.floor(inFlight / 2) - 1]} ms, p99 ${latencies[Math.ceil(inFlight * 0.99) - 1]} ms, max ${latencies[inFlight - 1]} ms`);
    });
  });

  // Last: these move the fake's clock 14 minutes on, and discord.js reads Discord's clock from its replies.
  describe('Discord after the interaction token expires', () => {
    it('continues in a channel message posted with the bot’s own permissions', async () => {
      // A song nothing separated before: a cached one could finish before the clock moves.
      const handle = separate({ link: LINK(LATE), format: 'opus' });
      await handle.waitFor((i) => Boolean(i.original?.components.length));
      clock.advance(14 * 60_000 + 10_000);
      const posted = await new Promise<StoredMessage>((resolve) => {
        const poll = setInterval(() => {
          const message = fake.channelMessages(GENERAL).find((m) => stemsOf(m).length === 4 && stemsOf(m)[0]?.filename.endsWith('.opus') && m.content.includes(`<@${BOB}>`));
          if (message) {
            clearInterval(poll);
            resolve(message);
          }
        }, 200);
      });
      expect(posted.webhookId).toBeUndefined();
      // Sent with a nonce Discord enforces: a retry after a lost answer cannot post it twice.
      expect(posted.nonce).toMatch(/^[0-9a-f]{25}$/);
      expect(fake.violations.filter((v) => v.kind === 'expired-token')).toEqual([]);
    });

    it('says so in the last reply that still works when the channel does not allow the bot to attach files', async () => {
      const handle = separate({ link: LINK(SHORT), format: 'wav' }, BOB, LOCKED);
      await handle.waitFor((i) => Boolean(i.original?.components.length));
      clock.advance(14 * 60_000 + 10_000);
      const reply = await handle.waitFor((i) => Boolean(i.original?.content.includes("can't post them in this channel")));
      expect(reply.original?.content).toContain('Attach Files');
    });
  });
}
