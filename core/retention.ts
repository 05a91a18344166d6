import type { EntityManager } from '@mikro-orm/postgresql';
import { Separation, SeparationRequest } from './db/entities/index.js';
import type { Logger } from './logging.js';
import { separationPrefix, type Storage } from './storage.js';

/** How often the retention job scheduler runs the sweep. */
export const RETENTION_EVERY_MS = 60 * 60 * 1000;

/**
 * Deletes what is past retention: finished requests (and their deliveries, by cascade), then
 * finished separations no request points at any more, with their stored files. The usage ledger
 * is kept: it is the history quotas and billing questions are answered from.
 */
export async function sweepRetention(em: EntityManager, storage: Storage, retentionDays: number, logger: Logger, now = new Date()): Promise<{ separations: number; requests: number }> {
  const cutoff = new Date(now.getTime() - retentionDays * 24 * 3600 * 1000);
  const fork = em.fork();
  const requests = await fork.nativeDelete(SeparationRequest, { state: { $nin: ['queued', 'running'] }, finishedAt: { $lt: cutoff } });
  const stale = await fork.find(
    Separation,
    { state: { $nin: ['queued', 'running'] }, $or: [{ finishedAt: { $lt: cutoff } }, { finishedAt: null, createdAt: { $lt: cutoff } }] },
    { fields: ['id'] },
  );
  let separations = 0;
  for (const { id } of stale) {
    if ((await fork.count(SeparationRequest, { separation: id })) > 0) continue;
    await storage.removeTree(separationPrefix(id));
    separations += await fork.nativeDelete(Separation, { id });
  }
  if (requests + separations > 0) logger.info({ requests, separations, retentionDays }, 'retention sweep removed old work');
  return { separations, requests };
}
