/**
 * Operations end to end: a worker that starts with no model fetches it from the model host (a
 * local stand-in named by MODEL_REGISTRY_URL) while /readyz and /separate say what is going on,
 * then serves; /metrics moves with a real job. The real discord.js client talks to the fake
 * Discord; core, relay, worker and web role are the real ones. One file per deployment.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDiscordRole } from '../../bots/discord/discord-role.js';
import { registerDiscordCommands } from '../../bots/discord/register-commands.js';
import { SeparationRequest, UsageEntry } from '../../core/db/entities/index.js';
import type { RoleHandle } from '../../core/queue/relay-role.js';
import { startWebRole, type WebRole } from '../../core/web/web-role.js';
import { locateFfmpeg } from '../../worker/audio/ffmpeg.js';
import { HTDEMUCS_SEGMENT } from '../../worker/engine/registry.js';
import { FakeDiscord, TestClock, defaultGuild, type FakeInteraction, type StoredMessage } from '../support/fake-discord/index.js';
import { LocalVideoSource } from '../support/local-sources.js';
import { ModelHost } from '../support/model-host.js';
import { writeModel } from '../support/onnx-models.js';
import { makeSong, startHarness, type Deployment, type Harness } from '../support/stembot-harness.js';
import { makeTempDir } from '../support/services.js';

const GUILD = '1100000000000000001';
const GENERAL = '1100000000000000010';
const BOB = '1100000000000000101';
const SONG = 'opssong0001';

/** One sample's value from a Prometheus text scrape; 0 when the series is absent. */
function sample(scrape: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of scrape.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[2] ?? '').split(',').filter(Boolean);
    if (wanted.every((label) => have.includes(label))) return Number(match[3]);
  }
  return 0;
}

