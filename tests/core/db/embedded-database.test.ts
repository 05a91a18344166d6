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
});
