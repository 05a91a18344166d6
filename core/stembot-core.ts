import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from './config.js';
import { SeparationRequest, type PlatformMessage } from './db/entities/index.js';
import { Outbox } from './delivery/outbox.js';
import type { Platform } from './db/entities/tenant.js';
import { UserError } from './errors.js';
import type { Logger } from './logging.js';
import { JobProducer } from './queue/job-producer.js';
import type { QueueFactory } from './queue/queue-backend.js';
import { QuotaService } from './quotas/quota-service.js';
import { RequestUpdates, type RequestUpdateListener } from './request-updates.js';
import { cancelRequest, type Canceller } from './requests/cancel.js';
import { latestActiveRequest, listRequests, requestStatus, type RequestSummary } from './requests/request-queries.js';
import { submit, type SubmitInput, type SubmitOutcome } from './requests/submit.js';
import { RETENTION_EVERY_MS } from './retention.js';
import { Reconciler } from './separations/reconciler.js';
import { StateRecorder } from './separations/state-recorder.js';
import type { SourceFetchers } from './sources.js';
import { createStorage, type ConfiguredStorage } from './storage.js';
import { readClusterStatus, type ClusterStatus } from './workers/cluster-status.js';
import { WorkerDirectory } from './workers/worker-directory.js';
import { openStemsLinks, type StemsLinks } from './links/stems-links.js';

export interface StembotCoreDeps {
  em: EntityManager;
  config: Config;
  queues: QueueFactory;
  fetchers: SourceFetchers;
  logger: Logger;
}

export interface TenantUser {
  platform: Platform;
  tenantId: string;
  userId: string;
}

/**
 * Everything a chat adapter needs, platform-free. Adapters translate platform events into these
 * calls and render what comes back (and what `subscribe` and the outbox deliver) as messages.
 */
export class StembotCore {
  readonly updates = new RequestUpdates();
  readonly outbox: Outbox;
  readonly quota: QuotaService;
  /** Where stems are stored: STORAGE_DIR, or the bucket STORAGE_URL names. */
  readonly storage: ConfiguredStorage;
  /** Feed it the relay's queue events (the relay role does) to move requests along. */
  readonly recorder: StateRecorder;
  /** Settles what the events missed; the relay role runs it. */
  readonly reconciler: Reconciler;
  /** The workers that announced themselves: what submit checks models against, and what status lists. */
  readonly workers: WorkerDirectory;
  private readonly producer: JobProducer;
  private links: Promise<StemsLinks> | undefined;

  constructor(private readonly deps: StembotCoreDeps) {
    this.producer = new JobProducer(deps.queues.createQueue(), deps.config.worker.retryDelaySeconds * 1000);
    this.outbox = new Outbox(deps.em);
    this.quota = new QuotaService(deps.em, deps.config.quotaDefaults);
    this.storage = createStorage(deps.config);
    this.workers = new WorkerDirectory(deps.em);
    this.recorder = new StateRecorder(deps.em, this.producer, this.updates, deps.logger.child({ component: 'state' }));
    this.reconciler = new Reconciler(deps.em, this.producer, this.recorder, deps.logger.child({ component: 'reconciler' }), { stalledAfterMs: deps.config.worker.stalledSeconds * 1000 });
  }

  /** Validates, describes the source, reserves quota and queues the work; refusals are UserErrors. */
  async submit(input: SubmitInput): Promise<SubmitOutcome> {
    const outcome = await submit({ em: this.deps.em, config: this.deps.config, fetchers: this.deps.fetchers, producer: this.producer, workers: this.workers, logger: this.deps.logger }, input);
    this.updates.publish({ type: 'queued', requestId: outcome.requestId, position: outcome.position });
    return outcome;
  }

  async cancel(requestId: string, by: Canceller): Promise<void> {
    await cancelRequest({ em: this.deps.em, producer: this.producer, updates: this.updates }, requestId, by);
  }

  /** `/cancel` with no argument: the user's newest request still in flight. */
  async cancelLatest(who: TenantUser, isAdmin: boolean): Promise<string> {
    const requestId = await latestActiveRequest(this.deps.em, { platform: who.platform, externalId: who.tenantId }, who.userId);
    if (!requestId) throw new UserError('nothing_to_cancel', 'You have nothing queued or running here.');
    await this.cancel(requestId, { userId: who.userId, isAdmin, tenant: { platform: who.platform, externalId: who.tenantId } });
    return requestId;
  }

  async status(requestId: string): Promise<RequestSummary> {
    return requestStatus(this.deps.em, requestId);
  }

  async list(who: TenantUser, cursor?: string, pageSize = 5): Promise<{ items: RequestSummary[]; nextCursor?: string }> {
    return listRequests(this.deps.em, { platform: who.platform, externalId: who.tenantId }, who.userId, cursor, pageSize);
  }

  /** Adapters keep where a request is shown (it can move, e.g. from a reply to a channel message). */
  async rememberMessage(requestId: string, platformMessage: PlatformMessage): Promise<void> {
    await this.deps.em.fork().nativeUpdate(SeparationRequest, { id: requestId }, { platformMessage });
  }

  subscribe(listener: RequestUpdateListener, requestId?: string): () => void {
    return this.updates.subscribe(listener, requestId);
  }

  /**
   * A signed link to a finished request's stems page (mixer and downloads), for results that do
   * not fit as attachments. The signing key is read (or made) in the database once per process.
   */
  async stemsLink(request: { requestId: string; finishedAt?: Date }): Promise<{ url: string; expiresAt: Date }> {
    if (!this.links) {
      const opening = openStemsLinks(this.deps.em, this.deps.config);
      // A key that could not be read is asked for again next time, not remembered as failed.
      opening.catch(() => (this.links = undefined));
      this.links = opening;
    }
    return (await this.links).linkFor({ id: request.requestId, finishedAt: request.finishedAt });
  }

  /** Workers, queue and the last hour's waits, for `stembot status`, /status and /metrics. */
  async clusterStatus(): Promise<ClusterStatus> {
    return readClusterStatus({ em: this.deps.em, producer: this.producer, workers: this.workers });
  }

  /** Jobs by BullMQ state; it asks the queue backend itself, so it also tells whether that is reachable. */
  async jobCounts(): Promise<Record<string, number>> {
    return this.producer.jobCounts();
  }

  async scheduleRetention(): Promise<void> {
    await this.producer.scheduleRetention(RETENTION_EVERY_MS);
  }

  async close(): Promise<void> {
    await this.producer.close();
  }
}
