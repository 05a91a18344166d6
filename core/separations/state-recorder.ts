import type { EntityManager } from '@mikro-orm/postgresql';
import { Separation, SeparationRequest, type StoredFile, type StoredPreview } from '../db/entities/index.js';
import type { Logger } from '../logging.js';
import type { JobProducer } from '../queue/job-producer.js';
import { parseFailure, type JobProgress, type JobResult } from '../queue/jobs.js';
import type { QueueEvent } from '../queue/queue-events-relay.js';
import { settleQuota } from '../quotas/quota-ledger.js';
import type { RequestUpdates } from '../request-updates.js';
import { fairPriority } from '../requests/fairness.js';
import { requestFailures } from '../metrics.js';

const LIVE: ('queued' | 'running')[] = ['queued', 'running'];

/**
 * Queue events -> database state -> request updates and outbox rows. Every transition is a
 * conditional update (it only moves rows out of the states it expects), the quota ledger refuses a
 * second settlement and the outbox a second row per request, so a replayed or duplicated event, or
 * two processes relaying the same stream, change nothing the second time.
 */
export class StateRecorder {
  constructor(
    private readonly em: EntityManager,
    private readonly producer: JobProducer,
    private readonly updates: RequestUpdates,
    private readonly logger: Logger,
  ) {}

  readonly onEvent = async (event: QueueEvent): Promise<void> => {
    if (event.job.kind === 'separate') {
      const { separationId } = event.job;
      if (event.type === 'active' || event.type === 'progress') await this.separationRunning(separationId, event.type === 'progress' ? event.progress : undefined);
      else if (event.type === 'completed' && event.result.kind === 'separate') await this.separationCompleted(separationId, event.result);
      else if (event.type === 'failed') await this.separationFailed(separationId, event.reason);
      if (event.type === 'progress' && event.progress.preview) await this.previewStored(separationId, event.progress.preview);
      return;
    }
    const { requestId } = event.job;
    if (event.type === 'active' || event.type === 'progress') await this.renderAlive(requestId);
    if (event.type === 'progress') this.updates.publish({ type: 'progress', requestId, progress: event.progress });
    else if (event.type === 'completed' && event.result.kind === 'render') await this.requestCompleted(requestId, event.result.files);
    else if (event.type === 'failed') await this.failRequests([requestId], event.reason);
  };

  /** Fails requests that are still live, refunding each: `reason` is a `[code] message` failure. */
  async failRequests(requestIds: string[], reason: string): Promise<void> {
    const { code, message } = parseFailure(reason);
    const userMessage = code === 'internal' ? 'Something broke while separating this track; it has been logged. Please try again later.' : message;
    if (code === 'internal') this.logger.error({ requestIds, reason }, 'job failed with an internal error');
    for (const requestId of requestIds) {
      const done = await this.em.fork().transactional(async (tx) => {
        const em = tx as EntityManager;
        const changed = await em.nativeUpdate(SeparationRequest, { id: requestId, state: { $in: LIVE } }, { state: 'failed', errorCode: code, errorMessage: userMessage, finishedAt: new Date(), updatedAt: new Date() });
        if (changed === 0) return false;
        await settleQuota(em, requestId, 'refund');
        await this.addDelivery(em, requestId);
        return true;
      });
      if (done) {
        requestFailures.inc({ code });
        this.updates.publish({ type: 'failed', requestId, code, message: userMessage });
      }
    }
  }

  /** The job took the separation up or reported progress: it is running, and alive now (the heartbeat). */
  private async separationRunning(separationId: string, progress: JobProgress | undefined): Promise<void> {
    const em = this.em.fork();
    const now = new Date();
    await em.execute(
      `update separation set state = 'running', started_at = coalesce(started_at, ?), heartbeat_at = ? where id = ? and state in ('queued', 'running')`,
      [now, now, separationId],
    );
    await em.nativeUpdate(SeparationRequest, { separation: separationId, state: 'queued' }, { state: 'running', updatedAt: now });
    if (!progress) return;
    for (const requestId of await this.liveRequestIds(em, separationId)) this.updates.publish({ type: 'progress', requestId, progress });
  }

