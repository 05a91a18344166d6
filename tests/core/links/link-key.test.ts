import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../core/config.js';
import { loadLinkKey } from '../../../core/links/link-key.js';
import { openStemsLinks } from '../../../core/links/stems-links.js';
import { openRuntime, type Runtime } from '../../../core/runtime.js';
import { captureLogger, createTestDatabase, makeTempDir, uniqueNamespace, type TestDatabase } from '../../support/services.js';

const SECRET = 'an operator-chosen secret of 32+ characters';
const REQUEST = '0d5b7a4e-3c2f-4a1b-8e9d-6c5b4a3f2e1d';

async function keyRows(url: string): Promise<{ name: string; key: Buffer }[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const result = await client.query<{ name: string; key: Buffer }>('select name, key from signing_key');
  await client.end();
  return result.rows;
}

describe('the link signing key', () => {
  let database: TestDatabase;
  let temp: { dir: string; remove(): Promise<void> };
  const runtimes: Runtime[] = [];
  const open = async (env: Record<string, string> = {}) => {
    const config = parseConfig({ DATABASE_URL: database.url, QUEUE_NAMESPACE: uniqueNamespace(), DATA_DIR: temp.dir, ...env });
    const runtime = await openRuntime(config, captureLogger().logger);
    runtimes.push(runtime);
    return { runtime, config };
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    temp = await makeTempDir();
  });
  afterAll(async () => {
    for (const runtime of runtimes) await runtime.close();
    await database?.drop();
    await temp?.remove();
  });

  it('is made once, even by processes starting at the same moment, and every one of them reads the same key', async () => {
    const [first, second] = await Promise.all([open(), open()]);
    const keys = await Promise.all([first, second, first, second, first, second].map(({ runtime }) => loadLinkKey(runtime.orm.em, undefined)));
    const rows = await keyRows(database.url);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.name).toBe('links');
    expect(rows[0]?.key).toHaveLength(32);
    for (const key of keys) expect(key.equals(rows[0]?.key as Buffer)).toBe(true);
  });

  it('survives a restart: a link signed before verifies after', async () => {
    const before = await open();
    const url = (await openStemsLinks(before.runtime.orm.em, before.config)).linkFor({ id: REQUEST, finishedAt: new Date() }).url;
    const after = await open();
    const token = url.split('/s/')[1] as string;
    expect((await openStemsLinks(after.runtime.orm.em, after.config)).verify(token)).toMatchObject({ requestId: REQUEST });
  });

  it('is LINK_SECRET when set, and then links from the database key do not verify, nor the other way round', async () => {
    const withDatabaseKey = await open();
    const withSecret = await open({ LINK_SECRET: SECRET });
    expect((await loadLinkKey(withSecret.runtime.orm.em, SECRET)).toString()).toBe(SECRET);
    const fromDatabase = await openStemsLinks(withDatabaseKey.runtime.orm.em, withDatabaseKey.config);
    const fromSecret = await openStemsLinks(withSecret.runtime.orm.em, withSecret.config);
    const tokenOf = (url: string) => url.split('/s/')[1] as string;
    const databaseToken = tokenOf(fromDatabase.linkFor({ id: REQUEST, finishedAt: new Date() }).url);
    const secretToken = tokenOf(fromSecret.linkFor({ id: REQUEST, finishedAt: new Date() }).url);
    expect(fromSecret.verify(secretToken)).toMatchObject({ requestId: REQUEST });
    expect(fromSecret.verify(databaseToken)).toEqual({ error: 'invalid' });
    expect(fromDatabase.verify(secretToken)).toEqual({ error: 'invalid' });
    // Another process with the same LINK_SECRET checks alike.
    const twin = await open({ LINK_SECRET: SECRET });
    expect((await openStemsLinks(twin.runtime.orm.em, twin.config)).verify(secretToken)).toMatchObject({ requestId: REQUEST });
  });

  it('refuses a damaged key in the database rather than signing with it', async () => {
    const { runtime } = await open();
    await runtime.orm.em.getConnection().execute('update signing_key set key = ? where name = ?', [Buffer.alloc(3), 'links']);
    await expect(loadLinkKey(runtime.orm.em, undefined)).rejects.toThrow(/missing or damaged/);
  });
});
