import type { Config } from './config.js';
import { runningEmbeddedUrl, startEmbeddedDatabase, type EmbeddedDatabase } from './db/embedded-database.js';
import { applyMigrations } from './db/migrate.js';
import { openOrm, type Orm } from './db/orm.js';
import type { Logger } from './logging.js';
import { redactUrl } from './logging.js';
import { QueueFactory, chooseQueueConnection, describeQueueConnection, migrateQueueStore } from './queue/queue-backend.js';

/** What every role of a process shares: the database (embedded or not) and the queue's home. */
export interface Runtime {
  databaseUrl: string;
  embedded: boolean;
  orm: Orm;
  queues: QueueFactory;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  migrate: boolean;
  /**
   * With the embedded database: be a client of the stembot process that already serves it from
   * DATA_DIR, if one runs (for `stembot status`), instead of refusing to start.
   */
  shareEmbedded?: boolean;
}

export async function openRuntime(config: Config, logger: Logger, options: RuntimeOptions = { migrate: true }): Promise<Runtime> {
  let embedded: EmbeddedDatabase | undefined;
  const shared = !config.databaseUrl && options.shareEmbedded ? await runningEmbeddedUrl(config.dataDir) : undefined;
  if (!config.databaseUrl && !shared) embedded = await startEmbeddedDatabase({ dataDir: config.dataDir, queueSchema: config.queueNamespace, logger });
  const databaseUrl = config.databaseUrl ?? shared ?? (embedded as EmbeddedDatabase).url;
  const queues = new QueueFactory(chooseQueueConnection({ redisUrl: config.redisUrl, databaseUrl, namespace: config.queueNamespace }), logger);
  let orm: Orm | undefined;
  try {
    orm = await openOrm({ databaseUrl, logger });
    // A shared embedded database was migrated by the process that serves it.
    if (options.migrate && !shared) {
      await applyMigrations(orm, databaseUrl, logger);
      await migrateQueueStore(queues.connection);
    }
  } catch (error) {
    await orm?.close();
    await embedded?.stop();
    throw error;
  }
  logger.info({ database: embedded ? `embedded (${config.dataDir})` : shared ? `embedded, served by another process (${config.dataDir})` : redactUrl(databaseUrl), queue: describeQueueConnection(queues.connection) }, 'runtime ready');
  const openOrmInstance = orm;
  return {
    databaseUrl,
    embedded: embedded !== undefined,
    orm: openOrmInstance,
    queues,
    async close() {
      await openOrmInstance.close();
      await embedded?.stop();
    },
  };
}
