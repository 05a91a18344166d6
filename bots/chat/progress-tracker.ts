import type { Logger } from '../../core/logging.js';
import type { RequestUpdate } from '../../core/request-updates.js';
import type { StembotCore } from '../../core/stembot-core.js';
import type { ProgressView } from './message-view.js';

export interface ProgressTrackerOptions {
  core: Pick<StembotCore, 'subscribe'>;
  /** Shows a progress view in the request's message (see edit-request-message.ts). */
  edit: (requestId: string, view: ProgressView) => Promise<void>;
  /** The platform's least time between two edits of one message (its surface's minEditIntervalMs). */
  minEditIntervalMs: number;
  logger: Logger;
  now?: () => number;
}

interface Tracked {
  view: ProgressView;
  /** When the last edit finished (or the message was created). */
  lastEditAt: number;
  /** Set from scheduling an edit until that edit has finished: at most one at a time per message. */
  busy: boolean;
  /** The view changed while an edit was in flight; send it once that edit is done. */
  stale: boolean;
  timer?: NodeJS.Timeout;
  stop: () => void;
}

/**
 * Keeps each request's progress message current from core's updates, editing at most once per
 * `minEditIntervalMs` (the latest state wins; intermediate ones are skipped). Final states are
 * left to the outbox. The interval counts from the end of the previous edit, not its start, so a
 * slow or rate-limited edit cannot make two arrive at the platform closer together than that.
 */
export class ProgressTracker {
  private readonly tracked = new Map<string, Tracked>();
  private readonly now: () => number;

  constructor(private readonly options: ProgressTrackerOptions) {
    this.now = options.now ?? Date.now;
  }

  track(view: ProgressView): void {
    this.untrack(view.requestId);
    const entry: Tracked = { view, lastEditAt: this.now(), busy: false, stale: false, stop: () => undefined };
    entry.stop = this.options.core.subscribe((update) => this.onUpdate(entry, update), view.requestId);
    this.tracked.set(view.requestId, entry);
  }

  untrack(requestId: string): void {
    const entry = this.tracked.get(requestId);
    if (!entry) return;
    clearTimeout(entry.timer);
    entry.stop();
    this.tracked.delete(requestId);
  }

  stopAll(): void {
    for (const requestId of [...this.tracked.keys()]) this.untrack(requestId);
  }

  private onUpdate(entry: Tracked, update: RequestUpdate): void {
    if (update.type === 'completed' || update.type === 'failed' || update.type === 'cancelled') return this.untrack(update.requestId);
    if (update.type === 'queued') entry.view = { ...entry.view, stage: 'queued', fraction: 0, position: update.position };
    else if (update.type === 'preview') entry.view = { ...entry.view, preview: { startSeconds: update.startSeconds, durationSeconds: update.durationSeconds } };
    else entry.view = { ...entry.view, stage: update.progress.stage, fraction: update.progress.fraction, etaSeconds: update.progress.etaSeconds };
    if (entry.busy) {
      entry.stale = true;
      return;
    }
    this.schedule(entry);
  }

  private schedule(entry: Tracked): void {
    entry.busy = true;
    const wait = Math.max(0, entry.lastEditAt + this.options.minEditIntervalMs - this.now());
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      entry.stale = false;
      const { requestId } = entry.view;
      if (this.tracked.get(requestId) !== entry) return;
      this.options
        .edit(requestId, entry.view)
        .catch((error: unknown) => this.options.logger.warn({ requestId, err: (error as Error).message }, 'progress edit failed'))
        .finally(() => {
          entry.lastEditAt = this.now();
          entry.busy = false;
          if (entry.stale && this.tracked.get(requestId) === entry) this.schedule(entry);
        });
    }, wait);
  }
}
