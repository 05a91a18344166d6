import type { EntityManager } from '@mikro-orm/postgresql';
import { Separation } from '../../core/db/entities/index.js';
import { UserError } from '../../core/errors.js';

/** How often a running job looks whether its separation was cancelled. */
const CANCEL_POLL_MS = 1000;

/**
 * An AbortSignal that fires when BullMQ aborts the job or when the separation's row says
 * `cancelled`. Cancels are written to the database by whichever process received them, so
 * watching the row reaches the worker holding the job on any queue backend.
 */
export function watchCancellation(em: EntityManager, separationId: string, queueSignal: AbortSignal | undefined): { signal: AbortSignal; stop: () => void } {
  const controller = new AbortController();
  const abort = (reason: unknown) => controller.abort(reason);
  queueSignal?.addEventListener('abort', () => abort(queueSignal.reason), { once: true });
  const timer = setInterval(() => {
    em.fork()
      .findOne(Separation, separationId, { fields: ['state'] })
      .then((row) => {
        if (!row || row.state === 'cancelled') abort(new UserError('cancelled', 'This separation was cancelled.'));
      })
      .catch(() => undefined);
  }, CANCEL_POLL_MS);
  timer.unref();
  return { signal: controller.signal, stop: () => clearInterval(timer) };
}
