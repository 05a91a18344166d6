import { randomUUID } from 'node:crypto';
import type { Logger } from '../../core/logging.js';
import type { StembotCore } from '../../core/stembot-core.js';
import type { ClaimedDelivery } from '../../core/delivery/outbox.js';
import { MissingPermissionsError, type RequestMessages } from './request-messages.js';
import { renderFailure, renderResult } from './render/result.js';

/** Discord's default per-file upload limit when the interaction did not say (10 MiB). */
export const DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024;
/** How often the outbox is looked at besides the wake-ups core's updates give. */
const POLL_MS = 2000;
/**
 * How long a claim holds unless renewed: a replica that dies mid-post releases its rows after this.
 * A live one renews its claims every third of it for as long as an upload takes.
 */
const LEASE_MS = 15_000;

/** Discord nonces are at most 25 characters: the delivery's id, without its dashes, cut to fit. */
function deliveryNonce(deliveryId: string): string {
  return deliveryId.replaceAll('-', '').slice(0, 25);
}

/**
 * Posts finished requests from the outbox into Discord: results with their stems attached, or
 * what went wrong. Claims make two bot replicas safe; rows left while no bot ran go out at start.
 */
export class DiscordDelivery {
  private readonly claimer = `discord-${randomUUID()}`;
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(
    private readonly core: StembotCore,
    private readonly messages: RequestMessages,
    private readonly logger: Logger,
  ) {}

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
        const claimed = await this.core.outbox.claim({ platform: 'discord', claimer: this.claimer, limit: 5, leaseMs: LEASE_MS });
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
    const log = this.logger.child({ requestId: request.id, deliveryId });
    const message = this.messages.parse(request.platformMessage);
    if (!message) {
      log.error('request has no Discord message to answer; dropping its delivery');
      await this.core.outbox.complete(deliveryId, this.claimer);
      return;
    }
    const title = request.separation?.title ?? 'Your track';
    try {
      const inChannel = !this.messages.tokenUsable(message) || message.channelMessageId !== undefined;
      const files = request.files.map((file) => ({ name: file.storageKey.split('/').pop() ?? file.name, path: this.core.storage.pathOf(file.storageKey), bytes: file.bytes }));
      const payload =
        request.state === 'completed'
          ? renderResult({ title, files, limitBytes: request.options.maxFileBytes ?? DEFAULT_ATTACHMENT_LIMIT, mentionUserId: inChannel ? request.userId : undefined })
          : renderFailure({ title, reason: request.errorMessage });
      // A claim taken over from a poster that died may find its work already done.
      const attached = (payload.files ?? []).map((file) => (file as { name?: string }).name ?? '');
      if (attempts > 0 && attached.length > 0 && (await this.messages.replyCarries(message, attached).catch(() => false))) {
        await this.core.outbox.complete(deliveryId, this.claimer);
        log.info('an earlier attempt had delivered this already');
        return;
      }
      await this.messages.show(message, payload, { nonce: deliveryNonce(deliveryId) });
      await this.core.outbox.complete(deliveryId, this.claimer);
      log.info({ state: request.state }, 'delivered to Discord');
    } catch (error) {
      if (error instanceof MissingPermissionsError && (await this.messages.explainMissing(message, error).catch(() => false))) {
        await this.core.outbox.complete(deliveryId, this.claimer);
        return;
      }
      log.warn({ err: (error as Error).message }, 'delivery failed; it will be retried');
      await this.core.outbox.fail(deliveryId, this.claimer, (error as Error).message);
    }
  }
}
