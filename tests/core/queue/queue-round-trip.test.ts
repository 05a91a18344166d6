import { randomUUID } from 'node:crypto';
import { UnrecoverableError } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '../../../core/config.js';
import type { JobProcessor } from '../../../core/queue/queue-backend.js';
import type { QueueEvent, QueueEventListener } from '../../../core/queue/queue-events-relay.js';
import type { Logger } from '../../../core/logging.js';
import { startRelayRole } from '../../../core/queue/relay-role.js';
import { JobProducer } from '../../../core/queue/job-producer.js';
import { openRuntime, type Runtime } from '../../../core/runtime.js';
import { startWorkerRole } from '../../../worker/worker-role.js';
import { REDIS_URL, captureLogger, createTestDatabase, makeTempDir, uniqueNamespace } from '../../support/services.js';
import { seedEmbeddedDatabase } from '../../support/embedded-template.js';

/** A processor standing in for the separation pipeline: two progress reports, then a result. */
const reportingProcessor: JobProcessor = async (job) => {
  if (job.data.kind !== 'separate') throw new UnrecoverableError('unexpected job');
  if (job.data.model === 'broken-model') throw new UnrecoverableError('model file is corrupt');
  await job.updateProgress({ stage: 'downloading', fraction: 0.25, etaSeconds: 30 });
  await job.updateProgress({ stage: 'separating', fraction: 0.75, etaSeconds: 10 });
  return { kind: 'separate', durationSeconds: 212.5, stems: [{ name: 'vocals', storageKey: `${job.data.separationId}/vocals.flac`, bytes: 1234 }] };
};

function waitFor(events: QueueEvent[], predicate: (event: QueueEvent) => boolean, subscribe: (listener: (event: QueueEvent) => void) => () => void): Promise<QueueEvent> {
  const found = events.find(predicate);
  if (found) return Promise.resolve(found);
  return new Promise((resolve) => {
    const unsubscribe = subscribe((event) => {
      if (predicate(event)) {
        unsubscribe();
        resolve(event);
      }
    });
  });
}

const backends: [string, () => Promise<{ config: Config; cleanup: () => Promise<void> }>][] = [
  [
    'Redis',
    async () => {
      const database = await createTestDatabase();
      return { config: parseConfig({ DATABASE_URL: database.url, REDIS_URL, QUEUE_NAMESPACE: uniqueNamespace() }), cleanup: () => database.drop() };
    },
  ],
  [
    'the PostgreSQL backend',
    async () => {
      const database = await createTestDatabase();
      return { config: parseConfig({ DATABASE_URL: database.url, QUEUE_NAMESPACE: uniqueNamespace() }), cleanup: () => database.drop() };
    },
  ],
  [
    'embedded PGlite',
    async () => {
      const temp = await makeTempDir();
      await seedEmbeddedDatabase(temp.dir);
      return { config: parseConfig({ DATA_DIR: temp.dir }), cleanup: () => temp.remove() };
    },
  ],
];

