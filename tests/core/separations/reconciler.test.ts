import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Delivery, Separation, SeparationRequest, UsageEntry } from '../../../core/db/entities/index.js';
import { activeJobs } from '../../../core/quotas/quota-ledger.js';
import { STALLED_FAILURE } from '../../../core/separations/reconciler.js';
import type { StembotQueue } from '../../../core/queue/queue-backend.js';
import type { RequestUpdate } from '../../../core/request-updates.js';
import { locateFfmpeg } from '../../../worker/audio/ffmpeg.js';
import { runScript, waitForOutput } from '../../support/cli.js';
import { LocalVideoSource } from '../../support/local-sources.js';
import { DEPLOYMENTS, isFinalUpdate, makeSong, repeatSong, startHarness, waitForUpdate, type Harness } from '../../support/stembot-harness.js';
import { makeTempDir } from '../../support/services.js';

let songs: { dir: string; remove(): Promise<void> };
const videos: Record<string, string> = {};
const ids = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(11 - prefix.length, '0')}`);
const SHORT = ids('short', 6);
const LONG = 'longsong000';

beforeAll(async () => {
  songs = await makeTempDir('stembot-reconcile-songs-');
  const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
  const short = await makeSong(ffmpeg, path.join(songs.dir, 'short.mp3'), 8);
  for (const id of SHORT) videos[id] = short;
  // Long enough that the worker is still separating when the test kills it (the short song, repeated:
  // it is never separated to the end, so it need not be encoded at length).
  videos[LONG] = await repeatSong(ffmpeg, short, 30, path.join(songs.dir, 'long.mp3'));
});
afterAll(async () => songs?.remove());

const ask = (videoId: string, tenantId = 'guild') => ({ platform: 'discord' as const, tenantId, userId: 'user', channelId: 'channel', source: { kind: 'youtube' as const, videoId } });
/** A minute from now: past the grace period that keeps a pass from judging rows just written. */
const later = () => new Date(Date.now() + 60_000);

async function ledgerOf(harness: Harness, requestId: string): Promise<string[]> {
  return (await harness.runtime.orm.em.fork().find(UsageEntry, { requestId })).map((row) => row.kind).sort();
}

async function separationOf(harness: Harness, requestId: string): Promise<Separation> {
  const request = await harness.runtime.orm.em.fork().findOneOrFail(SeparationRequest, requestId, { populate: ['separation'] });
  return request.separation as Separation;
}

describe.each(DEPLOYMENTS)('the reconciler on the %s deployment', (backend) => {
  let harness: Harness;
  let queue: StembotQueue;

  beforeAll(async () => {
    harness = await startHarness({
      backend,
      worker: false,
      env: { QUOTA_CONCURRENT_JOBS: '20', JOB_LOCK_SECONDS: '2', JOB_STALLED_SECONDS: '6', QUOTA_MAX_TRACK_MINUTES: '10' },
      fetchers: (ffprobe) => {
        const local = new LocalVideoSource(ffprobe, videos);
        return { youtube: local, attachment: local };
      },
    });
    queue = harness.runtime.queues.createQueue();
  });
  afterAll(async () => {
    await queue?.close();
    await harness?.stop();
  });

  const loseJob = async (jobId: string) => {
    const job = await queue.getJob(jobId);
    expect(job, `${jobId} should be on the queue`).toBeDefined();
    await job?.remove();
  };

  it('enqueues a separation the queue lost once more, and that one runs to the end', async () => {
    const outcome = await harness.core.submit(ask(SHORT[0]!));
    const separation = await separationOf(harness, outcome.requestId);
    await loseJob(`separate-${separation.id}`);
    expect(await harness.core.reconciler.reconcile({ now: later() })).toMatchObject({ requeued: 1, failed: 0 });
    const done = waitForUpdate(harness.core, outcome.requestId, isFinalUpdate);
    const worker = await harness.startWorker();
    try {
      expect((await done).type).toBe('completed');
    } finally {
      await worker.stop();
    }
    expect(await ledgerOf(harness, outcome.requestId)).toEqual(['commit', 'reserve']);
  });

  it('fails a request whose job the queue lost twice, refunds it and frees its slot', async () => {
    const outcome = await harness.core.submit(ask(SHORT[1]!, 'lost-twice'));
    const separation = await separationOf(harness, outcome.requestId);
    const failed = waitForUpdate(harness.core, outcome.requestId, isFinalUpdate);
    await loseJob(`separate-${separation.id}`);
    await harness.core.reconciler.reconcile({ now: later() });
    await loseJob(`separate-${separation.id}`);
    expect(await harness.core.reconciler.reconcile({ now: later() })).toMatchObject({ failed: 1 });
    expect(await failed).toMatchObject({ type: 'failed', code: 'job_lost' });
    expect(await ledgerOf(harness, outcome.requestId)).toEqual(['refund', 'reserve']);
    const em = harness.runtime.orm.em.fork();
    expect(await em.count(Delivery, { request: outcome.requestId })).toBe(1);
    expect(await activeJobs(em, (await em.findOneOrFail(SeparationRequest, outcome.requestId)).tenant.id)).toBe(0);
    expect((await em.findOneOrFail(Separation, separation.id)).state).toBe('failed');
  });

  it('fails a request its separation left behind when it failed (the relay stopped in between), with the separation’s reason', async () => {
    const outcome = await harness.core.submit(ask(SHORT[2]!));
    const separation = await separationOf(harness, outcome.requestId);
    await harness.runtime.orm.em
      .fork()
      .nativeUpdate(Separation, { id: separation.id }, { state: 'failed', errorCode: 'audio_undecodable', errorMessage: 'That file could not be decoded as audio.', finishedAt: new Date() });
    expect(await harness.core.reconciler.reconcile({ now: later() })).toMatchObject({ failed: 1 });
    const status = await harness.core.status(outcome.requestId);
    expect(status).toMatchObject({ state: 'failed', error: { code: 'audio_undecodable', message: 'That file could not be decoded as audio.' } });
    expect(await ledgerOf(harness, outcome.requestId)).toEqual(['refund', 'reserve']);
  });

  it('records a job that finished while no relay ran and whose events are gone, at the relay’s start', async () => {
    const worker = await harness.startWorker();
    try {
      const outcome = await harness.core.submit(ask(SHORT[3]!));
      const separation = await separationOf(harness, outcome.requestId);
      await harness.stopRelay();
      while ((await harness.core.status(outcome.requestId)).state !== 'completed' && (await queue.getJob(`separate-${separation.id}`).then((job) => job?.getState())) !== 'completed') {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // As if the stream had been trimmed past the relay's place: only the queue's job states remain.
      if (backend === 'redis') await queue.trimEvents(0);
      else await harness.runtime.orm.em.fork().execute(`delete from "${harness.config.queueNamespace}"."event"`);
      const done = waitForUpdate(harness.core, outcome.requestId, isFinalUpdate);
      await harness.startRelay();
      expect((await done).type).toBe('completed');
      expect(await harness.runtime.orm.em.fork().count(Delivery, { request: outcome.requestId })).toBe(1);
    } finally {
      await worker.stop();
    }
  });

  it('stops a worker still separating a track the relay has given up on, instead of finishing it for nobody', async () => {
    const worker = await harness.startWorker();
    try {
      const outcome = await harness.core.submit(ask(LONG, 'given-up'));
      await waitForUpdate(harness.core, outcome.requestId, (update: RequestUpdate) => update.type === 'progress' && update.progress.stage === 'separating');
      const separation = await separationOf(harness, outcome.requestId);
      // What a pass does to a job silent past the limit (a worker stuck in one long model run, say).
      await harness.core.recorder.onEvent({ type: 'failed', job: { kind: 'separate', separationId: separation.id }, reason: STALLED_FAILURE });
      for (;;) {
        const job = await queue.getJob(`separate-${separation.id}`);
        if ((await job?.getState()) === 'failed') {
          expect(job?.failedReason).toBe('[given_up] This separation was given up while it ran; its requests were refunded.');
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(await ledgerOf(harness, outcome.requestId)).toEqual(['refund', 'reserve']);
    } finally {
      await worker.stop();
    }
  });

  // A worker in a process of its own cannot open the embedded database (PGlite is one process's):
  // there the worker dies with the relay, and the restarted process's worker takes the job over.
  it.runIf(backend !== 'embedded')('fails, refunds and frees the slot of a job whose worker died with none to take over, once it is silent past JOB_STALLED_SECONDS', async () => {
    const child = runScript('../support/worker-process.ts', [], { ...harness.env, STEMBOT_TEST_VIDEOS: JSON.stringify(videos) });
    await waitForOutput(child, 'worker ready');
    const outcome = await harness.core.submit(ask(LONG, 'stalled'));
    await waitForUpdate(harness.core, outcome.requestId, (update: RequestUpdate) => update.type === 'progress' && update.progress.stage === 'separating');
    child.child.kill('SIGKILL');
    await child.exited;
    // No worker is left to notice the dead one's job; the relay's periodic pass does.
    const ended = await waitForUpdate(harness.core, outcome.requestId, isFinalUpdate);
    expect(ended).toMatchObject({ type: 'failed', code: 'job_stalled' });
    const em = harness.runtime.orm.em.fork();
    expect(await ledgerOf(harness, outcome.requestId)).toEqual(['refund', 'reserve']);
    expect(await activeJobs(em, (await em.findOneOrFail(SeparationRequest, outcome.requestId)).tenant.id)).toBe(0);
    const separation = await separationOf(harness, outcome.requestId);
    expect(separation.state).toBe('failed');
    expect(await queue.getJob(`separate-${separation.id}`)).toBeUndefined();
  });
});
