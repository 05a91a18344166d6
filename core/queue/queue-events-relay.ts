import { setTimeout as sleep } from 'node:timers/promises';
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

/** Where the relay keeps its place in the event stream between runs. */
export interface EventCursor {
  save(eventId: string): Promise<void>;
}

export interface RelayOptions {
  cursor?: EventCursor;
  /** How long a failing listener is retried before the event is left to the reconciler. Default 2 min. */
  retryForMs?: number;
  /** How often the cursor is written at most: a crash replays at most this much. Default 1 s. */
  saveEveryMs?: number;
}

const RETRY_FIRST_DELAY_MS = 250;
const RETRY_MAX_DELAY_MS = 10_000;

/**
 * Turns BullMQ QueueEvents (a stream on Redis, an event table on PostgreSQL; both resumable)
 * into typed core events. BullMQ emits `failed` only when a job will not be retried. Payloads that
 * do not match the shared schemas are logged and dropped, never passed on half-valid; jobs that
 * work for no row (the retention scheduler's) are not passed on.
 *
 * Events are handled one at a time, in stream order. A listener that fails (the database is
 * restarting) is retried with backoff before the next event is looked at, and the cursor only moves
 * past an event once it is handled, so a relay that dies resumes where it stopped. Listeners must be
 * idempotent: a resumed relay may hand them an event a second time.
 */
export class QueueEventsRelay {
  private readonly listeners = new Set<QueueEventListener>();
  private tail: Promise<void> = Promise.resolve();
  private position?: string;
  private saved?: string;
  private saveTimer?: NodeJS.Timeout;
  private closing = false;

  constructor(
    private readonly events: StembotQueueEvents,
    private readonly logger: Logger,
    private readonly options: RelayOptions = {},
  ) {
    events.on('active', ({ jobId }, eventId) => this.push(eventId, () => this.eventFor(jobId, (job) => ({ type: 'active', job }))));
    events.on('progress', ({ jobId, data }, eventId) =>
      this.push(eventId, () => {
        const progress = jobProgressSchema.safeParse(data);
        if (!progress.success) return void this.logger.warn({ jobId, issues: progress.error.issues }, 'ignoring malformed job progress');
        return this.eventFor(jobId, (job) => ({ type: 'progress', job, progress: progress.data }));
      }),
    );
    events.on('completed', ({ jobId, returnvalue }, eventId) =>
      this.push(eventId, () => {
        const result = jobResultSchema.safeParse(typeof returnvalue === 'string' ? safeJson(returnvalue) : returnvalue);
        if (!result.success) return void this.logger.error({ jobId, issues: result.error.issues }, 'ignoring malformed job result');
        return this.eventFor(jobId, (job) => ({ type: 'completed', job, result: result.data }));
      }),
    );
    events.on('failed', ({ jobId, failedReason }, eventId) => this.push(eventId, () => this.eventFor(jobId, (job) => ({ type: 'failed', job, reason: failedReason }))));
    events.on('error', (error) => this.logger.warn({ err: error.message }, 'queue events connection error'));
  }

  /** Registers a listener; returns the function that removes it. */
  subscribe(listener: QueueEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Runs `work` between two events, never beside one: for passes that must not race the stream. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work);
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async waitUntilReady(): Promise<void> {
    await this.events.waitUntilReady();
  }

  /** Stops reading, finishes the event in hand, and records how far it got. */
  async close(): Promise<void> {
    this.closing = true;
    await this.events.close();
    await this.tail;
    this.listeners.clear();
    clearTimeout(this.saveTimer);
    await this.saveCursor();
  }

  private push(eventId: string, build: () => QueueEvent | undefined): void {
    this.tail = this.tail
      .then(async () => {
        const event = build();
        if (event) await this.deliver(event, eventId);
        this.advance(eventId);
      })
      .catch((error: unknown) => this.logger.error({ err: error, eventId }, 'queue event could not be handled'));
  }

  private eventFor(jobId: string, build: (job: JobRef) => QueueEvent): QueueEvent | undefined {
    const job = parseJobId(jobId);
    return job ? build(job) : undefined;
  }

  private async deliver(event: QueueEvent, eventId: string): Promise<void> {
    let pending = [...this.listeners];
    const started = Date.now();
    for (let attempt = 1; pending.length > 0; attempt += 1) {
      const results = await Promise.allSettled(pending.map(async (listener) => listener(event)));
      const failed = pending.filter((_, i) => results[i]?.status === 'rejected');
      if (failed.length === 0) return;
      const error = (results.find((result) => result.status === 'rejected') as PromiseRejectedResult).reason as unknown;
      const context = { err: error, event: event.type, job: event.job, eventId, attempt };
      if (this.closing || Date.now() - started >= (this.options.retryForMs ?? 120_000)) {
        // The reconciler compares rows with the queue's own job states and repairs what this missed.
        this.logger.error(context, 'gave up on a queue event; the reconciler will settle its job');
        return;
      }
      if (attempt === 1) this.logger.warn(context, 'queue event listener failed; retrying');
      pending = failed;
      await sleep(Math.min(RETRY_MAX_DELAY_MS, RETRY_FIRST_DELAY_MS * 2 ** (attempt - 1)));
    }
  }

  private advance(eventId: string): void {
    this.position = eventId;
    if (!this.options.cursor || this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void this.saveCursor();
    }, this.options.saveEveryMs ?? 1000);
    this.saveTimer.unref();
  }

  private async saveCursor(): Promise<void> {
    const position = this.position;
    if (!this.options.cursor || position === undefined || position === this.saved) return;
    try {
      await this.options.cursor.save(position);
      this.saved = position;
    } catch (error) {
      // The next save carries the position on; until then a restart replays a little more.
      this.logger.warn({ err: error, eventId: position }, 'could not record the relay position');
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
