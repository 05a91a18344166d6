/**
 * The stage for fault injection: stembot as operators scale it (relay, worker and Discord bot each
 * in its own `stembot start --role ...` process) on PostgreSQL and Redis servers of the test's own,
 * with the fake Discord. A case kills one process with SIGKILL at one moment of a request's life,
 * or restarts a server under it, then checks what the user and the books see: the stems posted
 * exactly once, the quota charged exactly once, no row left running, and every process that ended
 * saying why. Each test file sets up its own stage (two files, so vitest runs them side by side),
 * and its cases take turns on it: a case ends with every process running and its request settled.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, beforeEach, expect, onTestFailed } from 'vitest';
import { registerDiscordCommands } from '../../bots/discord/register-commands.js';
import { Delivery, Separation, SeparationRequest, UsageEntry } from '../../core/db/entities/index.js';
import { openOrm, type Orm } from '../../core/db/orm.js';
import { locateFfmpeg } from '../../worker/audio/ffmpeg.js';
import { FakeDiscord, type FakeInteraction, type StoredMessage } from '../support/fake-discord/index.js';
import type { RecordedRequest } from '../support/fake-discord/http.js';
import { startPrivatePostgres, startPrivateRedis, type PrivatePostgres, type PrivateRedis } from '../support/private-services.js';
import { captureLogger, makeTempDir } from '../support/services.js';
import { makeSong } from '../support/stembot-harness.js';
import { prepareSite, startStembot, type StembotProcess, type StembotSite } from '../support/stembot-process.js';

const GUILD = '1100000000000000001';
const GENERAL = '1100000000000000010';
const ALICE = '1100000000000000100';
export type Role = 'relay' | 'worker' | 'discord';
export type Phase = 'download' | 'separation' | 'delivery';
/** 20 s of song takes a few seconds to download (throttled) and a few to separate: time to land a fault in each. */
const SONG_SECONDS = 20;
const DOWNLOAD_BYTES_PER_SECOND = 150_000;

export interface FaultSite {
  fake: FakeDiscord;
  postgres: PrivatePostgres;
  redis: PrivateRedis;
  /** kill -9, and the process is forgotten until `start` brings its role back. */
  kill(role: Role): Promise<void>;
  start(role: Role): Promise<void>;
  /** Every process still running: one that ended by itself fails the case, showing its last lines. */
  expectAllAlive(): void;
  /** `/separate` with an uploaded song; the request behind it once it is admitted. */
  separate(): Promise<{ handle: FakeInteraction; request: SeparationRequest; attachmentId: string }>;
  /** Resolves once the request is at `phase` (the worker downloading or separating it). */
  waitForPhase(phase: Exclude<Phase, 'delivery'>, request: SeparationRequest, attachmentId: string): Promise<void>;
  /** The stems' upload for this interaction (the delivery), to hold or to count. */
  delivering(handle: FakeInteraction): (request: RecordedRequest) => boolean;
  throttleDownloads(on: boolean): void;
  expectDeliveredOnce(handle: FakeInteraction, request: SeparationRequest): Promise<void>;
}

