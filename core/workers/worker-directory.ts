import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { WORKER_STATES, type ModelFetchState, type WorkerState } from '../db/entities/worker-presence.js';

/** What a worker says of itself each heartbeat. */
export const workerAnnouncementSchema = z.object({
  id: z.string().min(1).max(200),
  host: z.string().min(1).max(255),
  device: z.enum(['cpu', 'cuda', 'unknown']),
  models: z.array(z.string().min(1).max(100)),
  fetching: z.array(z.object({ model: z.string().min(1).max(100), fraction: z.number().min(0).max(1).optional(), error: z.string().max(300).optional() })),
  concurrency: z.number().int().positive(),
  state: z.enum(WORKER_STATES),
  /** How long the row stays alive without another announcement: two heartbeats. */
  ttlSeconds: z.number().positive(),
});
export type WorkerAnnouncement = z.input<typeof workerAnnouncementSchema>;

/** A worker as core and adapters see it: plain data, no entity. */
export interface LiveWorker {
  id: string;
  host: string;
  device: string;
  models: string[];
  fetching: ModelFetchState[];
  concurrency: number;
  state: WorkerState;
  startedAt: Date;
  heartbeatAt: Date;
  /** Seconds since its last heartbeat, by the database's clock (the reader's may be skewed). */
  heartbeatAgeSeconds: number;
}

/** Whether some live worker can run a model now, or is still fetching it. */
export type ModelAvailability =
  | { kind: 'served'; workers: number }
  /** `failing`: every worker fetching it saw its last try fail (the model host is down, a checksum is wrong). */
  | { kind: 'fetching'; fraction: number | undefined; failing: boolean }
  | { kind: 'none' };

/** Rows that died this long ago are deleted when a worker announces itself: status lists the living. */
const FORGET_DEAD_AFTER = '1 day';

const rowSchema = z.object({
  id: z.string(),
  host: z.string(),
  device: z.string(),
  models: z.array(z.string()),
  fetching: z.array(z.object({ model: z.string(), fraction: z.number().optional(), error: z.string().optional() })),
  concurrency: z.number(),
  state: z.enum(WORKER_STATES),
  started_at: z.coerce.date(),
  heartbeat_at: z.coerce.date(),
  heartbeat_age: z.coerce.number(),
});

/**
 * The workers that announced themselves in this database. Liveness is judged by the database's own
 * clock (`now()`), both when a worker writes its expiry and when anyone reads it.
 */
export class WorkerDirectory {
  constructor(private readonly em: EntityManager) {}

  async announce(announcement: WorkerAnnouncement): Promise<void> {
    const a = workerAnnouncementSchema.parse(announcement);
    await this.em.fork().execute(
      `insert into worker (id, host, device, models, fetching, concurrency, state, started_at, heartbeat_at, expires_at)
       values (?, ?, ?, ?::jsonb, ?::jsonb, ?, ?, now(), now(), now() + make_interval(secs => ?))
       on conflict (id) do update set host = excluded.host, device = excluded.device, models = excluded.models, fetching = excluded.fetching,
         concurrency = excluded.concurrency, state = excluded.state, heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at`,
      [a.id, a.host, a.device, JSON.stringify(a.models), JSON.stringify(a.fetching), a.concurrency, a.state, a.ttlSeconds],
    );
  }

  /** A worker that stops cleanly leaves at once rather than expiring. */
  async remove(id: string): Promise<void> {
    await this.em.fork().execute('delete from worker where id = ?', [id]);
  }

  async forgetDead(): Promise<void> {
    await this.em.fork().execute(`delete from worker where expires_at < now() - interval '${FORGET_DEAD_AFTER}'`);
  }

  /** Workers whose last heartbeat has not expired, oldest first. */
  async live(): Promise<LiveWorker[]> {
    const rows = await this.em
      .fork()
      .execute('select id, host, device, models, fetching, concurrency, state, started_at, heartbeat_at, extract(epoch from now() - heartbeat_at)::float8 as heartbeat_age from worker where expires_at > now() order by started_at, id');
    return z
      .array(rowSchema)
      .parse(rows)
      .map((row) => ({
        id: row.id,
        host: row.host,
        device: row.device,
        models: row.models,
        fetching: row.fetching,
        concurrency: row.concurrency,
        state: row.state,
        startedAt: row.started_at,
        heartbeatAt: row.heartbeat_at,
        heartbeatAgeSeconds: Math.max(0, row.heartbeat_age),
      }));
  }

  async availabilityOf(model: string): Promise<ModelAvailability> {
    const workers = await this.live();
    const serving = workers.filter((worker) => worker.state === 'ready' && worker.models.includes(model));
    if (serving.length > 0) return { kind: 'served', workers: serving.length };
    const fetches = workers.filter((worker) => worker.state !== 'stopping').flatMap((worker) => worker.fetching.filter((fetch) => fetch.model === model));
    if (fetches.length === 0) return { kind: 'none' };
    const fractions = fetches.map((fetch) => fetch.fraction).filter((fraction): fraction is number => fraction !== undefined);
    return { kind: 'fetching', fraction: fractions.length > 0 ? Math.max(...fractions) : undefined, failing: fetches.every((fetch) => fetch.error !== undefined) };
  }
}
