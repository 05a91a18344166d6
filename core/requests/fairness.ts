import type { EntityManager } from '@mikro-orm/postgresql';
import { SeparationRequest } from '../db/entities/index.js';

/**
 * Fairness between guilds: a job's BullMQ priority is 1 + the number of its guild's requests
 * already waiting. A guild's first waiting job goes ahead of another guild's tenth, so one busy
 * guild cannot starve the others; within a guild, order stays first come, first served. The
 * per-guild concurrency quota caps how deep any one guild's backlog can grow at all.
 */
export async function fairPriority(em: EntityManager, tenantId: string, excludeRequestId?: string): Promise<number> {
  const waiting = await em.count(SeparationRequest, {
    tenant: tenantId,
    state: 'queued',
    ...(excludeRequestId ? { id: { $ne: excludeRequestId } } : {}),
  });
  return 1 + waiting;
}