/** Sets the stage up before the file's tests and takes it down after them. */
export function useFaultSite(): FaultSite {
  let postgres: PrivatePostgres;
  let redis: PrivateRedis;
  let fake: FakeDiscord;
  let site: StembotSite;
  let orm: Orm;
  let queue: Queue;
  let song: Buffer;
  let songs: { dir: string; remove(): Promise<void> };
  let env: Record<string, string>;
  const processes = new Map<Role, StembotProcess>();
  const start = async (role: Role) => {
    processes.set(role, await startStembot(site, env, role));
  };

  beforeAll(async () => {
    [postgres, redis] = await Promise.all([startPrivatePostgres(), startPrivateRedis()]);
    songs = await makeTempDir('stembot-fault-songs-');
    const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
    song = await readFile(await makeSong(ffmpeg, path.join(songs.dir, 'song.mp3'), SONG_SECONDS));
    fake = await FakeDiscord.start();
    const settings = { token: fake.token, applicationId: fake.applicationId, apiUrl: `${fake.url}/api` };
    await registerDiscordCommands(settings, GUILD);
    site = await prepareSite('redis', { databaseUrl: postgres.url, redisUrl: redis.url });
    env = {
      DISCORD_TOKEN: settings.token,
      DISCORD_APPLICATION_ID: settings.applicationId,
      DISCORD_API_URL: settings.apiUrl,
      // A dead worker's job goes to the next worker within seconds, and retries come quickly.
      JOB_LOCK_SECONDS: '2',
      JOB_RETRY_DELAY_SECONDS: '1',
      QUOTA_USER_COOLDOWN_SECONDS: '0',
      QUOTA_CONCURRENT_JOBS: '20',
      QUOTA_DAILY_MINUTES: '600',
      QUOTA_MONTHLY_MINUTES: '6000',
    };
    // Migrations first, so the three processes do not all wait on the same lock.
    await start('relay');
    await Promise.all([start('worker'), start('discord')]);
    orm = await openOrm({ databaseUrl: postgres.url, logger: captureLogger('silent').logger });
    queue = new Queue('stembot', { connection: { url: redis.url }, prefix: site.env.QUEUE_NAMESPACE });
  });

  beforeEach(() => {
    // What each process was doing is the first thing to read when a case fails.
    onTestFailed(() => {
      for (const [role, process] of processes) console.log(`--- ${role} (last lines)\n${process.stdout().split('\n').slice(-25).join('\n')}\n${process.stderr().slice(-2000)}`);
    });
  });

  afterAll(async () => {
    const exits = await Promise.all([...processes].map(async ([role, process]) => ({ role, exit: await process.stop(), process })));
    await queue?.close();
    await orm?.close();
    await fake?.close();
    await site?.remove();
    await Promise.all([postgres?.stop(), redis?.stop()]);
    await songs?.remove();
    for (const { role, exit, process } of exits) {
      expect(exit, `${role}: ${process.stderr()}`).toEqual({ code: 0, signal: null });
      expect(process.logs().map((line) => line.msg)).toContain('shutting down');
      // Every line went through the logger, the database restart's included.
      expect(process.stdout().split('\n').filter((line) => line.trim() !== '' && !line.startsWith('{'))).toEqual([]);
    }
  });

  const delivering = (handle: FakeInteraction) => (r: RecordedRequest) => r.path.includes(handle.token) && r.files.length > 0;

  return {
    get fake() {
      return fake;
    },
    get postgres() {
      return postgres;
    },
    get redis() {
      return redis;
    },
    start,
    async kill(role) {
      await processes.get(role)?.kill();
      processes.delete(role);
    },
    expectAllAlive() {
      for (const [role, process] of processes) {
        expect(process.alive(), `the ${role} process exited by itself; its last lines:\n${process.stdout().split('\n').slice(-15).join('\n')}\n${process.stderr()}`).toBe(true);
      }
    },
    async separate() {
      const upload = fake.registerAttachment('song.mp3', song, 'audio/mpeg');
      const handle = fake.dispatchInteraction({ type: 'command', name: 'separate', options: { file: upload }, userId: ALICE, channelId: GENERAL });
      // The progress message's Cancel button carries the request's id.
      const interaction = await handle.waitFor((i) => Boolean(i.original?.components.length));
      const requestId = JSON.stringify(interaction.original?.components).match(/cancel:([0-9a-f-]{36})/)?.[1] as string;
      const request = await orm.em.fork().findOneOrFail(SeparationRequest, requestId, { populate: ['separation'] });
      return { handle, request, attachmentId: upload.id };
    },
    async waitForPhase(phase, request, attachmentId) {
      if (phase === 'download') {
        // The worker's download (the look at submit announces itself as `stembot (inspect)`).
        await fake.waitFor(() => fake.downloads.find((d) => d.attachmentId === attachmentId && !d.userAgent.includes('inspect') && d.state === 'sending' && d.sent > 0));
        return;
      }
      for (;;) {
        const job = await queue.getJob(`separate-${request.separation?.id}`);
        if ((job?.progress as { stage?: string } | undefined)?.stage === 'separating') return;
        await sleep(50);
      }
    },
    delivering,
    throttleDownloads(on) {
      fake.throttleDownloads(on ? DOWNLOAD_BYTES_PER_SECOND : undefined);
    },
    async expectDeliveredOnce(handle, request) {
      const done = await handle.waitFor((i) => Boolean(i.original && (i.original.attachments.length > 0 || /could not be separated/.test(i.original.content))));
      const reply = done.original as StoredMessage;
      expect(reply.content).not.toMatch(/could not be separated/);
      expect(reply.attachments.map((a) => a.filename).filter((name) => name !== 'waveforms.png').sort()).toEqual(['bass.mp3', 'drums.mp3', 'other.mp3', 'vocals.mp3']);
      // Discord acted on one upload of the stems for this request: no second copy.
      expect(fake.requests.filter((r) => delivering(handle)(r) && r.status === 200)).toHaveLength(1);
      const em = orm.em.fork();
      expect((await em.find(UsageEntry, { requestId: request.id })).map((row) => row.kind).sort()).toEqual(['commit', 'reserve']);
      // The outbox marks the row once the post went out, or, when its poster died, once the next one
      // has taken the claim over (after the lease) and found the stems already there.
      while ((await em.fork().findOneOrFail(Delivery, { request: request.id })).state !== 'done') await sleep(100);
      expect(fake.requests.filter((r) => delivering(handle)(r) && r.status === 200)).toHaveLength(1);
      expect(await em.count(SeparationRequest, { state: { $in: ['queued', 'running'] } })).toBe(0);
      expect(await em.count(Separation, { state: { $in: ['queued', 'running'] } })).toBe(0);
    },
  };
}

/**
 * One kill case: the request is taken to `phase` (for `delivery`, Discord takes the stems' upload
 * in and sits on it), the `role`'s process is killed with SIGKILL and started again, and the
 * stems must arrive once, charged once.
 */
export async function killMidPhase(stage: FaultSite, role: Role, phase: Phase): Promise<void> {
  if (phase === 'download') stage.throttleDownloads(true);
  const { handle, request, attachmentId } = await stage.separate();
  const upload = phase === 'delivery' ? stage.fake.holdRequests(stage.delivering(handle)) : undefined;
  try {
    if (phase !== 'delivery') await stage.waitForPhase(phase, request, attachmentId);
    const held = await upload?.waitForHeld();
    await stage.kill(role);
    // A poster that died mid-upload: Discord drops what it never finished taking in.
    if (held && role === 'discord') await stage.fake.waitFor(() => held.status === 499 || undefined);
  } finally {
    stage.throttleDownloads(false);
    upload?.release();
  }
  stage.expectAllAlive();
  await stage.start(role);
  await stage.expectDeliveredOnce(handle, request);
  stage.expectAllAlive();
}
