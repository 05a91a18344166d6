import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { PlatformMessage } from '../../core/db/entities/separation-request.js';
import type { ClaimedDelivery } from '../../core/delivery/outbox.js';
import type { Logger } from '../../core/logging.js';
import type { RequestSummary } from '../../core/requests/request-queries.js';
import type { StembotCore } from '../../core/stembot-core.js';
import type { ConfiguredStorage } from '../../core/storage.js';
import { planAttachments, type DeliverableFile } from './attachment-plan.js';
import type { ChatSurface } from './chat-surface.js';
import { MessageEdits } from './message-edits.js';
import type { PreviewView, RequestMessageView } from './message-view.js';
import { stageDuration } from '../../core/metrics.js';
import { WAVEFORM_PICTURE } from '../../core/render-files.js';

/** Formats that keep every sample: their results always come with the stems page. */
const LOSSLESS = new Set(['wav', 'flac']);
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
    private readonly core: Pick<StembotCore, 'outbox' | 'storage' | 'subscribe' | 'stemsLink' | 'rememberMessage'>,
    private readonly surface: ChatSurface<Message>,
    private readonly logger: Logger,
    /** Shared with this platform's progress edits: a post waits for the edit in flight. */
    private readonly edits: MessageEdits = new MessageEdits(),
  ) {
    this.claimer = `${surface.platform}-${randomUUID()}`;
  }

  start(): void {
    this.unsubscribe = this.core.subscribe((update) => {
      if (update.type === 'completed' || update.type === 'failed' || update.type === 'preview') this.wake();
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

  private async post(delivery: ClaimedDelivery): Promise<void> {
    const { deliveryId, request } = delivery;
    const log = this.logger.child({ requestId: request.requestId, deliveryId, kind: delivery.kind });
    const message = this.surface.parse(request.platformMessage);
    if (!message) {
      log.error({ platform: this.surface.platform }, 'request has no message on this platform to answer; dropping its delivery');
      await this.core.outbox.complete(deliveryId, this.claimer);
      return;
    }
    if (delivery.kind === 'preview') return this.postPreview(delivery, message, log);
    const stored = new StoredFiles(this.core.storage);
    try {
      const view = await this.viewOf(request, stored, log);
      const attached = view.kind === 'result' ? [...(view.picture ? [view.picture] : []), ...view.files.attach].map((file) => file.name) : [];
      if (await this.deliveredBefore(delivery, message, attached, log)) return;
      if (view.kind === 'result') await stored.fetch([...(view.picture ? [view.picture] : []), ...view.files.attach]);
      const uploadStarted = performance.now();
      await this.edits.run(request.requestId, () => this.surface.show(message, view, { postKey: deliveryId }));
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
    } finally {
      await stored.release();
    }
  }

  /**
   * A preview goes out once, and only while its request still runs: it must not cover a result or a
   * failure already shown. One that cannot be posted is dropped; the result follows all the same.
   */
  private async postPreview(delivery: ClaimedDelivery, message: Message, log: Logger): Promise<void> {
    const { deliveryId, request } = delivery;
    const preview = request.preview;
    if (!preview || (request.state !== 'queued' && request.state !== 'running')) {
      await this.core.outbox.complete(deliveryId, this.claimer);
      log.info({ state: request.state }, 'preview not posted: its request has moved on');
      return;
    }
    const stored = new StoredFiles(this.core.storage);
    try {
      const files = preview.stems.map((stem) => stored.file(stem.storageKey, `preview-${path.posix.basename(stem.storageKey)}`, stem.bytes));
      const { attach } = planAttachments(files, { limitBytes: request.options.maxFileBytes ?? this.surface.defaultFileLimitBytes, maxFiles: this.surface.maxFilesPerMessage });
      if (await this.deliveredBefore(delivery, message, attach.map((file) => file.name), log)) return;
      await stored.fetch(attach);
      const view: PreviewView = { kind: 'preview', requestId: request.requestId, title: request.title ?? 'Your track', files: attach, startSeconds: preview.startSeconds, durationSeconds: preview.durationSeconds };
      const shown = await this.edits.run(request.requestId, () => this.surface.show(message, view, { postKey: deliveryId }));
      // Posting files may move the request's message (Discord, past the interaction token): progress follows it there.
      if (shown !== message) await this.core.rememberMessage(request.requestId, shown);
      await this.core.outbox.complete(deliveryId, this.claimer);
      log.info({ platform: this.surface.platform, files: attach.length }, 'preview delivered');
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'could not post the preview; the result follows without it');
      await this.core.outbox.fail(deliveryId, this.claimer, (error as Error).message);
    } finally {
      await stored.release();
    }
  }

  /** A claim taken over from a poster that died may find its work already done: then it is completed here. */
  private async deliveredBefore({ deliveryId, attempts }: ClaimedDelivery, message: Message, fileNames: string[], log: Logger): Promise<boolean> {
    if (attempts === 0 || fileNames.length === 0 || !(await this.surface.alreadyCarries(message, fileNames).catch(() => false))) return false;
    await this.core.outbox.complete(deliveryId, this.claimer);
    log.info('an earlier attempt had delivered this already');
    return true;
  }

  private async viewOf(request: RequestSummary, stored: StoredFiles, log: Logger): Promise<RequestMessageView> {
    const title = request.title ?? 'Your track';
    if (request.state !== 'completed') return { kind: 'failure', title, reason: request.error?.message || undefined };
    const files = request.files.map((file) => stored.file(file.storageKey, file.storageKey.split('/').pop() ?? file.name, file.bytes));
    const picture = await this.pictureOf(request, stored);
    // The picture takes one of the message's file slots.
    const limits = { limitBytes: request.options.maxFileBytes ?? this.surface.defaultFileLimitBytes, maxFiles: this.surface.maxFilesPerMessage - (picture ? 1 : 0) };
    const plan = planAttachments(files, limits);
    // Stems that do not fit, or lossless ones (which rarely do, and which a page plays better), get the stems page.
    const wantsLink = plan.leftOut.length > 0 || LOSSLESS.has(request.options.format);
    const link = wantsLink ? await this.core.stemsLink(request).catch((error: unknown) => void log.warn({ err: (error as Error).message }, 'could not make a stems page link')) : undefined;
    return { kind: 'result', title, requesterId: request.userId, files: plan, ...(link ? { link } : {}), ...(picture ? { picture } : {}) };
  }

  /** The waveform picture the worker stored beside the request's files, if it did. */
  private async pictureOf(request: RequestSummary, stored: StoredFiles): Promise<DeliverableFile | undefined> {
    const first = request.files[0];
    if (!first) return undefined;
    const key = `${path.posix.dirname(first.storageKey)}/${WAVEFORM_PICTURE}`;
    const bytes = await this.core.storage.size(key).catch(() => undefined);
    return bytes === undefined ? undefined : stored.file(key, WAVEFORM_PICTURE, bytes);
  }
}

/**
 * Stored files as paths a platform upload reads: the files of local storage where they lie; from
 * a bucket, copies in a temp folder, made for the files about to be posted and removed afterwards.
 */
class StoredFiles {
  private readonly keys = new Map<DeliverableFile, string>();
  private dir?: string;

  constructor(private readonly storage: ConfiguredStorage) {}

  /** A stored file to deliver; from a bucket, its `path` is filled in by `fetch`. */
  file(key: string, name: string, bytes: number): DeliverableFile {
    if (this.storage.kind !== 's3') return { name, path: this.storage.pathOf(key), bytes };
    const file = { name, path: '', bytes };
    this.keys.set(file, key);
    return file;
  }

  /** Copies from the bucket those of `files` that are not on this machine yet. */
  async fetch(files: readonly DeliverableFile[]): Promise<void> {
    for (const [index, file] of files.entries()) {
      const key = this.keys.get(file);
      if (key === undefined || file.path !== '') continue;
      this.dir ??= await mkdtemp(path.join(tmpdir(), 'stembot-delivery-'));
      // Numbered: two files may have the same name.
      const copy = path.join(this.dir, `${index}-${path.posix.basename(key)}`);
      await pipeline(await this.storage.openRead(key), createWriteStream(copy));
      file.path = copy;
    }
  }

  async release(): Promise<void> {
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
