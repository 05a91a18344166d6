/**
 * Files shared in a workspace that installed stembot through OAuth: there is no SLACK_BOT_TOKEN, so
 * the worker downloads each file with its own workspace's token from the installation store; and
 * that workspace uninstalling the app removes its installation.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slackFileTokens, type SlackFileToken } from '../../../bots/slack/file-tokens.js';
import { startSlackRole, type SlackSettings } from '../../../bots/slack/slack-role.js';
import { SlackInstallation } from '../../../core/db/entities/index.js';
import { locateFfmpeg } from '../../../worker/audio/ffmpeg.js';
import { AttachmentFetcher } from '../../../worker/fetch/attachment-fetcher.js';
import { FakeSlack } from '../../support/fake-slack/index.js';
import { LocalVideoSource } from '../../support/local-sources.js';
import { makeSong, startHarness, type Harness } from '../../support/stembot-harness.js';
import { captureLogger, makeTempDir } from '../../support/services.js';

const GLOBEX = 'T0GLOBEX';
const GLOBEX_GENERAL = 'C0GLOBEXGEN';
const GINA = 'U0GINA';
const MP3_STEMS = ['bass.mp3', 'drums.mp3', 'other.mp3', 'vocals.mp3'];

describe('Slack OAuth installs: files and uninstalls', () => {
  let fake: FakeSlack;
  let harness: Harness;
  let slack: Awaited<ReturnType<typeof startSlackRole>>;
  let songs: { dir: string; remove(): Promise<void> };
  let songBytes: Buffer;
  let settings: SlackSettings;
  let fileToken: SlackFileToken | undefined;
  let endpoint: string;

  beforeAll(async () => {
    fake = await FakeSlack.start();
    songs = await makeTempDir('stembot-slack-oauth-files-');
    const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
    songBytes = await readFile(await makeSong(ffmpeg, path.join(songs.dir, 'short.mp3'), 8));
    // Globex installs below; until then it has no token.
    delete fake.team(GLOBEX).bot.token;
    settings = {
      botToken: undefined,
      appToken: undefined,
      signingSecret: fake.signingSecret,
      port: 0,
      apiUrl: fake.apiUrl,
      oauth: { clientId: fake.oauth.config.clientId, clientSecret: fake.oauth.config.clientSecret, stateSecret: 'test-state-secret', tokenKey: randomBytes(32), redirectUri: undefined, redirectPath: '/slack/oauth_redirect' },
    };
    harness = await startHarness({
      backend: 'embedded',
      env: { QUOTA_CONCURRENT_JOBS: '10', QUOTA_DAILY_MINUTES: '60' },
      fetchers: (ffprobe, tools) => ({
        youtube: new LocalVideoSource(ffprobe, {}),
        // As stembot-roles.ts wires it; the database exists only once the harness has opened it.
        attachment: new AttachmentFetcher({
          tools,
          logger: captureLogger('silent').logger,
          slackToken: (teamId) => (fileToken ? fileToken(teamId) : Promise.reject(new Error('not wired yet'))),
          extraHosts: { slack: [new URL(fake.url).host] },
        }),
      }),
    });
    fileToken = slackFileTokens({ settings, orm: harness.runtime.orm, logger: harness.logger });
    slack = await startSlackRole({ core: harness.core, settings, logger: harness.logger, knownModels: async () => ['htdemucs'], orm: harness.runtime.orm, authorizationUrl: fake.authorizeUrl });
    fake.setRedirectUrl(`${slack.url ?? ''}/slack/oauth_redirect`);
    endpoint = `${slack.url ?? ''}/slack/events`;

    fake.approveNextInstallAs({ teamId: GLOBEX, userId: GINA });
    const install = await fetch(`${slack.url ?? ''}/slack/install`, { redirect: 'manual' });
    const cookie = install.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const authorize = await fetch(install.headers.get('location') ?? '', { redirect: 'manual' });
    expect((await fetch(authorize.headers.get('location') ?? '', { headers: { cookie }, redirect: 'manual' })).status).toBe(200);
  });

  afterAll(async () => {
    await slack?.stop();
    await harness?.stop();
    await fake?.close();
    await songs?.remove();
  });

  const installationRow = () => harness.runtime.orm.em.fork().findOne(SlackInstallation, { teamId: GLOBEX });

  it('a shared audio file is downloaded with that workspace’s own token, and its stems land in the thread', async () => {
    const token = fake.botToken(GLOBEX);
    const shared = fake.postAsUser({ user: GINA, channel: GLOBEX_GENERAL, text: 'my demo', files: [{ name: 'demo.mp3', bytes: songBytes }] });
    const fileId = shared.fileIds[0] ?? '';
    expect((await fake.sendSigned(endpoint, fake.payloads.messageShortcut({ callbackId: 'separate_stems', user: GINA, message: shared }))).status).toBe(200);
    const outcome = await fake.waitFor(() => {
      const stems = fake.threadReplies(GLOBEX_GENERAL, shared.ts).find((m) => m.fileIds.length > 0);
      if (stems) return { stems: stems.fileIds.map((id) => fake.file(id)?.name ?? '').filter((name) => name !== 'waveforms.png').sort(), refusal: undefined };
      const refusal = fake.ephemeralsFor(GINA).at(-1) ?? fake.responsePosts.at(-1);
      if (refusal) return { stems: [], refusal: JSON.stringify(refusal) };
      const failed = fake.threadReplies(GLOBEX_GENERAL, shared.ts).find((m) => /could not be separated|no longer available/.test(m.text));
      return failed && { stems: [], refusal: failed.text };
    });
    expect(outcome).toEqual({ stems: MP3_STEMS, refusal: undefined });
    const downloads = fake.downloads.filter((d) => d.fileId === fileId);
    // The look at submit and the worker's download, both with Globex's token.
    expect(downloads.length).toBeGreaterThanOrEqual(2);
    expect(downloads.every((d) => d.served && d.teamId === GLOBEX)).toBe(true);
    const globexCalls = fake.calls.filter((c) => c.teamId === GLOBEX);
    expect(globexCalls.every((c) => c.token === token)).toBe(true);
    // On the embedded default the queue events keep flowing through an install: the relay's reader
    // once broke on it and every result waited for the reconciler's minute tick.
    expect(harness.logLines().filter((line) => line.msg === 'queue events connection error')).toEqual([]);
    expect(fake.violations).toEqual([]);
  });

  it('app_uninstalled removes the workspace’s installation, and a later download says to reinstall', async () => {
    expect(await installationRow()).not.toBeNull();
    expect((await fake.sendSigned(endpoint, fake.payloads.eventCallback(GLOBEX, { type: 'app_uninstalled', event_ts: `${Date.now() / 1000}` }))).status).toBe(200);
    for (let i = 0; i < 100 && (await installationRow()) !== null; i += 1) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await installationRow()).toBeNull();
    await expect(fileToken?.(GLOBEX)).rejects.toMatchObject({ code: 'attachment_gone', message: expect.stringMatching(/installation of stembot is gone; reinstall it/) });
  });
});
