import { fileURLToPath } from 'node:url';
import { MikroORM, PostgreSqlDriver } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import type { Logger } from '../logging.js';
import { ENTITY_SCHEMAS } from './entities/index.js';
import { MIGRATIONS } from '../../migrations/index.js';

export type Orm = MikroORM;

/** Where `stembot migrate --create` writes new migration files: the repository's migrations/. */
export const MIGRATIONS_SOURCE_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

export async function openOrm(options: { databaseUrl: string; logger: Logger; poolMax?: number }): Promise<Orm> {
  const log = options.logger.child({ component: 'orm' });
  return MikroORM.init({
    driver: PostgreSqlDriver,
    clientUrl: options.databaseUrl,
    entities: ENTITY_SCHEMAS,
    extensions: [Migrator],
    pool: { min: 0, max: options.poolMax ?? 10 },
    // Entities are EntitySchema objects: no decorator metadata or ts-morph reflection is needed.
    discovery: { warnWhenNoEntities: true },
    migrations: {
      tableName: 'mikro_orm_migrations',
      // Listed explicitly so compiled (dist/) and source (tsx, vitest) runs find the same set.
      migrationsList: MIGRATIONS,
      path: MIGRATIONS_SOURCE_DIR,
      pathTs: MIGRATIONS_SOURCE_DIR,
      emit: 'ts',
      transactional: true,
      allOrNothing: true,
      snapshot: false,
    },
    logger: (message) => log.debug(message),
    // knex, under MikroORM, reports dropped connections (a database restart) with console.warn.
    driverOptions: {
      log: {
        warn: (message: unknown) => log.warn({ detail: String(message) }, 'database connection warning'),
        error: (message: unknown) => log.error({ detail: String(message) }, 'database connection error'),
        deprecate: (method: unknown, alternative: unknown) => log.debug({ method, alternative }, 'deprecated database call'),
        debug: (message: unknown) => log.debug({ detail: String(message) }, 'database debug'),
      },
    },
    debug: false,
    allowGlobalContext: false,
  });
}
