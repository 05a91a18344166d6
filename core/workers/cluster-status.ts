import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import type { JobCountState, JobProducer } from '../queue/job-producer.js';
import type { LiveWorker, WorkerDirectory } from './worker-directory.js';

/** The whole deployment at a glance, as plain data: for `stembot status`, /status and /metrics. */
export interface ClusterStatus {
  workers: LiveWorker[];
  jobs: Record<JobCountState, number>;
  /** Jobs no worker has taken yet. */
  queueDepth: number;
  /** Separations a worker is running now. */
  running: number;
  lastHour: {
    /** Separations a worker started in the last hour. */
    started: number;
    /** Median time from a separation being asked for to a worker starting it; undefined when none started. */
    medianWaitSeconds: number | undefined;
    /** Separations that finished in the last hour. */
    finished: number;
    /** Median time a worker took for one, start to stems stored. */
    medianSeparationSeconds: number | undefined;
  };
}

const statsSchema = z.object({
  running: z.coerce.number(),
  started: z.coerce.number(),
  median_wait: z.coerce.number().nullable(),
  finished: z.coerce.number(),
  median_separation: z.coerce.number().nullable(),
});

export function queueDepthOf(jobs: Record<JobCountState, number>): number {
  return jobs.waiting + jobs.prioritized + jobs.delayed;
}

export async function readClusterStatus(deps: { em: EntityManager; producer: JobProducer; workers: WorkerDirectory }): Promise<ClusterStatus> {
  const [workers, jobs, rows] = await Promise.all([
    deps.workers.live(),
    deps.producer.jobCounts(),
    // Times are the database's: separations are stamped by workers and relays on several machines.
    deps.em.fork().execute(
      `select
         (select count(*) from separation where state = 'running') as running,
         count(*) filter (where started_at > now() - interval '1 hour') as started,
         percentile_cont(0.5) within group (order by extract(epoch from started_at - created_at)) filter (where started_at > now() - interval '1 hour') as median_wait,
         count(*) filter (where state = 'completed' and finished_at > now() - interval '1 hour') as finished,
         percentile_cont(0.5) within group (order by extract(epoch from finished_at - started_at)) filter (where state = 'completed' and finished_at > now() - interval '1 hour') as median_separation
       from separation
       where started_at > now() - interval '1 hour' or finished_at > now() - interval '1 hour'`,
    ),
  ]);
  const stats = statsSchema.parse(rows[0]);
  return {
    workers,
    jobs,
    queueDepth: queueDepthOf(jobs),
    running: stats.running,
    lastHour: {
      started: stats.started,
      medianWaitSeconds: stats.median_wait ?? undefined,
      finished: stats.finished,
      medianSeparationSeconds: stats.median_separation ?? undefined,
    },
  };
}
