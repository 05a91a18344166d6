import { execFile } from 'node:child_process';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../../../core/db/embedded-database.js';
import { captureLogger, makeTempDir } from '../../support/services.js';

let temp: { dir: string; remove(): Promise<void> };
let database: EmbeddedDatabase;
const clients: pg.Client[] = [];

async function connect(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  clients.push(client);
  return client;
}

/** The directory a socket URL points at: its host, URL-encoded. */
function socketDirectoryOf(url: string): string {
  return decodeURIComponent(new URL(url).hostname);
}

async function modeOf(file: string): Promise<number> {
  return (await stat(file)).mode & 0o777;
}

/**
 * Tries the URL from a process of another local user (nobody), with the same driver the bot uses;
 * answers `connected` or the error code it met.
 */
async function connectAsNobody(url: string): Promise<string> {
  const script = `
    const pg = require(process.argv[1]);
    const client = new pg.Client({ connectionString: process.argv[2] });
    client.connect().then(() => client.query('SELECT 1')).then(
      () => { console.log('connected'); process.exit(0); },
      (error) => { console.log(error.code ?? error.message); process.exit(0); },
    );`;
  const pgPath = createRequire(import.meta.url).resolve('pg');
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script, pgPath, url], { uid: 65534, gid: 65534, cwd: '/' });
  return stdout.trim();
}

beforeAll(async () => {
  temp = await makeTempDir('stembot-embedded-');
  database = await startEmbeddedDatabase({ dataDir: temp.dir, queueSchema: 'stembot', logger: captureLogger('silent').logger });
});

afterAll(async () => {
  for (const client of clients) await client.end().catch(() => undefined);
  await database?.stop();
  await temp?.remove();
});

describe('the embedded database', () => {
  it('delivers a NOTIFY to the connection that LISTENs, not only to the one that sent it', async () => {
    const listener = await connect();
    const sender = await connect();
    await listener.query('LISTEN jobs_ready');
    const heard: string[] = [];
    const first = new Promise<void>((resolve) =>
      listener.on('notification', (message) => {
        heard.push(`${message.channel}:${message.payload}`);
        resolve();
      }),
    );
    await sender.query(`SELECT pg_notify('jobs_ready', 'stembot')`);
    await first;
    // A round trip on the listener after the notify: anything still in flight has arrived by now.
    await listener.query('SELECT 1');
    expect(heard).toEqual(['jobs_ready:stembot']);
  });

  it('passes large results and many statements in flight through unchanged', async () => {
    const client = await connect();
    const { rows } = await client.query<{ text: string }>(`SELECT repeat('ab', 300000) AS text`);
    expect(rows[0]?.text.length).toBe(600_000);
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => client.query<{ n: number }>('SELECT $1::int AS n', [i])));
    expect(answers.map((answer) => answer.rows[0]?.n)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('keeps each client’s parameterised statements whole while many clients run them at once', async () => {
    // Each query is Parse, Bind, Execute, Sync: should another client's statement run between two
    // of them, the unnamed prepared statement is replaced or runs with the other's parameters.
    const many = await Promise.all(Array.from({ length: 8 }, () => connect()));
    const answers = await Promise.all(
      many.map(async (client, c) => {
        const got: string[] = [];
        for (let i = 0; i < 60; i += 1) {
          const value = c * 1000 + i;
          const { rows } = await client.query<{ n: string; tag: string }>('SELECT $1::bigint + 1 AS n, $2::text AS tag', [value, `client-${c}`]);
          got.push(`${rows[0]?.tag}:${rows[0]?.n}`);
        }
        return got;
      }),
    );
    expect(answers).toEqual(many.map((_, c) => Array.from({ length: 60 }, (__, i) => `client-${c}:${c * 1000 + i + 1}`)));
  });

  it('keeps a transaction’s statements together, with other clients waiting until it ends', async () => {
    const [writer, reader] = [await connect(), await connect()];
    await writer.query('CREATE TABLE IF NOT EXISTS gate_probe (n int)');
    await writer.query('BEGIN');
    await writer.query('INSERT INTO gate_probe VALUES ($1)', [1]);
    let read = false;
    const reading = reader.query<{ count: string }>('SELECT count(*) AS count FROM gate_probe').then((result) => {
      read = true;
      return result.rows[0]?.count;
    });
    await writer.query('INSERT INTO gate_probe VALUES ($1)', [2]);
    expect(read).toBe(false);
    await writer.query('COMMIT');
    expect(await reading).toBe('2');
  });

  it('listens only on unix sockets that its own user alone may open', async () => {
    const directory = socketDirectoryOf(database.url);
    expect(directory.startsWith(temp.dir)).toBe(true);
    expect(await modeOf(directory)).toBe(0o700);
    expect(await modeOf(path.join(directory, '.s.PGSQL.5432'))).toBe(0o600);
    expect(await modeOf(path.join(directory, 'pglite.sock'))).toBe(0o600);
  });

  // Only root can run a process as another user; elsewhere the modes above are what is checked.
  it.runIf(process.getuid?.() === 0)('refuses a connection from another local user', async () => {
    // Only the database's own permissions may stand in the way, not the test's private temp dir.
    await chmod(temp.dir, 0o755);
    expect(await connectAsNobody(database.url)).toBe('EACCES');
    const own = await connect();
    expect((await own.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1);
  });
});

describe('the embedded database in a DATA_DIR too deep for a socket path', () => {
  it('serves from a private temp directory instead, and removes it on stop', async () => {
    const deep = await makeTempDir('stembot-embedded-deep-');
    const dataDir = path.join(deep.dir, 'd'.repeat(60), 'e'.repeat(60));
    await mkdir(dataDir, { recursive: true });
    const deepDatabase = await startEmbeddedDatabase({ dataDir, queueSchema: 'stembot', logger: captureLogger('silent').logger });
    const directory = socketDirectoryOf(deepDatabase.url);
    try {
      expect(path.dirname(directory)).toBe(tmpdir());
      expect(await modeOf(directory)).toBe(0o700);
      expect(await modeOf(path.join(directory, '.s.PGSQL.5432'))).toBe(0o600);
      const client = new pg.Client({ connectionString: deepDatabase.url });
      await client.connect();
      const { rows } = await client.query<{ one: number }>('SELECT 1 AS one');
      await client.end();
      expect(rows[0]?.one).toBe(1);
    } finally {
      await deepDatabase.stop();
      await deep.remove();
    }
    await expect(stat(directory)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
