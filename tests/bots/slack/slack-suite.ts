/**
 * The Slack end-to-end suite: the real Bolt app (Socket Mode, and the HTTP receiver for signed
 * requests) against the fake Slack, with the real core, relay and worker. Each deployment a user can
 * choose runs it from its own test file (slack.<deployment>.test.ts); the embedded one runs every
 * case, the others the paths that cross the queue and the database (link and file to stems, cancel).
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startSlackRole, type SlackSettings } from '../../../bots/slack/slack-role.js';
import { SlackInstallation, UsageEntry } from '../../../core/db/entities/index.js';
import type { SourceFetcher } from '../../../core/sources.js';
import { locateFfmpeg } from '../../../worker/audio/ffmpeg.js';
import { AttachmentFetcher } from '../../../worker/fetch/attachment-fetcher.js';
import { defaultWorld, FakeSlack, type StoredMessage } from '../../support/fake-slack/index.js';
import { LocalVideoSource } from '../../support/local-sources.js';
import { makeSong, repeatSong, startHarness, waitForUpdate, type Deployment, type Harness } from '../../support/stembot-harness.js';
import { captureLogger, makeTempDir } from '../../support/services.js';

const ACME = 'T0ACME';
const GLOBEX = 'T0GLOBEX';
const GLOBEX_GENERAL = 'C0GLOBEXGEN';
const GINA = 'U0GINA';
const GENERAL = 'C0ACMEGEN';
const ALICE = 'U0ALICE'; // owner
const ADAM = 'U0ADAM'; // admin
const BOB = 'U0BOB'; // member
const CAROL = 'U0CAROL'; // member
const SHORT = 'shortsong01';
const LONG = 'longsong001';
const HOSTILE = 'hostile0001';
const HOSTILE_TITLE = '<!channel> *free* _stems_ <@U0ALICE> <https://evil.example|click> & more';
const LINK = (id: string) => `https://youtu.be/${id}`;
const MP3_STEMS = ['bass.mp3', 'drums.mp3', 'other.mp3', 'vocals.mp3'];

type Role = Awaited<ReturnType<typeof startSlackRole>>;

/** A video source whose one video has a title written to ping and restyle. */
function withHostileTitle(source: LocalVideoSource): SourceFetcher {
  return {
    inspect: async (request) => {
      const info = await source.inspect(request);
      return request.kind === 'youtube' && request.videoId === HOSTILE ? { ...info, title: HOSTILE_TITLE } : info;
    },
    open: (request, options) => source.open(request, options),
  };
}