export function operationsEndToEnd(deployment: Deployment): void {
  let fake: FakeDiscord;
  let host: ModelHost;
  let harness: Harness;
  let discord: RoleHandle;
  let web: WebRole;
  let songs: { dir: string; remove(): Promise<void> };

  beforeAll(async () => {
    const guild = defaultGuild({ id: '1100000000000000050', username: 'stembot', bot: true });
    fake = await FakeDiscord.start({ clock: new TestClock(), guilds: [{ ...guild, members: [...guild.members, { user: { id: BOB, username: 'bob' }, roles: [] }] }] });
    host = await ModelHost.start(await readFile(await writeModel({ contract: 'waveform', kind: 'fractions', segment: HTDEMUCS_SEGMENT })));
    host.mode = 'fail';
    songs = await makeTempDir('stembot-ops-songs-');
    const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
    const song = await makeSong(ffmpeg, path.join(songs.dir, 'song.mp3'), 10);
    harness = await startHarness({
      backend: deployment,
      installModel: false,
      waitForWorker: false,
      env: { MODEL_REGISTRY_URL: host.registryUrl, WORKER_HEARTBEAT_SECONDS: '1' },
      fetchers: (ffprobe) => {
        const videos = new LocalVideoSource(ffprobe, { [SONG]: song });
        return { youtube: videos, attachment: videos };
      },
    });
    const settings = { token: fake.token, applicationId: fake.applicationId, apiUrl: `${fake.url}/api` };
    await registerDiscordCommands(settings, GUILD);
    discord = await startDiscordRole({ core: harness.core, settings, logger: harness.logger, knownModels: async () => ['htdemucs'] });
    web = await startWebRole({ settings: { host: '127.0.0.1', port: 0, allowedHosts: [] }, core: harness.core, runtime: harness.runtime, roles: () => [discord], defaultModel: 'htdemucs', logger: harness.logger });
  });

  afterAll(async () => {
    await web?.stop();
    await discord?.stop();
    await harness?.stop();
    await host?.close();
    await fake?.close();
    await songs?.remove();
  });

  const readyz = async () => {
    const response = await fetch(`${web.url}/readyz`);
    return { status: response.status, body: (await response.json()) as { ready: boolean; checks: { name: string; ok: boolean; detail?: string }[] } };
  };
  const workersCheck = async () => (await readyz()).body.checks.find((check) => check.name === 'workers');
  const scrape = async () => (await fetch(`${web.url}/metrics`)).text();
  const separate = (): FakeInteraction => fake.dispatchInteraction({ type: 'command', name: 'separate', options: { link: `https://youtu.be/${SONG}` }, userId: BOB, channelId: GENERAL });
  const refusalOf = async (handle: FakeInteraction): Promise<StoredMessage> => {
    // The deferred reply is empty until the refusal is written into it.
    await handle.waitFor((i) => i.messages().some((m) => m.content !== ''));
    return handle.messages().find((m) => m.content !== '') as StoredMessage;
  };
  const nothingCharged = async () => {
    const em = harness.runtime.orm.em.fork();
    expect(await em.count(SeparationRequest, {})).toBe(0);
    expect(await em.count(UsageEntry, {})).toBe(0);
  };

  describe('a worker that starts without its model', () => {
    it('while the model host fails: /readyz says so, and /separate is refused in chat with nothing charged', async () => {
      await expect.poll(workersCheck, { timeout: 30_000 }).toEqual({ name: 'workers', ok: false, detail: 'fetching htdemucs keeps failing; see the worker\'s log' });
      expect((await readyz()).status).toBe(503);
      const refusal = await refusalOf(separate());
      expect(refusal.content).toBe('This bot cannot download the htdemucs model right now, so nothing can be separated with it yet; its operator can see why in the logs. Nothing was charged.');
      expect(refusal.flags & 64).toBe(64);
      await nothingCharged();
    });

    it('while the model downloads: /readyz reports how far it got, and /separate asks to come back', async () => {
      host.mode = 'hold';
      // The stand-in sends half the file, then holds it.
      await expect.poll(async () => (await workersCheck())?.detail, { timeout: 30_000 }).toMatch(/^fetching htdemucs (49|50)%$/);
      const percent = /(\d+)%/.exec((await workersCheck())?.detail ?? '')?.[1];
      const refusal = await refusalOf(separate());
      expect(refusal.content).toBe(`The htdemucs model is still being set up on this bot (${percent} % downloaded); try again in a few minutes. Nothing was charged.`);
      await nothingCharged();
    });

    it('once the model is in and verified: ready, and the first /separate comes back with stems while /metrics moves', async () => {
      const before = await scrape();
      host.release();
      await expect.poll(async () => (await readyz()).status, { timeout: 30_000 }).toBe(200);
      expect(await workersCheck()).toEqual({ name: 'workers', ok: true, detail: '1 serving htdemucs' });
      expect((await readyz()).body.checks.map((check) => check.name)).toEqual(['database', 'queue', 'workers', 'discord']);

      const handle = separate();
      // During the job: the queue's gauges show it taken by a worker.
      await expect.poll(async () => sample(await scrape(), 'stembot_jobs', { state: 'active' }), { timeout: 30_000 }).toBeGreaterThanOrEqual(1);
      const reply = await handle.waitFor((i) => Boolean(i.original && i.original.attachments.length > 0)).then((i) => i.original as StoredMessage);
      expect(reply.attachments.map((a) => a.filename).filter((name) => name !== 'waveforms.png').sort()).toEqual(['bass.mp3', 'drums.mp3', 'other.mp3', 'vocals.mp3']);

      const after = await scrape();
      const moved = (name: string, labels: Record<string, string> = {}) => sample(after, name, labels) - sample(before, name, labels);
      for (const stage of ['download', 'decode', 'inference', 'overlap_add', 'encode', 'render']) expect(moved('stembot_stage_duration_seconds_count', { stage }), stage).toBe(1);
      expect(moved('stembot_stage_duration_seconds_sum', { stage: 'inference' })).toBeGreaterThan(0);
      expect(moved('stembot_jobs_finished_total', { kind: 'separate', outcome: 'completed' })).toBe(1);
      expect(moved('stembot_jobs_finished_total', { kind: 'render', outcome: 'completed' })).toBe(1);
      expect(moved('stembot_queue_wait_seconds_count')).toBeGreaterThanOrEqual(2);
      expect(moved('stembot_inference_realtime_factor_count', { model: 'htdemucs' })).toBe(1);
      // The upload to chat and the delivery lag are counted once the post is done.
      await expect.poll(async () => sample(await scrape(), 'stembot_delivery_lag_seconds_count', { platform: 'discord' }) - sample(before, 'stembot_delivery_lag_seconds_count', { platform: 'discord' })).toBe(1);
      expect(sample(await scrape(), 'stembot_stage_duration_seconds_count', { stage: 'upload' }) - sample(before, 'stembot_stage_duration_seconds_count', { stage: 'upload' })).toBe(1);
      expect(after).toMatch(/^nodejs_eventloop_lag_seconds /m);
      // The same run, as `stembot status` and /status count it.
      const status = await harness.core.clusterStatus();
      expect(status.lastHour).toMatchObject({ started: 1, finished: 1 });
      expect(status.lastHour.medianWaitSeconds).toBeGreaterThanOrEqual(0);
      expect(status.lastHour.medianSeparationSeconds).toBeGreaterThan(0);
      expect(status.workers.map((worker) => [worker.state, worker.device, worker.models])).toEqual([['ready', 'cpu', ['htdemucs']]]);
      // Nothing in a scrape names a user, a guild or a track.
      expect(after).not.toMatch(new RegExp(`${BOB}|${GUILD}|${SONG}|song\\.mp3`));
    });
  });
}
