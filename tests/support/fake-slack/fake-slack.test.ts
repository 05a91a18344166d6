import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, type Installation, type InstallationQuery, type InstallationStore, LogLevel } from '@slack/bolt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defaultWorld, FakeSlack, type StoredMessage } from './index.js';

const ACME = 'T0ACME';
const GLOBEX = 'T0GLOBEX';
const GENERAL = 'C0ACMEGEN';
const BOB = 'U0BOB';
const ALICE = 'U0ALICE';
const STEMS = ['vocals', 'drums', 'bass'].map((name, i) => ({ filename: `${name}.wav`, file: Buffer.alloc(1024 * (i + 1), i + 1) }));
const sharedFile = z.object({ files: z.array(z.object({ name: z.string(), url_private_download: z.string() })).min(1) });

/** The listeners both receivers run: what stembot's Slack adapter will do, in miniature. */
function registerListeners(app: App): void {
  app.command('/separate', async ({ ack, command, client }) => {
    await ack({ response_type: 'ephemeral', text: `Queued ${command.text}` });
    const posted = await client.chat.postMessage({ channel: command.channel_id, text: `Separating ${command.text}` });
    const ts = z.string().parse(posted.ts);
    await client.chat.update({ channel: command.channel_id, ts, text: `Separated ${command.text}` });
    await client.files.uploadV2({ channel_id: command.channel_id, thread_ts: ts, initial_comment: 'Stems', file_uploads: STEMS });
  });
  app.shortcut('separate_stems', async ({ ack, shortcut, context, respond }) => {
    await ack();
    if (shortcut.type !== 'message_action') return;
    const file = sharedFile.parse(shortcut.message).files[0];
    if (!file) return;
    const download = await fetch(file.url_private_download, { headers: { authorization: `Bearer ${context.botToken ?? ''}` } });
    const bytes = Buffer.from(await download.arrayBuffer());
    await respond({ response_type: 'ephemeral', text: `Got ${bytes.length} bytes of ${file.name}` });
  });
  app.action('cancel', async ({ ack, respond }) => {
    await ack();
    await respond({ replace_original: true, text: 'Cancelled' });
  });
  app.event('app_mention', async ({ event, say }) => {
    await say({ text: `On it: ${event.text}`, thread_ts: event.ts });
  });
  app.message(async ({ message, say }) => {
    if (message.subtype !== 'file_share' || message.channel_type !== 'im') return;
    await say(`Got ${sharedFile.parse(message).files.map((f) => f.name).join(', ')}`);
  });
  app.event('app_home_opened', async ({ event, client }) => {
    await client.views.publish({ user_id: event.user, view: { type: 'home', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `Hello <@${event.user}>` } }] } });
  });
}

/** The request's message, once the slash command's thread holds the three stems. */
async function waitForStems(fake: FakeSlack, text: string): Promise<{ parent: StoredMessage; stems: StoredMessage }> {
  return fake.waitFor(() => {
    const parent = fake.channelMessages(GENERAL).find((m) => m.text === `Separated ${text}`);
    const stems = parent && fake.threadReplies(GENERAL, parent.ts).find((m) => m.fileIds.length === 3);
    return parent && stems ? { parent, stems } : undefined;
  });
}

function expectStemsDelivered(fake: FakeSlack, parent: StoredMessage, stems: StoredMessage): void {
  expect(parent.revisions.map((r) => r.text)).toEqual([expect.stringMatching(/^Separating /), expect.stringMatching(/^Separated /)]);
  expect(stems.text).toBe('Stems');
  expect(stems.user).toBe(fake.team(ACME).bot.userId);
  const files = stems.fileIds.map((id) => fake.file(id));
  expect(files.map((f) => f?.name).sort()).toEqual(['bass.wav', 'drums.wav', 'vocals.wav']);
  for (const file of files) expect(file?.bytes).toEqual(STEMS.find((s) => s.filename === file?.name)?.file);
}

