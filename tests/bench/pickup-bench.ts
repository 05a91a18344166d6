/**
 * `npm run bench:pickup`: time from `core.submit` returning to an idle worker picking the job up
 * (the job's `processedOn`), on each deployment a user can choose (the embedded default, PostgreSQL
 * alone, PostgreSQL + Redis), measured in one run. The harness runs the relay with the retention
 * scheduler, as `stembot start` does, so its delayed job is queued while the workers idle.
 * Needs the test services (PostgreSQL on 5432, Redis on 6379).
 */
import path from 'node:path';
import { SeparationRequest } from '../../core/db/entities/index.js';
import { locateFfmpeg } from '../../worker/audio/ffmpeg.js';
import { LocalVideoSource } from '../support/local-sources.js';
import { DEPLOYMENTS, isFinalUpdate, makeSong, startHarness, waitForUpdate, type Deployment } from '../support/stembot-harness.js';
import { makeTempDir } from '../support/services.js';

const RUNS = 20;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

interface Sample {
  /** From calling submit (source inspection, quota transaction, enqueue) to a worker taking the job. */
  fromSubmit: number;
  /** From the job landing on the queue to a worker taking it. */
  fromEnqueue: number;
}

async function measure(backend: Deployment, song: string): Promise<Sample[]> {
  const ids = Array.from({ length: RUNS }, (_, i) => `pick${String(i).padStart(7, '0')}`);
  const harness = await startHarness({
    backend,
    env: { QUOTA_CONCURRENT_JOBS: '100', QUOTA_DAILY_MINUTES: '600', QUOTA_MONTHLY_MINUTES: '6000' },
    fetchers: (ffprobe) => {
      const local = new LocalVideoSource(ffprobe, Object.fromEntries(ids.map((id) => [id, song])));
      return { youtube: local, attachment: local };
    },
  });
  const queue = harness.runtime.queues.createQueue();
  const samples: Sample[] = [];
  try {
    for (const [i, videoId] of ids.entries()) {
      const submittedAt = Date.now();
      const outcome = await harness.core.submit({ platform: 'discord', tenantId: 'bench', userId: `u${i}`, channelId: 'c', source: { kind: 'youtube', videoId } });
      const done = waitForUpdate(harness.core, outcome.requestId, isFinalUpdate);
      const request = await harness.runtime.orm.em.fork().findOneOrFail(SeparationRequest, outcome.requestId);
      await done;
      const job = await queue.getJob(`separate-${request.separation?.id}`);
      if (job?.processedOn) samples.push({ fromSubmit: job.processedOn - submittedAt, fromEnqueue: job.processedOn - job.timestamp });
    }
  } finally {
    await queue.close();
    await harness.stop();
  }
  return samples;
}

const temp = await makeTempDir('stembot-pickup-');
try {
  const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
  const song = await makeSong(ffmpeg, path.join(temp.dir, 'song.mp3'), 2);
  for (const backend of DEPLOYMENTS) {
    const samples = await measure(backend, song);
    for (const key of ['fromSubmit', 'fromEnqueue'] as const) {
      const sorted = samples.map((sample) => sample[key]).sort((a, b) => a - b);
      console.log(`${backend} ${key === 'fromSubmit' ? 'submit() called' : 'job enqueued '} -> picked up by an idle worker (${sorted.length} jobs): p50 ${percentile(sorted, 50)} ms, p90 ${percentile(sorted, 90)} ms, max ${sorted.at(-1)} ms`);
    }
  }
} finally {
  await temp.remove();
}
