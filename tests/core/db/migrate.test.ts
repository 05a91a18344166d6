import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../core/config.js';
import { applyMigrations } from '../../../core/db/migrate.js';
import { openRuntime } from '../../../core/runtime.js';
import { MIGRATIONS } from '../../../migrations/index.js';
import { runStembot } from '../../support/cli.js';
import { captureLogger, createTestDatabase, makeTempDir, uniqueNamespace, type TestDatabase } from '../../support/services.js';
import { seedEmbeddedDatabase } from '../../support/embedded-template.js';

const OUR_TABLES = ['delivery', 'quota_change', 'relay_cursor', 'request', 'separation', 'signing_key', 'slack_installation', 'tenant', 'usage_entry', 'worker'];

async function tablesIn(url: string, schema: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const result = await client.query<{ table_name: string }>(
    "select table_name from information_schema.tables where table_schema = $1 and table_type = 'BASE TABLE' order by table_name",
    [schema],
  );
  await client.end();
  return result.rows.map((row) => row.table_name);
}

describe('migrations on PostgreSQL', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => database.drop());

  it('apply on an empty database, and a second run is a no-op', async () => {
    const { logger } = captureLogger();
    const namespace = uniqueNamespace();
    const runtime = await openRuntime(parseConfig({ DATABASE_URL: database.url, QUEUE_NAMESPACE: namespace }), logger);
    try {
      expect(await tablesIn(database.url, 'public')).toEqual([...OUR_TABLES, 'mikro_orm_migrations'].sort());
      expect(await tablesIn(database.url, namespace)).toEqual(expect.arrayContaining(['job', 'event', 'scheduler']));
      expect(await applyMigrations(runtime.orm, runtime.databaseUrl, logger)).toEqual([]);
    } finally {
      await runtime.close();
    }
  });
});

describe('two processes migrating at once', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => database.drop());

  it('do not collide: both succeed and each migration is applied once', async () => {
    const temp = await makeTempDir();
    const env = { DATABASE_URL: database.url, LOG_LEVEL: 'warn' };
    const runs = [runStembot(['migrate'], { cwd: temp.dir, env }), runStembot(['migrate'], { cwd: temp.dir, env })];
    const exits = await Promise.all(runs.map((run) => run.exited));
    await temp.remove();
    expect(exits.map((exit) => exit.code), runs.map((run) => run.stderr()).join('\n')).toEqual([0, 0]);
    const outputs = runs.map((run) => run.stdout()).sort();
    expect(outputs[0]).toContain(`applied ${MIGRATIONS.length} migration(s)`);
    expect(outputs[1]).toContain('database schema is up to date');
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const applied = await client.query('select name from mikro_orm_migrations');
    await client.end();
    expect(applied.rows.map((row: { name: string }) => row.name)).toEqual(MIGRATIONS.map((migration) => migration.name));
  });
});

describe('migrations on embedded PGlite', () => {
  it('apply in a fresh data directory, and a restart is a no-op', async () => {
    const temp = await makeTempDir();
    const { logger, lines } = captureLogger();
    const config = parseConfig({ DATA_DIR: temp.dir });
    try {
      const first = await openRuntime(config, logger);
      expect(first.embedded).toBe(true);
      expect(await tablesIn(first.databaseUrl, 'public')).toEqual([...OUR_TABLES, 'mikro_orm_migrations'].sort());
      await first.close();
      const second = await openRuntime(config, logger);
      await second.close();
      const migratedLines = lines().filter((line) => line.msg === 'database migrated');
      expect(migratedLines).toHaveLength(1);
    } finally {
      await temp.remove();
    }
  });

  it('refuses a second process on the same data directory with a clear message', async () => {
    const temp = await makeTempDir();
    // The first process's own start is the test above's: here it only has to hold the directory.
    await seedEmbeddedDatabase(temp.dir);
    const { logger } = captureLogger();
    const runtime = await openRuntime(parseConfig({ DATA_DIR: temp.dir }), logger);
    try {
      const run = runStembot(['migrate'], { cwd: temp.dir, env: { DATA_DIR: temp.dir } });
      const exit = await run.exited;
      expect(exit.code).toBe(2);
      expect(run.stderr()).toMatch(/^stembot: invalid setting DATA_DIR: the embedded database in .* is in use by process \d+/);
    } finally {
      await runtime.close();
      await temp.remove();
    }
  });
});
