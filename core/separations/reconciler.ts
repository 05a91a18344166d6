import type { EntityManager } from '@mikro-orm/postgresql';
import { Separation, SeparationRequest } from '../db/entities/index.js';
import { toErrorCode } from '../errors.js';
import type { Logger } from '../logging.js';
import type { JobProducer, JobStanding } from '../queue/job-producer.js';
import { formatFailure, jobIdOf, jobResultSchema, type JobRef } from '../queue/jobs.js';
import type { StateRecorder } from './state-recorder.js';

const LIVE: ('queued' | 'running')[] = ['queued', 'running'];
/** A job found missing is put back once; missing again, its request fails and is refunded. */
const MAX_REQUEUES = 1;
/** Rows looked at per pass, oldest first; the next pass takes the rest. */
const BATCH = 200;

export const LOST_FAILURE = formatFailure('job_lost', 'The job queue lost this track’s job; nothing was charged. Please ask again.');
export const STALLED_FAILURE = formatFailure('job_stalled', 'The worker separating this track stopped responding; nothing was charged. Please try again.');

export interface ReconcilerSettings {
  /** A job taken up but silent (no progress) for this long has a dead worker: its request fails, refunded. */
  stalledAfterMs: number;
}

interface Pass {
  now: Date;
  watchingSince: number;
}

export interface ReconcileReport {
  recorded: number;
  requeued: number;
  failed: number;
}

/**
 * The relay's safety net. Events can be missed (a relay that was down past the stream's retention,
 * a listener that kept failing) and jobs can vanish (Redis lost its data), which would leave rows
 * `queued` or `running` for good: holding the guild's job slots, and making later requests for the
 * same song join a separation that never ends. A pass compares every live row with BullMQ's own
 * state of its job and settles it through the same recorder the events go through:
 *
 * - completed -> recorded (renders enqueued, results delivered); failed -> failed and refunded;
 * - missing -> enqueued again once, then failed and refunded;
 * - active without a sign of life for `stalledAfterMs` (its worker died and none took it over) ->
 *   failed and refunded;
 * - waiting its turn -> left alone: a queue backlog is not a fault.
 *
 * Rows younger than a grace period are skipped, so a pass never races a submit or a relay that is
 * between recording a separation and enqueueing its renders.
 */
export interface ReconcileOptions {
  /** The time of the pass; tests look ahead with it. Default now. */
  now?: Date;
  /** Since when a relay has been hearing events: silence from before (no relay ran) is not held against a job. Default: this object's creation. */
  watchingSince?: Date;
}

export class Reconciler {
  private readonly created = new Date();

  constructor(
    private readonly em: EntityManager,
    private readonly producer: JobProducer,
    private readonly recorder: StateRecorder,
    private readonly logger: Logger,
    private readonly settings: ReconcilerSettings,
  ) {}

  /** How long a row must sit before a pass judges it. */
  get graceMs(): number {
    return Math.min(30_000, this.settings.stalledAfterMs / 4);
  }

  /** How often the relay runs a pass. */
  get everyMs(): number {
    return Math.max(1_000, Math.min(60_000, this.settings.stalledAfterMs / 4));
  }

  async reconcile(options: ReconcileOptions = {}): Promise<ReconcileReport> {
    const now = options.now ?? new Date();
    const pass: Pass = { now, watchingSince: (options.watchingSince ?? this.created).getTime() };
    const report: ReconcileReport = { recorded: 0, requeued: 0, failed: 0 };
    const settled = new Date(now.getTime() - this.graceMs);
    const em = this.em.fork();
    const separations = await em.find(Separation, { state: { $in: LIVE }, createdAt: { $lt: settled } }, { orderBy: { createdAt: 'asc' }, limit: BATCH });
    for (const separation of separations) await this.settleSeparation(separation, pass, report);
    // Requests whose separation is over but which are not: their render job, or the relay's step after the separation, went missing.
    const requests = await em.find(
      SeparationRequest,
      { state: { $in: LIVE }, $or: [{ separation: null }, { separation: { state: { $nin: LIVE }, finishedAt: { $lt: settled } } }] },
      { populate: ['separation'], orderBy: { createdAt: 'asc' }, limit: BATCH },
    );
    for (const request of requests) await this.settleRequest(request, pass, report);
    if (report.recorded + report.requeued + report.failed > 0) this.logger.warn({ ...report }, 'reconciled rows the queue events had not settled');
    return report;
  }

