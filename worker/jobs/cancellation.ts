import type { EntityManager } from '@mikro-orm/postgresql';
import { Separation } from '../../core/db/entities/index.js';
import { UserError } from '../../core/errors.js';

/** How often a running job looks whether its separation was cancelled. */
const CANCEL_POLL_MS = 1000;

export interface CancellationWatch {
  signal: AbortSignal;
  /**
   * Looks at the row now, between polls, and throws the cancellation if there is one: a cancel that
   * lands in the last second of a job must not leave stems stored for a cancelled separation.
   */
  throwIfCancelled(): Promise<void>;
  stop(): void;
}

/**
 * An AbortSignal that fires when BullMQ aborts the job or when the separation's row says
 * `cancelled` (or `failed`: the relay gave up on it). Cancels are written to the database by whichever process received them, so
 * watching the row reaches the worker holding the job on any queue backend.
 */
export function watchCancellation(em: EntityManager, separationId: string, queueSignal: AbortSignal | undefined): CancellationWatch {
  const controller = new AbortController();
  const abort = (reason: unknown) => controller.abort(reason);
  queueSignal?.addEventListener('abort', () => abort(queueSignal.reason), { once: true });
  const look = async () => {
    const row = await em.fork().findOne(Separation, separationId, { fields: ['state'] });
    if (!row || row.state === 'cancelled') abort(new UserError('cancelled', 'This separation was cancelled.'));
    // The relay gave up on it (silent past JOB_STALLED_SECONDS) and refunded its requests: finishing it would be wasted.
    else if (row.state === 'failed') abort(new UserError('given_up', 'This separation was given up while it ran; its requests were refunded.'));
  };
  const timer = setInterval(() => void look().catch(() => undefined), CANCEL_POLL_MS);
  timer.unref();
  return {
    signal: controller.signal,
    async throwIfCancelled() {
      // A failed read is no cancel, as in the polls: finished stems are not thrown away for it.
      await look().catch(() => undefined);
      controller.signal.throwIfAborted();
    },
    stop: () => clearInterval(timer),
  };
}