  private async separationCompleted(separationId: string, result: Extract<JobResult, { kind: 'separate' }>): Promise<void> {
    const em = this.em.fork();
    const changed = await em.nativeUpdate(Separation, { id: separationId, state: { $in: LIVE } }, { state: 'completed', stems: result.stems, durationSeconds: result.durationSeconds, finishedAt: new Date() });
    if (changed === 0) return;
    // Each request that waited on this separation now gets its own stem set and format rendered.
    const requests = await em.find(SeparationRequest, { separation: separationId, state: { $in: LIVE } }, { populate: ['tenant'] });
    for (const request of requests) {
      const priority = await fairPriority(em, request.tenant.id, request.id);
      await this.producer.enqueueRender({ requestId: request.id, separationId, options: request.options }, { priority });
    }
  }

  private async separationFailed(separationId: string, reason: string): Promise<void> {
    const em = this.em.fork();
    const { code, message } = parseFailure(reason);
    const changed = await em.nativeUpdate(Separation, { id: separationId, state: { $in: LIVE } }, { state: 'failed', errorCode: code, errorMessage: message, finishedAt: new Date() });
    if (changed === 0) return;
    await this.failRequests(await this.liveRequestIds(em, separationId), reason);
  }

  /**
   * The worker stored the excerpt's stems: the separation keeps them, and each request still waiting
   * on it that did not say `preview:false` gets them posted (an outbox row of its own, at most one).
   */
  private async previewStored(separationId: string, preview: StoredPreview): Promise<void> {
    const em = this.em.fork();
    const changed = await em.nativeUpdate(Separation, { id: separationId, state: { $in: LIVE } }, { preview });
    if (changed === 0) return;
    const rows = await em.execute<{ request_id: string }[]>(
      `insert into delivery (id, request_id, platform, kind, state, attempts, created_at)
       select gen_random_uuid(), r.id, t.platform, 'preview', 'pending', 0, now() from request r join tenant t on t.id = r.tenant_id
        where r.separation_id = ? and r.state in ('queued', 'running') and coalesce(r.options->>'preview', 'true') <> 'false'
       on conflict (request_id, kind) do nothing
       returning request_id`,
      [separationId],
    );
    for (const row of rows) this.updates.publish({ type: 'preview', requestId: row.request_id, startSeconds: preview.startSeconds, durationSeconds: preview.durationSeconds });
  }

  /** A render job's sign of life: its request's `updatedAt` is the heartbeat the reconciler reads. */
  private async renderAlive(requestId: string): Promise<void> {
    await this.em.fork().nativeUpdate(SeparationRequest, { id: requestId, state: { $in: LIVE } }, { updatedAt: new Date() });
  }

  private async requestCompleted(requestId: string, files: StoredFile[]): Promise<void> {
    const done = await this.em.fork().transactional(async (tx) => {
      const em = tx as EntityManager;
      const changed = await em.nativeUpdate(SeparationRequest, { id: requestId, state: { $in: LIVE } }, { state: 'completed', files, finishedAt: new Date(), updatedAt: new Date() });
      if (changed === 0) return false;
      await settleQuota(em, requestId, 'commit');
      await this.addDelivery(em, requestId);
      return true;
    });
    if (done) this.updates.publish({ type: 'completed', requestId, files });
  }

  private async addDelivery(em: EntityManager, requestId: string): Promise<void> {
    await em.execute(
      `insert into delivery (id, request_id, platform, state, attempts, created_at)
       select gen_random_uuid(), r.id, t.platform, 'pending', 0, now() from request r join tenant t on t.id = r.tenant_id where r.id = ?
       on conflict (request_id, kind) do nothing`,
      [requestId],
    );
  }

  private async liveRequestIds(em: EntityManager, separationId: string): Promise<string[]> {
    const rows = await em.find(SeparationRequest, { separation: separationId, state: { $in: LIVE } }, { fields: ['id'] });
    return rows.map((row) => row.id);
  }
}
