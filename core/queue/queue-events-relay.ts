import type { Logger } from '../logging.js';
import type { SeparationQueueEvents } from './queue-backend.js';
import { separateJobProgressSchema, separateJobResultSchema, type SeparateJobProgress, type SeparateJobResult } from './separate-job.js';

/** What core learns about a separation job from the queue, typed and validated. */
export type SeparationEvent =
  | { type: 'active'; separationId: string }
  | { type: 'progress'; separationId: string; progress: SeparateJobProgress }
  | { type: 'completed'; separationId: string; result: SeparateJobResult }
  | { type: 'failed'; separationId: string; reason: string };

export type SeparationEventListener = (event: SeparationEvent) => void | Promise<void>;

/**
 * Turns BullMQ QueueEvents (a stream on Redis, an event table on PostgreSQL; both resumable)
 * into typed core events. Payloads that do not match the shared schemas are logged and dropped,
 * never passed on half-valid.
 */
export class QueueEventsRelay {
  private readonly listeners = new Set<SeparationEventListener>();

  constructor(
    private readonly events: SeparationQueueEvents,
    private readonly logger: Logger,
  ) {
    events.on('active', ({ jobId }) => this.emit({ type: 'active', separationId: jobId }));
    events.on('progress', ({ jobId, data }) => {
      const progress = separateJobProgressSchema.safeParse(data);
      if (!progress.success) return this.logger.warn({ jobId, issues: progress.error.issues }, 'ignoring malformed job progress');
      this.emit({ type: 'progress', separationId: jobId, progress: progress.data });
    });
    events.on('completed', ({ jobId, returnvalue }) => {
      const result = separateJobResultSchema.safeParse(typeof returnvalue === 'string' ? safeJson(returnvalue) : returnvalue);
      if (!result.success) return this.logger.error({ jobId, issues: result.error.issues }, 'ignoring malformed job result');
      this.emit({ type: 'completed', separationId: jobId, result: result.data });
    });
    events.on('failed', ({ jobId, failedReason }) => this.emit({ type: 'failed', separationId: jobId, reason: failedReason }));
    events.on('error', (error) => this.logger.warn({ err: error.message }, 'queue events connection error'));
  }

  /** Registers a listener; returns the function that removes it. */
  subscribe(listener: SeparationEventListener): () => void {
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

  private emit(event: SeparationEvent): void {
    for (const listener of this.listeners) {
      Promise.resolve()
        .then(() => listener(event))
        .catch((error: unknown) => this.logger.error({ err: error, event: event.type, separationId: event.separationId }, 'separation event listener failed'));
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