export function slackEndToEnd(deployment: Deployment, options: { everything: boolean }): void {
  let fake: FakeSlack;
  let harness: Harness;
  let slack: Role;
  let socketStopped = false;
  let songBytes: Buffer;
  let songs: { dir: string; remove(): Promise<void> };

  beforeAll(async () => {
    const world = defaultWorld();
    world.users.push({ id: CAROL, teamId: ACME, name: 'carol' });
    world.conversations.find((c) => c.id === GENERAL)?.members.push(CAROL);
    fake = await FakeSlack.start({ world });
    songs = await makeTempDir('stembot-slack-songs-');
    const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
    const short = await makeSong(ffmpeg, path.join(songs.dir, 'short.mp3'), 8);
    // Two minutes (the short song, repeated): only ever cancelled, so its length costs nothing but must keep the worker busy.
    const videos: Record<string, string> = { [SHORT]: short, [HOSTILE]: short, [LONG]: await repeatSong(ffmpeg, short, 15, path.join(songs.dir, 'long.mp3')) };
    for (let i = 0; i < 7; i += 1) videos[`page${String(i).padStart(7, '0')}`] = short;
    songBytes = await readFile(short);
    harness = await startHarness({
      backend: deployment,
      env: { QUOTA_CONCURRENT_JOBS: '50', QUOTA_DAILY_MINUTES: '300', QUOTA_MAX_TRACK_MINUTES: '10' },
      fetchers: (ffprobe, tools) => ({
        youtube: withHostileTitle(new LocalVideoSource(ffprobe, videos)),
        attachment: new AttachmentFetcher({ tools, logger: captureLogger('silent').logger, slackBotToken: fake.botToken(ACME), extraHosts: { slack: [new URL(fake.url).host] } }),
      }),
    });
    slack = await startSlackRole({ core: harness.core, settings: socketSettings(), logger: harness.logger, knownModels: async () => ['htdemucs'] });
    await fake.waitForSocket();
  });

  afterAll(async () => {
    if (!socketStopped) await slack?.stop();
    await harness?.stop();
    await fake?.close();
    await songs?.remove();
  });

  const socketSettings = (): SlackSettings => ({ botToken: fake.botToken(ACME), appToken: fake.appToken, signingSecret: undefined, port: 0, apiUrl: fake.apiUrl, oauth: undefined });
  const command = (name: string, text: string, user = BOB) => fake.deliver(fake.payloads.slashCommand({ command: name, text, user, channel: GENERAL }));

  /** The bot's request message in `channel` (in `threadTs`'s thread, if given) once its thread holds stems or it says how it ended. */
  const finished = (channel: string, isOurs: (m: StoredMessage) => boolean, threadOf: (m: StoredMessage) => string) =>
    fake.waitFor(() => {
      const parent = fake.channelMessages(channel).find((m) => m.user === fake.team(ACME).bot.userId && isOurs(m));
      const stems = parent && fake.threadReplies(channel, threadOf(parent)).find((m) => m.fileIds.length > 0);
      if (parent && stems) return { parent, stems: stems.fileIds.map((id) => fake.file(id)?.name ?? '').filter((name) => name !== 'waveforms.png').sort() };
      if (parent && /could not be separated|Cancelled by/.test(parent.text)) return { parent, stems: [] };
      return undefined;
    });
  const progressMessage = (predicate: (m: StoredMessage) => boolean) =>
    fake.waitFor(() => fake.channelMessages(GENERAL).find((m) => m.user === fake.team(ACME).bot.userId && predicate(m) && JSON.stringify(m.blocks ?? []).includes('stembot_cancel')));
  /** Messages in the request's thread carrying files, and the files.completeUploadExternal calls that aimed at it. */
  const uploadsInto = (parent: StoredMessage) => ({
    messages: fake.threadReplies(GENERAL, parent.ts).filter((m) => m.fileIds.length > 0),
    calls: fake.callsTo('files.completeUploadExternal').filter((c) => c.args.thread_ts === parent.ts),
  });
  const deliveryOf = async (requestId: string) =>
    (await harness.runtime.orm.em.fork().execute<{ state: string; attempts: number }[]>('select state, attempts from delivery where request_id = ?', [requestId]))[0];
  const settle = async (requestId: string) => {
    while ((await deliveryOf(requestId))?.state !== 'done') await new Promise((resolve) => setTimeout(resolve, 100));
  };
  const requestIdOf = (message: StoredMessage) => JSON.stringify(message.blocks).match(/"value":"([0-9a-f-]{36})"/)?.[1] as string;

  describe(`Slack on ${deployment}`, () => {
    it('/separate <link>: acked in time, progress updated in place at most once a second, stems in the message’s thread', async () => {
      const since = fake.calls.length;
      const ack = await command('/separate', LINK(SHORT)).waitForAck();
      expect(ack.latencyMs).toBeLessThan(3000);
      const { parent, stems } = await finished(GENERAL, (m) => m.revisions[0]?.text.startsWith(`Local ${SHORT}`) ?? false, (m) => m.ts);
      expect(stems).toEqual(MP3_STEMS);
      expect(parent.text).toMatch(/is separated/);
      expect(JSON.stringify(parent.revisions[0]?.blocks)).toContain('Cancel');
      const updates = fake.callsTo('chat.update').filter((c) => c.seq > since && c.args.ts === parent.ts);
      for (let i = 1; i < updates.length; i += 1) expect(updates[i]!.at - updates[i - 1]!.at).toBeGreaterThanOrEqual(1000);
      expect(fake.callsTo('files.completeUploadExternal').at(-1)?.args).toMatchObject({ channel_id: GENERAL, thread_ts: parent.ts });
      expect(fake.violations).toEqual([]);
    });

    it('message shortcut on a shared audio file: downloaded with the bot token, stems in that message’s thread', async () => {
      const shared = fake.postAsUser({ user: ALICE, channel: GENERAL, text: 'my demo', files: [{ name: 'demo song.mp3', bytes: songBytes }] });
      await fake.deliver(fake.payloads.messageShortcut({ callbackId: 'separate_stems', user: BOB, message: shared })).waitForAck();
      const reply = await fake.waitFor(() => {
        const thread = fake.threadReplies(GENERAL, shared.ts);
        return thread.some((m) => m.fileIds.length > 0) ? thread : undefined;
      });
      expect(reply.find((m) => m.fileIds.length > 0)?.fileIds.map((id) => fake.file(id)?.name).filter((name) => name !== 'waveforms.png').sort()).toEqual(MP3_STEMS);
      expect(reply[0]?.text).toMatch(/demo song\.mp3.* is separated/);
      expect(fake.downloads.filter((d) => d.fileId === shared.fileIds[0]).every((d) => d.teamId === ACME && d.served)).toBe(true);
    });

    it('Cancel: refused to another member, works for the requester, and refunds the quota', async () => {
      command('/separate', LINK(LONG));
      const progress = await progressMessage((m) => m.text.includes(LONG));
      const requestId = requestIdOf(progress);
      await fake.deliver(fake.payloads.blockAction({ user: CAROL, actionId: 'stembot_cancel', value: requestId, message: progress })).waitForAck();
      const refusal = await fake.waitFor(() => fake.ephemeralsFor(CAROL).find((e) => e.text.includes('Only the person who asked')));
      expect(refusal.text).toBe('Only the person who asked, or an admin, can cancel this.');
      await fake.deliver(fake.payloads.blockAction({ user: BOB, actionId: 'stembot_cancel', value: requestId, message: progress })).waitForAck();
      await fake.waitFor(() => fake.message(GENERAL, progress.ts)?.text === `Cancelled by <@${BOB}>. Nothing was charged.`);
      const ledger = await harness.runtime.orm.em.fork().find(UsageEntry, { requestId });
      expect(ledger.map((row) => row.kind).sort()).toEqual(['refund', 'reserve']);
    });

    it('a bot restarted mid-job delivers once: the stems appear in the thread exactly once', async () => {
      await command('/separate', `${LINK(SHORT)} wav`).waitForAck();
      const progress = await progressMessage((m) => m.text.includes(SHORT) && !m.text.includes('is separated') && uploadsInto(m).messages.length === 0);
      const requestId = requestIdOf(progress);
      const completed = waitForUpdate(harness.core, requestId, (update) => update.type === 'completed');
      await slack.stop();
      if ((await harness.core.status(requestId)).state !== 'completed') await completed;
      // Finished while no bot ran: nothing was posted, the result waits in the outbox.
      expect(uploadsInto(progress).messages).toEqual([]);
      expect((await deliveryOf(requestId))?.state).toBe('pending');
      slack = await startSlackRole({ core: harness.core, settings: socketSettings(), logger: harness.logger, knownModels: async () => ['htdemucs'] });
      await fake.waitForSocket();
      const { stems } = await finished(GENERAL, (m) => m.ts === progress.ts, (m) => m.ts);
      expect(stems).toEqual(['bass.wav', 'drums.wav', 'other.wav', 'vocals.wav']);
      await settle(requestId);
      const uploads = uploadsInto(progress);
      expect(uploads.messages).toHaveLength(1);
      expect(uploads.calls).toHaveLength(1);
      expect(fake.message(GENERAL, progress.ts)?.text).toMatch(/is separated/);
    });

    it('/stembot status: the live worker, the queue and the last hour for a workspace admin, refused to a member', async () => {
      const seenBy = (user: string) => fake.ephemeralsFor(user).length;
      const [adamBefore, bobBefore] = [seenBy(ADAM), seenBy(BOB)];
      await command('/stembot', 'status', ADAM).waitForAck();
      const shown = await fake.waitFor(() => fake.ephemeralsFor(ADAM).slice(adamBefore)[0]);
      expect(shown.channel).toBe(GENERAL);
      // Earlier tests' separations may still be running or queued: the figures are checked for their shape.
      const [figures, workers, rest] = shown.text.split('```');
      expect(rest).toBe('');
      expect(figures).toMatch(
        /^\*1 worker alive \(1 ready\), \d+ separations? running, \d+ jobs? waiting\.\*\nQueue: \d+ waiting, \d+ active\nLast hour: [1-9]\d* started, median wait \d[^;]* s; [1-9]\d* finished, median separation \d.* s\n$/,
      );
      expect(workers).toMatch(/^\S+ {2}cpu {2}ready {2}htdemucs {2}×\d+ {2}seen \d+ s ago$/);

      await command('/stembot', 'status', BOB).waitForAck();
      const refusal = await fake.waitFor(() => fake.ephemeralsFor(BOB).slice(bobBefore)[0]);
      expect(refusal.text).toBe('Only workspace admins and owners can see the bot’s status.');
    });

    if (!options.everything) return;

    it('a poster that lost the answer after its upload went through does not upload the stems again', async () => {
      // files.completeUploadExternal shares the stems into the thread, then answers 500: the
      // delivery fails and is retried, and the retry must find the stems already there.
      fake.loseAnswerNext({ method: 'files.completeUploadExternal', teamId: ACME });
      await command('/separate', `${LINK(SHORT)} opus`).waitForAck();
      const progress = await progressMessage((m) => m.text.includes(SHORT) && !m.text.includes('is separated') && uploadsInto(m).messages.length === 0);
      const requestId = requestIdOf(progress);
      await settle(requestId);
      const uploads = uploadsInto(progress);
      // The Web API client's own retry of the lost call is refused (the files are already shared).
      expect(uploads.calls[0]?.status).toBe(500);
      expect(uploads.calls.slice(1).map((c) => c.error)).toEqual(uploads.calls.slice(1).map(() => 'file_not_found'));
      expect(uploads.messages).toHaveLength(1);
      expect(uploads.messages[0]?.fileIds.map((id) => fake.file(id)?.name).filter((name) => name !== 'waveforms.png').sort()).toEqual(['bass.opus', 'drums.opus', 'other.opus', 'vocals.opus']);
      expect((await deliveryOf(requestId))?.attempts).toBe(2);
      // The retry read the thread, and uploaded nothing more: no new upload URL after it.
      const check = fake.callsTo('conversations.replies').find((c) => c.args.ts === progress.ts && c.ok);
      expect(check).toBeDefined();
      expect(fake.callsTo('files.getUploadURLExternal').filter((c) => c.seq > (check?.seq ?? 0) && c.teamId === ACME)).toEqual([]);
    });

    it('acks 100 commands in flight within Slack’s 3 s', async () => {
      const answered = () => fake.ephemeralsFor(BOB).length + fake.ephemeralsFor(CAROL).length;
      const before = answered();
      const sent = Array.from({ length: 100 }, (_, i) => command('/separate', LINK('unknown0000'), i % 2 ? BOB : CAROL));
      const acks = await Promise.all(sent.map((s) => s.waitForAck()));
      const latencies = acks.map((ack) => ack.latencyMs).sort((a, b) => a - b);
      expect(fake.violations.filter((v) => v.kind === 'late-ack')).toEqual([]);
      expect(latencies.at(-1)).toBeLessThan(3000);
      console.log(
        `Socket Mode envelope -> ack over 100 /separate in flight: p50 ${latencies[49]?.toFixed(0)} ms, p99 ${latencies[98]?.toFixed(0)} ms, max ${latencies[99]?.toFixed(0)} ms`,
      );
      // Each one is then answered (the video does not exist), to the asker only.
      await fake.waitFor(() => answered() >= before + 100);
    });

    it('a refusal is shown only to the asker, never in the channel', async () => {
      const before = fake.channelMessages(GENERAL).length;
      await command('/separate', 'https://vimeo.com/12345').waitForAck();
      const refusal = await fake.waitFor(() => fake.ephemeralsFor(BOB).find((e) => e.text.startsWith('Only YouTube links')));
      expect(refusal.channel).toBe(GENERAL);
      expect(fake.ephemeralsFor(ALICE)).toEqual([]);
      expect(fake.channelMessages(GENERAL)).toHaveLength(before);
    });

    it('a title written to ping and restyle is shown inert', async () => {
      await command('/separate', `${LINK(HOSTILE)} vocals`).waitForAck();
      const { parent, stems } = await finished(GENERAL, (m) => m.text.includes('channel'), (m) => m.ts);
      expect(stems).toEqual(['no_vocals.mp3', 'vocals.mp3']);
      const shown = JSON.stringify(parent.revisions.map((r) => [r.text, r.blocks]));
      for (const live of ['<!channel>', '<@U0ALICE>', '<https://evil.example', '*free*', '_stems_']) expect(shown).not.toContain(live);
      expect(parent.text).toContain('&lt;!channel&gt;');
      expect(parent.text).toContain('&lt;@U0ALICE&gt;');
      expect(parent.text).toContain('&amp; more');
    });

    it('honours a 429 on chat.update: retried after Retry-After, and the stems still arrive', async () => {
      const since = fake.calls.length;
      const earlier = new Set(fake.channelMessages(GENERAL).map((m) => m.ts));
      fake.rateLimitNext({ method: 'chat.update', retryAfter: 1 });
      await command('/separate', `${LINK(SHORT)} karaoke flac`).waitForAck();
      const { stems } = await finished(GENERAL, (m) => !earlier.has(m.ts) && m.text.includes(SHORT), (m) => m.ts);
      expect(stems).toEqual(['accompaniment.flac', 'vocals.flac']);
      const updates = fake.callsTo('chat.update').filter((c) => c.seq > since);
      const limited = updates.findIndex((c) => c.status === 429);
      expect(limited).toBeGreaterThanOrEqual(0);
      expect(updates[limited + 1]!.at - updates[limited]!.at).toBeGreaterThanOrEqual(1000);
    });

    it('/stembot jobs pages 5 at a time with Prev/Next buttons', async () => {
      const requestIds: string[] = [];
      for (let i = 0; i < 7; i += 1) {
        const outcome = await harness.core.submit({ platform: 'slack', tenantId: ACME, userId: CAROL, channelId: GENERAL, source: { kind: 'youtube', videoId: `page${String(i).padStart(7, '0')}` } });
        requestIds.push(outcome.requestId);
      }
      onTestFinished(async () => {
        for (const requestId of requestIds) await harness.core.cancel(requestId, { userId: CAROL, isAdmin: false }).catch(() => undefined);
      });
      await command('/stembot', 'jobs', CAROL).waitForAck();
      const first = await fake.waitFor(() => fake.ephemeralsFor(CAROL).find((e) => e.text.includes('page 1')));
      const lines = (e: { blocks?: unknown[] }) => JSON.stringify(e.blocks).split('\\n').filter((line) => line.includes('*Local page')).length;
      expect(lines(first)).toBe(5);
      expect(JSON.stringify(first.blocks)).not.toContain('"Prev"');
      // The ephemeral page as the message its buttons are on.
      const onPage: StoredMessage = { teamId: ACME, channel: GENERAL, ts: first.ts, user: fake.team(ACME).bot.userId, text: first.text, blocks: first.blocks, fileIds: [], via: 'response_url', deleted: false, revisions: [] };
      await fake.deliver(fake.payloads.blockAction({ user: CAROL, actionId: 'stembot_jobs_page_next', value: '1', message: onPage })).waitForAck();
      const second = await fake.waitFor(() => fake.ephemeralsFor(CAROL).find((e) => e.text.includes('page 2')));
      expect(lines(second)).toBe(2);
      expect(JSON.stringify(second.blocks)).toContain('"Prev"');
      expect(JSON.stringify(second.blocks)).not.toContain('"Next"');
    });

    it('/stembot quota set: saved for a workspace admin, refused to a member', async () => {
      const bobBefore = fake.ephemeralsFor(BOB).length;
      await command('/stembot', 'quota set daily_minutes 9999', BOB).waitForAck();
      const refusal = await fake.waitFor(() => fake.ephemeralsFor(BOB).slice(bobBefore).find((e) => e.text.includes('workspace admins')));
      expect(refusal.text).toBe('Only workspace admins and owners can change this workspace’s limits.');
      await command('/stembot', 'quota set daily_minutes 90', ALICE).waitForAck();
      const saved = await fake.waitFor(() => fake.ephemeralsFor(ALICE).find((e) => e.text.startsWith('Saved.')));
      expect(saved.text).toMatch(/of 1 h 30 min/);
      expect((await harness.core.quota.show({ platform: 'slack', externalId: ACME })).limits.dailySeconds).toBe(90 * 60);
    });

    it('App Home shows the workspace’s quota, what is left today, and the user’s recent requests', async () => {
      await fake.deliver(fake.payloads.appHomeOpened(BOB)).waitForAck();
      const home = JSON.stringify(await fake.waitFor(() => fake.homeView(ACME, BOB)));
      expect(home).toMatch(/left today/);
      expect(home).toContain(`Local ${SHORT}`);
    });

    it('@stembot <link> and an audio file in a DM end in stems too', async () => {
      const mention = fake.postAsUser({ user: BOB, channel: GENERAL, text: `<@${fake.team(ACME).bot.userId}> ${LINK(SHORT)} drums` });
      await fake.deliver(fake.payloads.appMention(mention)).waitForAck();
      const inThread = await fake.waitFor(() => fake.threadReplies(GENERAL, mention.ts).find((m) => m.fileIds.length > 0));
      expect(inThread.fileIds.map((id) => fake.file(id)?.name).filter((name) => name !== 'waveforms.png').sort()).toEqual(['drums.mp3', 'no_drums.mp3']);
      const dm = fake.postAsUser({ user: ALICE, channel: 'D0ACMEALICE', files: [{ name: 'dm song.mp3', bytes: songBytes }] });
      await fake.deliver(fake.payloads.messageEvent(dm)).waitForAck();
      const stems = await fake.waitFor(() => fake.threadReplies('D0ACMEALICE', dm.ts).find((m) => m.fileIds.length > 0));
      expect(stems.fileIds.map((id) => fake.file(id)?.name).filter((name) => name !== 'waveforms.png').sort()).toEqual(MP3_STEMS);
    });

    describe('with OAuth installs', () => {
      let oauth: Role;
      beforeAll(async () => {
        // One process runs one Slack role: the single-workspace one, sharing this core's outbox,
        // would otherwise take Globex's deliveries and fail them with Acme's token.
        await slack.stop();
        socketStopped = true;
        // Globex has not installed the app yet: its token comes from the install below.
        const globex = fake.team(GLOBEX);
        delete globex.bot.token;
        const settings: SlackSettings = {
          botToken: undefined,
          appToken: undefined,
          signingSecret: fake.signingSecret,
          port: 0,
          apiUrl: fake.apiUrl,
          oauth: { clientId: fake.oauth.config.clientId, clientSecret: fake.oauth.config.clientSecret, stateSecret: 'test-state-secret', tokenKey: randomBytes(32), redirectUri: undefined, redirectPath: '/slack/oauth_redirect' },
        };
        oauth = await startSlackRole({ core: harness.core, settings, logger: harness.logger, knownModels: async () => ['htdemucs'], orm: harness.runtime.orm, authorizationUrl: fake.authorizeUrl });
        fake.setRedirectUrl(`${oauth.url ?? ''}/slack/oauth_redirect`);
      });
      afterAll(async () => {
        await oauth?.stop();
      });

      it('an install is stored, and that workspace’s commands and results use its own token', async () => {
        fake.approveNextInstallAs({ teamId: GLOBEX, userId: GINA });
        const install = await fetch(`${oauth.url ?? ''}/slack/install`, { redirect: 'manual' });
        const cookie = install.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
        const authorize = await fetch(install.headers.get('location') ?? '', { redirect: 'manual' });
        expect((await fetch(authorize.headers.get('location') ?? '', { headers: { cookie }, redirect: 'manual' })).status).toBe(200);
        const token = fake.botToken(GLOBEX);
        const stored = await harness.runtime.orm.em.fork().findOneOrFail(SlackInstallation, { teamId: GLOBEX });
        expect(stored.botToken).not.toContain(token);

        const endpoint = `${oauth.url ?? ''}/slack/events`;
        const inbound = fake.payloads.slashCommand({ command: '/separate', text: LINK(SHORT), user: GINA, channel: GLOBEX_GENERAL });
        expect((await fake.sendSigned(endpoint, inbound)).status).toBe(200);
        const stems = await fake.waitFor(() => fake.channelMessages(GLOBEX_GENERAL).find((m) => m.fileIds.length > 0));
        expect(stems.fileIds.map((id) => fake.file(id)?.name).filter((name) => name !== 'waveforms.png').sort()).toEqual(MP3_STEMS);
        const globexCalls = fake.calls.filter((c) => c.teamId === GLOBEX);
        expect(globexCalls.map((c) => c.method)).toEqual(expect.arrayContaining(['chat.postMessage', 'chat.update', 'files.completeUploadExternal']));
        expect(globexCalls.every((c) => c.token === token)).toBe(true);
      });
    });

    describe('over the HTTP receiver', () => {
      let http: Role;
      beforeAll(async () => {
        const settings: SlackSettings = { botToken: fake.botToken(ACME), appToken: undefined, signingSecret: fake.signingSecret, port: 0, apiUrl: fake.apiUrl, oauth: undefined };
        http = await startSlackRole({ core: harness.core, settings, logger: harness.logger, knownModels: async () => ['htdemucs'] });
      });
      afterAll(async () => {
        await http?.stop();
      });

      it('refuses a bad signature and a replayed (6-minute-old) request, and answers a signed one', async () => {
        const endpoint = `${http.url ?? ''}/slack/events`;
        const since = fake.calls.length;
        const forged = () => fake.payloads.slashCommand({ command: '/separate', text: LINK(SHORT), user: BOB, channel: GENERAL });
        expect((await fake.sendSigned(endpoint, forged(), { tamper: 'bad-signature' })).status).toBe(401);
        expect((await fake.sendSigned(endpoint, forged(), { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 })).status).toBe(401);
        expect(fake.calls.slice(since).filter((c) => c.method === 'chat.postMessage')).toEqual([]);
        expect((await fake.sendSigned(endpoint, fake.payloads.slashCommand({ command: '/stembot', text: 'help', user: BOB, channel: GENERAL }))).status).toBe(200);
        await fake.waitFor(() => fake.ephemeralsFor(BOB).find((e) => e.text.startsWith('*stembot* splits songs')));
      });
    });
  });
}