function silentApp(options: ConstructorParameters<typeof App>[0]): App {
  return new App({ logLevel: LogLevel.ERROR, ...options });
}

describe('Bolt in Socket Mode against the fake', () => {
  let fake: FakeSlack;
  let app: App;

  beforeAll(async () => {
    fake = await FakeSlack.start();
    app = silentApp({ token: fake.botToken(ACME), appToken: fake.appToken, socketMode: true, clientOptions: fake.clientOptions() });
    registerListeners(app);
    await app.start();
    await fake.waitForSocket();
  });

  afterAll(async () => {
    await app.stop();
    // stop() resolves before the close handshake is over.
    await fake.waitFor(() => !fake.socketConnected);
    await fake.close();
  });

  it('gets its socket URL from apps.connections.open with the app token', () => {
    const open = fake.callsTo('apps.connections.open');
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ token: fake.appToken, ok: true });
    expect(fake.socketStats.connections).toBe(1);
  });

  it('slash command: acked with a payload, then posted, updated and three stems uploaded into the thread', async () => {
    const delivery = fake.deliver(fake.payloads.slashCommand({ command: '/separate', text: 'https://youtu.be/abc', user: BOB, channel: GENERAL }));
    const ack = await delivery.waitForAck();
    expect(ack.payload).toEqual({ response_type: 'ephemeral', text: 'Queued https://youtu.be/abc' });
    expect(ack.latencyMs).toBeGreaterThanOrEqual(0);
    const { parent, stems } = await waitForStems(fake, 'https://youtu.be/abc');
    expectStemsDelivered(fake, parent, stems);
    expect(stems.threadTs).toBe(parent.ts);
    expect(fake.callsTo('files.getUploadURLExternal')).toHaveLength(3);
    const complete = fake.callsTo('files.completeUploadExternal');
    expect(complete).toHaveLength(1);
    expect(complete[0]?.args).toMatchObject({ channel_id: GENERAL, thread_ts: parent.ts });
    expect(fake.calls.every((c) => c.method === 'apps.connections.open' || c.teamId === ACME)).toBe(true);
    expect(fake.violations).toEqual([]);
  });

  it('message shortcut on a shared audio file: the app downloads it with its bot token and answers only the asker', async () => {
    const song = Buffer.alloc(4096, 7);
    const message = fake.postAsUser({ user: ALICE, channel: GENERAL, text: 'my song', files: [{ name: 'song.mp3', bytes: song }] });
    expect(message.subtype).toBe('file_share');
    await fake.deliver(fake.payloads.messageShortcut({ callbackId: 'separate_stems', user: BOB, message })).waitForAck();
    const ephemeral = await fake.waitFor(() => fake.ephemeralsFor(BOB).find((e) => e.text.startsWith('Got ')));
    expect(ephemeral).toMatchObject({ text: 'Got 4096 bytes of song.mp3', channel: GENERAL, via: 'response_url' });
    expect(fake.downloads.at(-1)).toMatchObject({ fileId: message.fileIds[0], teamId: ACME, status: 200, served: true });
    expect(fake.ephemeralsFor(ALICE)).toEqual([]);
  });

  it('private files need the right workspace bot token', async () => {
    const [file] = fake.postAsUser({ user: ALICE, channel: GENERAL, files: [{ name: 'a.wav', bytes: Buffer.alloc(10) }] }).fileIds;
    const url = `${fake.url}/files-pri/${ACME}-${file ?? ''}/download/a.wav`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: `Bearer ${fake.botToken(GLOBEX)}` } })).status).toBe(403);
    expect((await fetch(url, { headers: { authorization: `Bearer ${fake.botToken(ACME)}` } })).status).toBe(200);
  });

  it('block action: the button response replaces the message it was on', async () => {
    const posted = await app.client.chat.postMessage({ channel: GENERAL, text: 'Working…', blocks: [{ type: 'actions', elements: [{ type: 'button', action_id: 'cancel', text: { type: 'plain_text', text: 'Cancel' }, value: 'job-1' }] }] });
    const message = fake.message(GENERAL, z.string().parse(posted.ts));
    if (!message) throw new Error('posted message missing');
    await fake.deliver(fake.payloads.blockAction({ user: BOB, actionId: 'cancel', value: 'job-1', message })).waitForAck();
    await fake.waitFor(() => message.text === 'Cancelled');
    expect(fake.responsePosts.at(-1)).toMatchObject({ status: 200, body: { replace_original: true, text: 'Cancelled' } });
  });

  it('app_mention: the answer goes into the mention thread', async () => {
    const mention = fake.postAsUser({ user: BOB, channel: GENERAL, text: '<@U0ACMEBOT> https://youtu.be/xyz' });
    await fake.deliver(fake.payloads.appMention(mention)).waitForAck();
    const reply = await fake.waitFor(() => fake.threadReplies(GENERAL, mention.ts)[0]);
    expect(reply.text).toBe('On it: <@U0ACMEBOT> https://youtu.be/xyz');
  });

  it('an audio file shared in a DM arrives as a file_share message event', async () => {
    const dm = fake.postAsUser({ user: ALICE, channel: 'D0ACMEALICE', files: [{ name: 'demo.wav', bytes: Buffer.alloc(8) }] });
    await fake.deliver(fake.payloads.messageEvent(dm)).waitForAck();
    const reply = await fake.waitFor(() => fake.channelMessages('D0ACMEALICE').find((m) => m.user === 'U0ACMEBOT'));
    expect(reply.text).toBe('Got demo.wav');
  });

  it('app_home_opened: the app publishes the Home tab', async () => {
    await fake.deliver(fake.payloads.appHomeOpened(ALICE)).waitForAck();
    const view = await fake.waitFor(() => fake.homeView(ACME, ALICE));
    expect(view).toMatchObject({ type: 'home', blocks: [{ text: { text: `Hello <@${ALICE}>` } }] });
  });

  it('chat.update answered 429 with Retry-After: @slack/web-api retries after the delay', async () => {
    const since = fake.calls.length;
    fake.rateLimitNext({ method: 'chat.update', retryAfter: 1 });
    fake.deliver(fake.payloads.slashCommand({ command: '/separate', text: 'rate-limited', user: BOB, channel: GENERAL }));
    await waitForStems(fake, 'rate-limited');
    const updates = fake.callsTo('chat.update').filter((c) => c.seq > since);
    expect(updates.map((c) => c.status)).toEqual([429, 200]);
    const [limited, retry] = updates;
    expect((retry?.at ?? 0) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(1000);
  });

  it('a dropped socket: the client asks for a new URL and reconnects', async () => {
    fake.dropSocket('disconnect-message');
    await fake.waitFor(() => fake.socketStats.connections === 2 && fake.callsTo('apps.connections.open').length === 2);
    await fake.waitForSocket();
    const ack = await fake.deliver(fake.payloads.slashCommand({ command: '/separate', text: 'after-reconnect', user: BOB, channel: GENERAL })).waitForAck();
    expect(ack.envelopeId).toBeTruthy();
    await waitForStems(fake, 'after-reconnect');
  });

  it('answers Web API errors as Slack does', async () => {
    await expect(app.client.chat.postMessage({ channel: 'C0ACMERND', text: 'hi' })).rejects.toMatchObject({ data: { ok: false, error: 'not_in_channel' } });
    await expect(app.client.chat.update({ channel: GENERAL, ts: '1.000001', text: 'x' })).rejects.toMatchObject({ data: { error: 'message_not_found' } });
    await expect(app.client.users.info({ user: 'U0GINA' })).rejects.toMatchObject({ data: { error: 'user_not_found' } });
    await expect(app.client.auth.test({ token: 'xoxb-nope' })).rejects.toMatchObject({ data: { error: 'invalid_auth' } });
    const alice = await app.client.users.info({ user: ALICE });
    expect(alice.user).toMatchObject({ is_admin: true, is_owner: true });
    const bob = await app.client.users.info({ user: BOB });
    expect(bob.user).toMatchObject({ is_admin: false, is_owner: false });
    await app.client.views.publish({ user_id: BOB, view: { type: 'home', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'Quota' } }] } });
    expect(fake.homeView(ACME, BOB)).toMatchObject({ type: 'home', team_id: ACME });
  });
});