describe.each(backends)('queue round trip on %s', (_name, setup) => {
  let runtime: Runtime;
  let cleanup: () => Promise<void>;
  let stopRoles: () => Promise<void>;
  let producer: JobProducer;
  let logger: Logger;
  let relayRole: Awaited<ReturnType<typeof startRelayRole>>;
  const events: QueueEvent[] = [];
  let subscribe: (listener: (event: QueueEvent) => void) => () => void;
  const startRelay = async (listeners: QueueEventListener[] = []) => {
    relayRole = await startRelayRole(runtime, logger, { listeners: [(event) => void events.push(event), ...listeners] });
    subscribe = (listener) => relayRole.relay.subscribe(listener);
  };
  const finished = async (separationId: string) => {
    for (;;) {
      const standing = await producer.inspect(`separate-${separationId}`);
      if (standing.state === 'completed' || standing.state === 'failed') return standing.state;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  beforeAll(async () => {
    const prepared = await setup();
    cleanup = prepared.cleanup;
    logger = captureLogger('warn').logger;
    runtime = await openRuntime(prepared.config, logger);
    await startRelay();
    const workerRole = await startWorkerRole({ queues: runtime.queues, processor: reportingProcessor, concurrency: 1, logger, graceMs: 1000 });
    producer = new JobProducer(runtime.queues.createQueue(), 1000);
    stopRoles = async () => {
      await workerRole.stop();
      await relayRole.stop();
      await producer.close();
    };
  });

  afterAll(async () => {
    await stopRoles();
    await runtime.close();
    await cleanup();
  });

  it('delivers progress and completion as typed events', async () => {
    const separationId = randomUUID();
    await producer.enqueueSeparation({ separationId, source: { kind: 'youtube', videoId: 'dQw4w9WgXcQ' }, model: 'htdemucs' });
    const completed = await waitFor(events, (event) => event.job.kind === 'separate' && event.job.separationId === separationId && event.type === 'completed', subscribe);
    expect(completed).toEqual({
      type: 'completed',
      job: { kind: 'separate', separationId },
      result: { kind: 'separate', durationSeconds: 212.5, stems: [{ name: 'vocals', storageKey: `${separationId}/vocals.flac`, bytes: 1234 }] },
    });
    const progress = events.filter((event) => event.job.kind === 'separate' && event.job.separationId === separationId && event.type === 'progress');
    expect(progress).toEqual([
      { type: 'progress', job: { kind: 'separate', separationId }, progress: { stage: 'downloading', fraction: 0.25, etaSeconds: 30 } },
      { type: 'progress', job: { kind: 'separate', separationId }, progress: { stage: 'separating', fraction: 0.75, etaSeconds: 10 } },
    ]);
  });

  it('reports a permanent failure once, with its reason', async () => {
    const separationId = randomUUID();
    await producer.enqueueSeparation({ separationId, source: { kind: 'youtube', videoId: 'dQw4w9WgXcQ' }, model: 'broken-model' });
    const failed = await waitFor(events, (event) => event.job.kind === 'separate' && event.job.separationId === separationId && event.type === 'failed', subscribe);
    expect(failed).toEqual({ type: 'failed', job: { kind: 'separate', separationId }, reason: 'model file is corrupt' });
  });

  it('hands a new job to the idle worker while a delayed job waits, as the retention scheduler’s does', async () => {
    await producer.scheduleRetention(3600_000);
    // The first job leaves the worker idle with the delayed job ahead: BullMQ then blocks until it
    // is due (up to an hour) unless the new job's NOTIFY (or Redis marker) wakes it.
    for (const _ of [1, 2]) {
      const separationId = randomUUID();
      await producer.enqueueSeparation({ separationId, source: { kind: 'youtube', videoId: 'dQw4w9WgXcQ' }, model: 'htdemucs' });
      await waitFor(events, (event) => event.job.kind === 'separate' && event.job.separationId === separationId && event.type === 'completed', subscribe);
    }
  });

  it('resumes after a restart where it stopped, so a job that finished meanwhile is still heard of', async () => {
    const before = randomUUID();
    await producer.enqueueSeparation({ separationId: before, source: { kind: 'youtube', videoId: 'dQw4w9WgXcQ' }, model: 'htdemucs' });
    await waitFor(events, (event) => event.job.kind === 'separate' && event.job.separationId === before && event.type === 'completed', subscribe);
    await relayRole.stop();
    const separationId = randomUUID();
    await producer.enqueueSeparation({ separationId, source: { kind: 'youtube', videoId: 'dQw4w9WgXcQ' }, model: 'htdemucs' });
    expect(await finished(separationId)).toBe('completed');
    await startRelay();
    const completed = await waitFor(events, (event) => event.job.kind === 'separate' && event.job.separationId === separationId && event.type === 'completed', subscribe);
    expect(completed.type).toBe('completed');
    // It picked up at its own place, not at the start of the stream: what it had recorded is not replayed.
    expect(events.filter((event) => event.job.kind === 'separate' && event.job.separationId === before && event.type === 'completed')).toHaveLength(1);
  });

  it('retries a listener that fails (the database restarting), and keeps the stream in order', async () => {
    await relayRole.stop();
    let failures = 0;
    const heard: string[] = [];
    const ids: string[] = [randomUUID(), randomUUID()];
    await startRelay([
      (event) => {
        if (event.job.kind !== 'separate' || !ids.includes(event.job.separationId)) return;
        if (event.type === 'completed' && failures < 2) {
          failures += 1;
          throw new Error('connection terminated');
        }
        heard.push(`${event.job.separationId}:${event.type}`);
      },
    ]);
    for (const separationId of ids) await producer.enqueueSeparation({ separationId, source: { kind: 'youtube', videoId: 'dQw4w9WgXcQ' }, model: 'htdemucs' });
    await waitFor(events, (event) => event.job.kind === 'separate' && event.job.separationId === ids[1] && event.type === 'completed', subscribe);
    await relayRole.relay.exclusive(async () => undefined);
    expect(failures).toBe(2);
    expect(heard.filter((entry) => entry.endsWith(':completed'))).toEqual(ids.map((id) => `${id}:completed`));
  });

  it('refuses a payload that does not match the job schema before it reaches the queue', async () => {
    await expect(producer.enqueueSeparation({ separationId: 'not-a-uuid', source: { kind: 'youtube', videoId: 'short' }, model: '' })).rejects.toThrow(/separationId|videoId|model/);
  });
});
