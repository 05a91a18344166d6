import { randomUUID } from 'node:crypto';
import type { PlatformMessage } from '../../core/db/entities/separation-request.js';
import type { ClaimedDelivery } from '../../core/delivery/outbox.js';
import type { Logger } from '../../core/logging.js';
import type { RequestSummary } from '../../core/requests/request-queries.js';
import type { StembotCore } from '../../core/stembot-core.js';
import { planAttachments } from './attachment-plan.js';
import type { ChatSurface } from './chat-surface.js';
import type { RequestMessageView } from './message-view.js';
import { stageDuration } from '../../core/metrics.js';

/** How often the outbox is looked at besides the wake-ups core's updates give. */
const POLL_MS = 2000;
/**
 * How long a claim holds unless renewed: a replica that dies mid-post releases its rows after this.
 * A live one renews its claims every third of it for as long as an upload takes.
 */
const LEASE_MS = 15_000;
/** Rows claimed per round. */
const CLAIM_LIMIT = 5;

/**
 * Posts finished requests from the outbox into one platform through its surface: results with
 * their stems, or what went wrong. Claims make two bot replicas safe; rows left while no bot ran
 * go out at start.
 */
export class OutboxDelivery<Message extends PlatformMessage> {
  private readonly claimer: string;
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(
    private readonly core: Pick<StembotCore, 'outbox' | 'storage' | 'subscribe'>,
    private readonly surface: ChatSurface<Message>,
    private readonly logger: Logger,
  ) {
    this.claimer = `${surface.platform}-${randomUUID()}`;
  }

  start(): void {
    this.unsubscribe = this.core.subscribe((update) => {
      if (update.type === 'completed' || update.type === 'failed') this.wake();
    });
    this.timer = setInterval(() => this.wake(), POLL_MS);
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.unsubscribe?.();
    await this.running;
  }

  /** Runs a claim round now, or right after the one in progress. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      for (;;) {
        const claimed = await this.core.outbox.claim({ platform: this.surface.platform, claimer: this.claimer, limit: CLAIM_LIMIT, leaseMs: LEASE_MS });
        if (claimed.length === 0 || this.stopped) return;
        await Promise.all(claimed.map((delivery) => this.deliver(delivery)));
      }
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'outbox round failed');
    }
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    const renewal = setInterval(() => {
      this.core.outbox.renew(delivery.deliveryId, this.claimer, LEASE_MS).catch((error: unknown) => this.logger.warn({ err: error, deliveryId: delivery.deliveryId }, 'could not renew a delivery claim'));
    }, LEASE_MS / 3);
    try {
      await this.post(delivery);
    } finally {
      clearInterval(renewal);
    }
  }

  private async post({ deliveryId, request, attempts }: ClaimedDelivery): Promise<void> {
    const log = this.logger.child({ requestId: request.requestId, deliveryId });
    const message = this.surface.parse(request.platformMessage);
    if (!message) {
      log.error({ platform: this.surface.platform }, 'request has no message on this platform to answer; dropping its delivery');
      await this.core.outbox.complete(deliveryId, this.claimer);
      return;
    }
    try {
      const view = this.viewOf(request);
      // A claim taken over from a poster that died may find its work already done.
      const attached = view.kind === 'result' ? view.files.attach.map((file) => file.name) : [];
      if (attempts > 0 && attached.length > 0 && (await this.surface.alreadyCarries(message, attached).catch(() => false))) {
        await this.core.outbox.complete(deliveryId, this.claimer);
        log.info('an earlier attempt had delivered this already');
        return;
      }
      const uploadStarted = performance.now();
      await this.surface.show(message, view, { postKey: deliveryId });
      // Posting the result, stems and all: the upload stage of the request as a whole.
      if (request.state === 'completed') stageDuration.observe({ stage: 'upload' }, (performance.now() - uploadStarted) / 1000);
      await this.core.outbox.complete(deliveryId, this.claimer);
      log.info({ state: request.state, platform: this.surface.platform }, 'delivered');
    } catch (error) {
      if (await this.surface.explainUndeliverable(message, error).catch(() => false)) {
        await this.core.outbox.complete(deliveryId, this.claimer);
        return;
      }
      log.warn({ err: (error as Error).message }, 'delivery failed; it will be retried');
      await this.core.outbox.fail(deliveryId, this.claimer, (error as Error).message);
    }
  }

  private viewOf(request: RequestSummary): RequestMessageView {
    const title = request.title ?? 'Your track';
    if (request.state !== 'completed') return { kind: 'failure', title, reason: request.error?.message || undefined };
    const files = request.files.map((file) => ({ name: file.storageKey.split('/').pop() ?? file.name, path: this.core.storage.pathOf(file.storageKey), bytes: file.bytes }));
    const limits = { limitBytes: request.options.maxFileBytes ?? this.surface.defaultFileLimitBytes, maxFiles: this.surface.maxFilesPerMessage };
    return { kind: 'result', title, requesterId: request.userId, files: planAttachments(files, limits) };
  }
}