describe('Bolt with its HTTP receiver against the fake', () => {
  let fake: FakeSlack;
  let app: App;
  let endpoint: string;

  beforeAll(async () => {
    fake = await FakeSlack.start();
    app = silentApp({ token: fake.botToken(ACME), signingSecret: fake.signingSecret, clientOptions: fake.clientOptions() });
    registerListeners(app);
    const server = (await app.start(0)) as Server;
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  });

  afterAll(async () => {
    await app.stop();
    await fake.close();
  });

  it('answers the url_verification challenge', async () => {
    const response = await fake.sendSigned(endpoint, fake.payloads.urlVerification('c-123'));
    expect(response.status).toBe(200);
    expect(response.text).toContain('c-123');
  });

  it('slash command: the ack is the HTTP answer, then post, update and three stems in the thread', async () => {
    const response = await fake.sendSigned(endpoint, fake.payloads.slashCommand({ command: '/separate', text: 'over-http', user: BOB, channel: GENERAL }));
    expect(response.status).toBe(200);
    expect(response.json).toEqual({ response_type: 'ephemeral', text: 'Queued over-http' });
    expect(response.elapsedMs).toBeGreaterThan(0);
    const { parent, stems } = await waitForStems(fake, 'over-http');
    expectStemsDelivered(fake, parent, stems);
  });

  it('message shortcut, block action and app_mention arrive form-encoded and as JSON', async () => {
    const song = fake.postAsUser({ user: ALICE, channel: GENERAL, files: [{ name: 'song.flac', bytes: Buffer.alloc(99, 1) }] });
    expect((await fake.sendSigned(endpoint, fake.payloads.messageShortcut({ callbackId: 'separate_stems', user: ALICE, message: song }))).status).toBe(200);
    await fake.waitFor(() => fake.ephemeralsFor(ALICE).find((e) => e.text === 'Got 99 bytes of song.flac'));

    const posted = await app.client.chat.postMessage({ channel: GENERAL, text: 'Working…' });
    const message = fake.message(GENERAL, z.string().parse(posted.ts));
    if (!message) throw new Error('posted message missing');
    expect((await fake.sendSigned(endpoint, fake.payloads.blockAction({ user: BOB, actionId: 'cancel', value: 'job-2', message }))).status).toBe(200);
    await fake.waitFor(() => message.text === 'Cancelled');

    const mention = fake.postAsUser({ user: BOB, channel: GENERAL, text: '<@U0ACMEBOT> hi' });
    expect((await fake.sendSigned(endpoint, fake.payloads.appMention(mention))).status).toBe(200);
    await fake.waitFor(() => fake.threadReplies(GENERAL, mention.ts)[0]);
  });

  it('refuses a bad signature and a replayed (6-minute-old) request with 401, running no listener', async () => {
    const since = fake.calls.length;
    const command = () => fake.payloads.slashCommand({ command: '/separate', text: 'forged', user: BOB, channel: GENERAL });
    expect((await fake.sendSigned(endpoint, command(), { tamper: 'bad-signature' })).status).toBe(401);
    expect((await fake.sendSigned(endpoint, command(), { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 })).status).toBe(401);
    // A correctly signed request after them still works, and nothing ran for the refused ones.
    expect((await fake.sendSigned(endpoint, fake.payloads.urlVerification())).status).toBe(200);
    expect(fake.calls.slice(since).filter((c) => c.method === 'chat.postMessage')).toEqual([]);
  });
});

