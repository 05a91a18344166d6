import type { Logger } from '../logging.js';
import type { StembotQueueEvents } from './queue-backend.js';
import { jobProgressSchema, jobResultSchema, parseJobId, type JobProgress, type JobRef, type JobResult } from './jobs.js';

/** What core learns about a job from the queue, typed and validated. */
export type QueueEvent =
  | { type: 'active'; job: JobRef }
  | { type: 'progress'; job: JobRef; progress: JobProgress }
  | { type: 'completed'; job: JobRef; result: JobResult }
  | { type: 'failed'; job: JobRef; reason: string };

export type QueueEventListener = (event: QueueEvent) => void | Promise<void>;

/**
 * Turns BullMQ QueueEvents (a stream on Redis, an event table on PostgreSQL; both resumable)
 * into typed core events. BullMQ emits `failed` only when a job will not be retried. Payloads that
 * do not match the shared schemas are logged and dropped, never passed on half-valid; jobs that
 * work for no row (the retention scheduler's) are not passed on.
 */
export class QueueEventsRelay {
  private readonly listeners = new Set<QueueEventListener>();

  constructor(
    private readonly events: StembotQueueEvents,
    private readonly logger: Logger,
  ) {
    events.on('active', ({ jobId }) => this.emitFor(jobId, (job) => ({ type: 'active', job })));
    events.on('progress', ({ jobId, data }) => {
      const progress = jobProgressSchema.safeParse(data);
      if (!progress.success) return this.logger.warn({ jobId, issues: progress.error.issues }, 'ignoring malformed job progress');
      this.emitFor(jobId, (job) => ({ type: 'progress', job, progress: progress.data }));
    });
    events.on('completed', ({ jobId, returnvalue }) => {
      const result = jobResultSchema.safeParse(typeof returnvalue === 'string' ? safeJson(returnvalue) : returnvalue);
      if (!result.success) return this.logger.error({ jobId, issues: result.error.issues }, 'ignoring malformed job result');
      this.emitFor(jobId, (job) => ({ type: 'completed', job, result: result.data }));
    });
    events.on('failed', ({ jobId, failedReason }) => this.emitFor(jobId, (job) => ({ type: 'failed', job, reason: failedReason })));
    events.on('error', (error) => this.logger.warn({ err: error.message }, 'queue events connection error'));
  }

  /** Registers a listener; returns the function that removes it. */
  subscribe(listener: QueueEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async waitUntilReady(): Promise<void> {
    await this.events.waitUntilReady();
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.events.close();
  }

  private emitFor(jobId: string, build: (job: JobRef) => QueueEvent): void {
    const job = parseJobId(jobId);
    if (!job) return;
    const event = build(job);
    for (const listener of this.listeners) {
      Promise.resolve()
        .then(() => listener(event))
        .catch((error: unknown) => this.logger.error({ err: error, event: event.type, jobId }, 'queue event listener failed'));
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
