import { EventEmitter } from 'node:events';
import type { StoredFile } from './db/entities/separation.js';
import type { ErrorCode } from './errors.js';
import type { JobProgress } from './queue/jobs.js';

/** Everything an adapter shows about one request while it is in flight. */
export type RequestUpdate =
  | { type: 'queued'; requestId: string; position: number }
  | { type: 'progress'; requestId: string; progress: JobProgress }
  /** The preview's stems are stored and waiting in the outbox: where the excerpt lies in the track. */
  | { type: 'preview'; requestId: string; startSeconds: number; durationSeconds: number }
  | { type: 'completed'; requestId: string; files: StoredFile[] }
  | { type: 'failed'; requestId: string; code: ErrorCode; message: string }
  | { type: 'cancelled'; requestId: string };

export type RequestUpdateListener = (update: RequestUpdate) => void;

/**
 * In-process fan-out of request updates. Every process that runs the relay role hears every queue
 * event, so each process's adapters get updates for the requests they are showing.
 */
export class RequestUpdates {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  /** Listens to one request, or to all when `requestId` is omitted; returns the unsubscribe function. */
  subscribe(listener: RequestUpdateListener, requestId?: string): () => void {
    const channel = requestId ?? '*';
    this.emitter.on(channel, listener);
    return () => this.emitter.off(channel, listener);
  }

  publish(update: RequestUpdate): void {
    this.emitter.emit(update.requestId, update);
    this.emitter.emit('*', update);
  }
}
