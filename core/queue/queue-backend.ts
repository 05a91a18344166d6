import { Queue, QueueEvents, Worker, createPostgresBackend, createRedisBackend, runMigrations, type Processor } from 'bullmq';
import pg from 'pg';
import type { RedisOptions } from 'ioredis';
import type { Logger } from '../logging.js';
import { redactUrl } from '../logging.js';
import { STEMBOT_QUEUE, type JobData, type JobProgress, type JobResult } from './jobs.js';

/** Where the queue lives: Redis when REDIS_URL is set, else BullMQ's PostgreSQL backend. */
export type QueueConnection =
  | { kind: 'redis'; url: string; prefix: string }
  | { kind: 'postgres'; url: string; schema: string };

export function chooseQueueConnection(settings: { redisUrl?: string; databaseUrl: string; namespace: string }): QueueConnection {
  if (settings.redisUrl) return { kind: 'redis', url: settings.redisUrl, prefix: settings.namespace };
  return { kind: 'postgres', url: settings.databaseUrl, schema: settings.namespace };
}

export function describeQueueConnection(connection: QueueConnection): string {
  return `${connection.kind} ${redactUrl(connection.url)} (${connection.kind === 'redis' ? 'prefix' : 'schema'} ${connection.kind === 'redis' ? connection.prefix : connection.schema})`;
}

export type StembotQueue = Queue<JobData, JobResult, string>;
export type StembotWorker = Worker<JobData, JobResult, string>;
export type StembotQueueEvents = QueueEvents<JobResult>;
export type JobProcessor = Processor<JobData, JobResult, string, JobProgress>;

export interface WorkerSettings {
  concurrency: number;
  /** How long a job's lock lives without renewal before another worker may take it over. */
  lockDurationMs?: number;
  /** How often workers look for jobs whose holder died. */
  stalledIntervalMs?: number;
}

/**
 * Builds the queue, worker and events objects for one connection. Both backends go through the
 * same BullMQ classes; only the backend factory and its connection options differ.
 */
export class QueueFactory {
  constructor(
    readonly connection: QueueConnection,
    private readonly logger: Logger,
  ) {}

  createQueue(): StembotQueue {
    return this.withBackend((opts, factory) => new Queue<JobData, JobResult, string>(STEMBOT_QUEUE, opts, factory));
  }

  /** Reads events after `lastEventId` (the relay's saved place; `0` for all the stream keeps), or from now on when it is unset. */
  createQueueEvents(lastEventId?: string): StembotQueueEvents {
    return this.withBackend((opts, factory) => new QueueEvents<JobResult>(STEMBOT_QUEUE, { ...opts, autorun: true, ...(lastEventId ? { lastEventId } : {}) }, factory));
  }

  createWorker(processor: JobProcessor, options: WorkerSettings): StembotWorker {
    return this.withBackend(
      (opts, factory) =>
        new Worker<JobData, JobResult, string>(
          STEMBOT_QUEUE,
          processor as Processor<JobData, JobResult, string>,
          {
            ...opts,
            concurrency: options.concurrency,
            lockDuration: options.lockDurationMs ?? 30_000,
            stalledInterval: options.stalledIntervalMs ?? 30_000,
            autorun: true,
          },
          factory,
        ),
    );
  }

  private withBackend<T>(build: (opts: { connection: never; prefix?: string }, factory: never) => T): T {
    // The two factories have different connection types; this is the one place they meet.
    const connection = this.connection;
    if (connection.kind === 'redis') {
      return build({ connection: redisOptionsFromUrl(connection.url, this.logger) as never, prefix: connection.prefix }, createRedisBackend as never);
    }
    return build({ connection: { connectionString: connection.url, schema: connection.schema } as never }, createPostgresBackend as never);
  }
}

/** BullMQ owns (and closes) connections it builds from options, not clients handed to it. */
function redisOptionsFromUrl(url: string, logger: Logger): RedisOptions {
  const parsed = new URL(url);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  return {
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: Number.isInteger(db) ? db : 0,
    tls: parsed.protocol === 'rediss:' ? {} : undefined,
    retryStrategy: (times) => {
      if (times === 1 || times % 20 === 0) logger.warn({ attempt: times }, 'redis unreachable, retrying');
      return Math.min(times * 200, 5_000);
    },
  };
}

/**
 * Creates or upgrades BullMQ's tables when the queue lives in PostgreSQL (Redis needs nothing).
 * BullMQ takes its own advisory lock, so concurrent starts are safe.
 */
export async function migrateQueueStore(connection: QueueConnection): Promise<void> {
  if (connection.kind !== 'postgres') return;
  const client = new pg.Client({ connectionString: connection.url });
  await client.connect();
  try {
    await runMigrations(client, connection.schema);
  } finally {
    await client.end();
  }
}