  private async settleSeparation(separation: Separation, pass: Pass, report: ReconcileReport): Promise<void> {
    const job: JobRef = { kind: 'separate', separationId: separation.id };
    const standing = await this.producer.inspect(jobIdOf(job));
    const lastSign = separation.heartbeatAt ?? separation.startedAt ?? separation.createdAt;
    await this.settle(job, standing, lastSign, pass, report, async () => {
      if (separation.requeues >= MAX_REQUEUES) return false;
      const first = await this.em.fork().findOne(SeparationRequest, { separation: separation.id }, { orderBy: { createdAt: 'asc' }, fields: ['source'] });
      if (!first) return false;
      const claimed = await this.em.fork().nativeUpdate(Separation, { id: separation.id, requeues: separation.requeues, state: { $in: LIVE } }, { requeues: separation.requeues + 1 });
      if (claimed === 0) return true;
      await this.producer.enqueueSeparation({ separationId: separation.id, source: first.source, model: separation.model }, { priority: 1 });
      return true;
    });
  }

  private async settleRequest(request: SeparationRequest, pass: Pass, report: ReconcileReport): Promise<void> {
    const separation = request.separation;
    if (!separation || separation.state !== 'completed') {
      // Its separation ended without taking the request along (the relay stopped in between).
      const reason = separation?.errorCode && separation.errorMessage ? formatFailure(toErrorCode(separation.errorCode), separation.errorMessage) : LOST_FAILURE;
      await this.recorder.failRequests([request.id], reason);
      report.failed += 1;
      return;
    }
    const job: JobRef = { kind: 'render', requestId: request.id };
    const standing = await this.producer.inspect(jobIdOf(job));
    await this.settle(job, standing, request.updatedAt, pass, report, async () => {
      if (request.requeues >= MAX_REQUEUES) return false;
      const claimed = await this.em.fork().nativeUpdate(SeparationRequest, { id: request.id, requeues: request.requeues, state: { $in: LIVE } }, { requeues: request.requeues + 1 });
      if (claimed === 0) return true;
      await this.producer.enqueueRender({ requestId: request.id, separationId: separation.id, options: request.options }, { priority: 1 });
      return true;
    });
  }

  /** `requeue` puts a missing job back and says whether it did; when it may not, the job's requests fail. */
  private async settle(job: JobRef, standing: JobStanding, lastSign: Date, pass: Pass, report: ReconcileReport, requeue: () => Promise<boolean>): Promise<void> {
    const log = this.logger.child({ job, state: standing.state });
    switch (standing.state) {
      case 'completed': {
        const result = jobResultSchema.safeParse(standing.returnvalue);
        if (result.success) await this.recorder.onEvent({ type: 'completed', job, result: result.data });
        else await this.recorder.onEvent({ type: 'failed', job, reason: 'the job finished with a result that does not match its schema' });
        report.recorded += 1;
        return;
      }
      case 'failed':
        await this.recorder.onEvent({ type: 'failed', job, reason: standing.reason });
        report.recorded += 1;
        return;
      case 'missing':
        if (await requeue()) {
          log.warn('job missing from the queue; enqueued it again');
          report.requeued += 1;
        } else {
          log.warn('job missing from the queue again; failing its requests');
          await this.recorder.onEvent({ type: 'failed', job, reason: LOST_FAILURE });
          report.failed += 1;
        }
        return;
      case 'active': {
        const silentSince = Math.max(lastSign.getTime(), pass.watchingSince);
        if (pass.now.getTime() - silentSince < this.settings.stalledAfterMs) return;
        log.warn({ silentMs: pass.now.getTime() - silentSince }, 'job silent past the stall limit; failing its requests');
        await this.producer.remove(jobIdOf(job));
        await this.recorder.onEvent({ type: 'failed', job, reason: STALLED_FAILURE });
        report.failed += 1;
        return;
      }
      case 'waiting':
        return;
    }
  }
}
