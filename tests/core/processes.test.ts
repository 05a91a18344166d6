import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Delivery, Separation, UsageEntry } from '../../core/db/entities/index.js';
import type { RequestUpdate } from '../../core/request-updates.js';
import { separationPrefix } from '../../core/storage.js';
import { locateFfmpeg } from '../../worker/audio/ffmpeg.js';
import { runScript, waitForOutput } from '../support/cli.js';
import { LocalVideoSource } from '../support/local-sources.js';
import { isFinalUpdate, makeSong, repeatSong, startHarness, waitForUpdate, type Harness } from '../support/stembot-harness.js';
import { makeTempDir } from '../support/services.js';

const VIDEO = 'ccccccccccc';

let songs: { dir: string; remove(): Promise<void> };
let longSong: string;
let longerSong: string;

beforeAll(async () => {
  songs = await makeTempDir('stembot-songs-');
  const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
  // Long enough that a worker is still separating when the test kills it (it takes a second or so to
  // get there from the progress event): the second worker then separates it all, so no longer.
  longSong = await makeSong(ffmpeg, path.join(songs.dir, 'long.mp3'), 90);
  // The cancel must land while the worker is still separating, and two processes start on the way
  // there: 16.5 minutes keeps the worker busy many times longer than that, even on a loaded machine.
  longerSong = await repeatSong(ffmpeg, longSong, 11, path.join(songs.dir, 'longer.mp3'));
});
afterAll(async () => songs.remove());

const separating = (update: RequestUpdate) => update.type === 'progress' && update.progress.stage === 'separating';

describe('a worker killed mid-separation', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({ backend: 'redis', worker: false, env: { JOB_LOCK_SECONDS: '2' }, fetchers: (ffprobe) => {
      const videos = new LocalVideoSource(ffprobe, { [VIDEO]: longSong });
      return { youtube: videos, attachment: videos };
    } });
  });
  afterAll(async () => harness.stop());

  it('leaves a job another worker completes, charged once and delivered once', async () => {
    const child = runScript('./worker-process.ts', [], { ...harness.env, STEMBOT_TEST_VIDEOS: JSON.stringify({ [VIDEO]: longSong }) });
    await waitForOutput(child, 'worker ready');
    const outcome = await harness.core.submit({ platform: 'discord', tenantId: 'g', userId: 'u', channelId: 'c', source: { kind: 'youtube', videoId: VIDEO }, options: { stems: 'all', format: 'mp3' } });
    await waitForUpdate(harness.core, outcome.requestId, separating);
    child.child.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');

    const finished = waitForUpdate(harness.core, outcome.requestId, isFinalUpdate);
    await harness.startWorker();
    expect((await finished).type).toBe('completed');

    const em = harness.runtime.orm.em.fork();
    const separation = await em.findOneOrFail(Separation, { sourceKey: `youtube:${VIDEO}` });
    expect(separation.attempts).toBe(2);
    expect((await em.find(UsageEntry, { requestId: outcome.requestId })).map((row) => row.kind).sort()).toEqual(['commit', 'reserve']);
    expect(await em.count(Delivery, { request: outcome.requestId })).toBe(1);
  });
});

describe('a cancel from another process', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({ backend: 'postgres', env: { QUOTA_MAX_TRACK_MINUTES: '20' }, fetchers: (ffprobe) => {
      const videos = new LocalVideoSource(ffprobe, { [VIDEO]: longerSong });
      return { youtube: videos, attachment: videos };
    } });
  });
  afterAll(async () => harness.stop());

  it('stops the running separation on the worker, refunds the quota and keeps no stems', async () => {
    const outcome = await harness.core.submit({ platform: 'discord', tenantId: 'g', userId: 'asker', channelId: 'c', source: { kind: 'youtube', videoId: VIDEO }, options: { stems: 'all', format: 'mp3' } });
    await waitForUpdate(harness.core, outcome.requestId, separating);

    const refused = runScript('./cancel-process.ts', [outcome.requestId, 'someone-else'], harness.env);
    const cancel = runScript('./cancel-process.ts', [outcome.requestId, 'asker'], harness.env);
    expect((await refused.exited).code).toBe(1);
    expect(refused.stderr()).toContain('Only the person who asked, or an admin, can cancel this.');
    expect((await cancel.exited).code, cancel.stderr()).toBe(0);

    const em = harness.runtime.orm.em.fork();
    const separationId = (await harness.core.status(outcome.requestId)).state === 'cancelled' ? (await em.findOneOrFail(Separation, { sourceKey: `youtube:${VIDEO}` })).id : '';
    expect(separationId).not.toBe('');
    // The worker notices within a second or so and gives the job up; its partial stems go with it.
    const queue = harness.runtime.queues.createQueue();
    try {
      for (;;) {
        const job = await queue.getJob(`separate-${separationId}`);
        const state = job ? await job.getState() : 'unknown';
        if (state === 'failed' || state === 'completed') {
          expect({ state, reason: job?.failedReason }).toEqual({ state: 'failed', reason: '[cancelled] This separation was cancelled.' });
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    } finally {
      await queue.close();
    }
    expect((await em.findOneOrFail(Separation, separationId)).state).toBe('cancelled');
    expect((await em.find(UsageEntry, { requestId: outcome.requestId })).map((row) => row.kind).sort()).toEqual(['refund', 'reserve']);
    expect(existsSync(harness.storage.pathOf(`${separationPrefix(separationId)}/masters`))).toBe(false);
    expect(await em.count(Delivery, { request: outcome.requestId })).toBe(0);
  });
});
