import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Separation, SeparationRequest, Tenant, type Platform } from '../db/entities/index.js';
import { UserError } from '../errors.js';
import type { JobProducer } from '../queue/job-producer.js';
import { jobIdOf } from '../queue/jobs.js';
import { settleQuota } from '../quotas/quota-ledger.js';
import type { RequestUpdates } from '../request-updates.js';

export interface Canceller {
  userId: string;
  /** The adapter checked the platform's admin permission in `tenant`; core only records it. */
  isAdmin: boolean;
  /**
   * The guild or workspace the cancel came from. Admin powers reach only that tenant's requests:
   * an admin of one server is nobody in another. Without it, `isAdmin` counts for nothing.
   */
  tenant?: { platform: Platform; externalId: string };
}

/**
 * Cancels a request: refunds it, and stops its separation when no other request waits on it. A
 * running job is stopped by its worker, which watches the separation's state (so a cancel from
 * any process reaches whichever worker holds the job, on either queue backend).
 */
export async function cancelRequest(deps: { em: EntityManager; producer: JobProducer; updates: RequestUpdates }, requestId: string, by: Canceller): Promise<void> {
  const stopSeparation = await deps.em.fork().transactional(async (tx) => {
    const em = tx as EntityManager;
    const request = await em.findOne(SeparationRequest, requestId, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!request) throw new UserError('request_not_found', 'That request does not exist any more.');
    // The same refusal for another tenant's request as for a stranger's: it tells nobody what exists elsewhere.
    if (request.userId !== by.userId && !(await isAdminOf(em, request.tenant.id, by))) throw new UserError('not_your_request', 'Only the person who asked, or an admin, can cancel this.');
    if (request.state !== 'queued' && request.state !== 'running') throw new UserError('already_finished', `That request has already ${request.state === 'cancelled' ? 'been cancelled' : request.state}.`);
    request.state = 'cancelled';
    request.finishedAt = new Date();
    request.errorCode = 'cancelled';
    request.errorMessage = `Cancelled by ${by.userId === request.userId ? 'the requester' : 'an admin'}.`;
    await em.flush();
    await settleQuota(em, request.id, 'refund');
    if (!request.separation) return undefined;
    const separation = await em.findOneOrFail(Separation, request.separation.id);
    const others = await em.count(SeparationRequest, { separation: separation.id, state: { $in: ['queued', 'running'] } });
    if (others > 0 || (separation.state !== 'queued' && separation.state !== 'running')) return undefined;
    await em.nativeUpdate(Separation, { id: separation.id, state: { $in: ['queued', 'running'] } }, { state: 'cancelled', errorCode: 'cancelled', finishedAt: new Date() });
    return separation.id;
  });
  if (stopSeparation) await deps.producer.removeIfWaiting(jobIdOf({ kind: 'separate', separationId: stopSeparation }));
  await deps.producer.removeIfWaiting(jobIdOf({ kind: 'render', requestId }));
  deps.updates.publish({ type: 'cancelled', requestId });
}

async function isAdminOf(em: EntityManager, tenantId: string, by: Canceller): Promise<boolean> {
  if (!by.isAdmin || !by.tenant) return false;
  return (await em.count(Tenant, { id: tenantId, platform: by.tenant.platform, externalId: by.tenant.externalId })) > 0;
}
