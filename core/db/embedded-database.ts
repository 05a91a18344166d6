import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logging.js';
import { isProcessRunning } from '../process-liveness.js';
import { startNotificationFanout } from './notification-fanout.js';

/**
 * pglite-socket multiplexes up to this many client connections onto PGlite's single session. Every
 * pool of the all-in-one process connects here (MikroORM's up to 10; BullMQ's queue, worker and
 * events pools of up to 10 each, plus their LISTEN clients), and a connection over the limit is
 * refused, failing its query: the limit is set well above what they can open together.
 */
const EMBEDDED_MAX_CONNECTIONS = 100;

export interface EmbeddedDatabase {
  /** A postgres:// URL any PostgreSQL client (MikroORM, BullMQ) can use while this process runs. */
  url: string;
  stop(): Promise<void>;
}

/**
 * PGlite is a single-process database: two processes opening one data directory would corrupt
 * it. A pid file turns that into a clear start-up error instead.
 */
async function claimDirectory(lockFile: string): Promise<void> {
  try {
    await writeFile(lockFile, String(process.pid), { flag: 'wx' });
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const holder = Number((await readFile(lockFile, 'utf8')).trim());
  if (Number.isInteger(holder) && holder !== process.pid && isProcessRunning(holder)) {
    throw new ConfigError([
      `DATA_DIR: the embedded database in ${path.dirname(lockFile)} is in use by process ${holder}; stop it, choose another DATA_DIR, or set DATABASE_URL to share a PostgreSQL server`,
    ]);
  }
  await writeFile(lockFile, String(process.pid));
}

/**
 * Starts PGlite on disk under `dataDir` and serves it on a loopback port through pglite-socket,
 * so the same PostgreSQL driver, migrations and queue backend run on it as on a real server.
 */
export async function startEmbeddedDatabase(options: { dataDir: string; queueSchema: string; logger: Logger }): Promise<EmbeddedDatabase> {
  const directory = path.join(options.dataDir, 'pglite');
  await mkdir(directory, { recursive: true });
  const lockFile = path.join(options.dataDir, 'pglite.pid');
  await claimDirectory(lockFile);

  const db = await PGlite.create({ dataDir: directory });
  // All socket clients share PGlite's one session, and pglite-socket does not apply a client's
  // `-c search_path` startup option: BullMQ's schema has to be on the shared session's path.
  // public comes first so our own tables are created there.
  await db.exec(`SET search_path TO public, "${options.queueSchema}"`);
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: EMBEDDED_MAX_CONNECTIONS });
  await server.start();
  const [host, port] = server.getServerConn().split(':') as [string, string];
  // Clients connect through the fan-out, so a NOTIFY reaches the connection that LISTENs.
  const fanout = await startNotificationFanout({ host, port: Number(port) });
  const url = `postgres://postgres@${fanout.address}/postgres`;
  options.logger.info({ directory, address: fanout.address }, 'embedded database started');

  return {
    url,
    async stop() {
      await fanout.stop();
      await server.stop();
      await db.close();
      await rm(lockFile, { force: true });
    },
  };
}
