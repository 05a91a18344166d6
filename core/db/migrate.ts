import pg from 'pg';
import type { Logger } from '../logging.js';
import type { Orm } from './orm.js';

/** Session advisory-lock key that serialises migrations across processes ("stembot" in ASCII-ish). */
const MIGRATION_LOCK_KEY = 0x5_7e_4b_07;

/**
 * Applies pending migrations. Several processes may start at once (a bot and many workers): each
 * takes a PostgreSQL advisory lock first, so one migrates and the others then find nothing to do.
 */
export async function applyMigrations(orm: Orm, databaseUrl: string, logger: Logger): Promise<string[]> {
  const lock = new pg.Client({ connectionString: databaseUrl });
  await lock.connect();
  try {
    await lock.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const applied = await orm.getMigrator().up();
    const names = applied.map((migration) => migration.name);
    if (names.length > 0) logger.info({ migrations: names }, 'database migrated');
    else logger.debug('database schema up to date');
    return names;
  } finally {
    await lock.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await lock.end();
  }
}

/** Development: writes a migration for the difference between the entities and the database. */
export async function createMigration(orm: Orm): Promise<string | undefined> {
  const result = await orm.getMigrator().createMigration();
  return result.diff.up.length > 0 ? result.fileName : undefined;
}