/** Installations in memory, keyed by workspace; the real store is PostgreSQL's. */
class RecordingInstallationStore implements InstallationStore {
  readonly stored = new Map<string, Installation>();

  async storeInstallation(installation: Installation): Promise<void> {
    this.stored.set(installation.team?.id ?? '', installation);
  }

  async fetchInstallation(query: InstallationQuery<boolean>): Promise<Installation> {
    const installation = this.stored.get(query.teamId ?? '');
    if (!installation) throw new Error(`no installation for ${query.teamId ?? '?'}`);
    return installation;
  }

  async deleteInstallation(query: InstallationQuery<boolean>): Promise<void> {
    this.stored.delete(query.teamId ?? '');
  }
}

describe('Bolt OAuth against the fake', () => {
  let fake: FakeSlack;
  let app: App;
  let base: string;
  const store = new RecordingInstallationStore();

  beforeAll(async () => {
    const world = defaultWorld();
    const globex = world.teams.find((t) => t.id === GLOBEX);
    if (globex) delete globex.bot.token; // not installed yet
    fake = await FakeSlack.start({ world });
    app = silentApp({
      signingSecret: fake.signingSecret,
      clientId: fake.oauth.config.clientId,
      clientSecret: fake.oauth.config.clientSecret,
      stateSecret: 'fake-state-secret',
      scopes: ['app_mentions:read', 'chat:write', 'commands', 'files:read', 'files:write', 'users:read'],
      installationStore: store,
      installerOptions: { authorizationUrl: fake.authorizeUrl, directInstall: true },
      clientOptions: fake.clientOptions(),
    });
    registerListeners(app);
    const server = (await app.start(0)) as Server;
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    fake.setRedirectUrl(`${base}/slack/oauth_redirect`);
  });

  afterAll(async () => {
    await app.stop();
    await fake.close();
  });

  it('install → authorize → redirect → oauth.v2.access → stored, and the workspace events use the new token', async () => {
    fake.approveNextInstallAs({ teamId: GLOBEX, userId: 'U0GINA' });
    const install = await fetch(`${base}/slack/install`, { redirect: 'manual' });
    expect(install.status).toBe(302);
    const authorizeUrl = install.headers.get('location') ?? '';
    expect(authorizeUrl.startsWith(fake.authorizeUrl)).toBe(true);
    const cookie = install.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');

    const authorize = await fetch(authorizeUrl, { redirect: 'manual' });
    expect(authorize.status).toBe(302);
    const callback = new URL(authorize.headers.get('location') ?? '');
    expect(callback.pathname).toBe('/slack/oauth_redirect');
    expect(callback.searchParams.get('code')).toBeTruthy();

    const done = await fetch(callback, { headers: { cookie }, redirect: 'manual' });
    expect(done.status).toBe(200);
    const token = fake.botToken(GLOBEX);
    expect(fake.installs).toEqual([expect.objectContaining({ teamId: GLOBEX, userId: 'U0GINA', botToken: token })]);
    expect(fake.callsTo('oauth.v2.access')).toEqual([expect.objectContaining({ ok: true })]);
    expect(store.stored.get(GLOBEX)).toMatchObject({ team: { id: GLOBEX }, appId: fake.appId, bot: { token, userId: 'U0GLOBEXBOT', id: 'B0GLOBEXBOT' } });

    const mention = fake.postAsUser({ user: 'U0GINA', channel: 'C0GLOBEXGEN', text: '<@U0GLOBEXBOT> hello' });
    expect((await fake.sendSigned(`${base}/slack/events`, fake.payloads.appMention(mention))).status).toBe(200);
    await fake.waitFor(() => fake.threadReplies('C0GLOBEXGEN', mention.ts)[0]);
    expect(fake.callsTo('chat.postMessage').at(-1)).toMatchObject({ teamId: GLOBEX, token, ok: true });
  });

  it('a used code is refused', async () => {
    const code = fake.callsTo('oauth.v2.access')[0]?.args.code;
    await expect(app.client.oauth.v2.access({ client_id: fake.oauth.config.clientId, client_secret: fake.oauth.config.clientSecret, code: String(code) })).rejects.toMatchObject({
      data: { error: 'invalid_code' },
    });
  });
});
