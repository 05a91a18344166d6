import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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

/**
 * On a unix socket the port only names the file: clients connect to `<host>/.s.PGSQL.<port>`, as
 * they do to a local PostgreSQL server.
 */
const SOCKET_PORT = 5432;
const CLIENT_SOCKET = `.s.PGSQL.${SOCKET_PORT}`;
/** pglite-socket's own socket, which only the notification fan-out connects to. */
const UPSTREAM_SOCKET = 'pglite.sock';
/** A socket path fits in sun_path: 108 bytes on Linux, 104 on macOS, the trailing NUL included. */
const MAX_SOCKET_PATH_BYTES = 103;

export interface EmbeddedDatabase {
  /**
   * A postgres:// URL any PostgreSQL client (MikroORM, BullMQ) can use while this process runs. Its
   * host is the socket directory, URL-encoded: node-postgres, and knex under MikroORM, read a host
   * that starts with `/` as a unix socket directory.
   */
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

/** Beside the pid lock: the socket URL of the process that holds the embedded database. */
const URL_FILE = 'pglite.url';

/**
 * The embedded database another live stembot process serves from `dataDir`, if one does: a
 * second process may not open PGlite's files, but it may be a client of that process's socket.
 */
export async function runningEmbeddedUrl(dataDir: string): Promise<string | undefined> {
  const read = (file: string) => readFile(path.join(path.resolve(dataDir), file), 'utf8').catch(() => undefined);
  const holder = Number((await read('pglite.pid'))?.trim());
  if (!Number.isInteger(holder) || holder === process.pid || !isProcessRunning(holder)) return undefined;
  const url = (await read(URL_FILE))?.trim();
  return url?.startsWith('postgres://') ? url : undefined;
}

function fitsSocketPath(directory: string): boolean {
  return Buffer.byteLength(path.join(directory, CLIENT_SOCKET)) <= MAX_SOCKET_PATH_BYTES;
}

/**
 * The directory both sockets live in, which only this process's user may enter. In DATA_DIR when its
 * path is short enough for a socket address; else a fresh private temp directory, since refusing a
 * deep DATA_DIR would turn a kernel limit into the operator's problem.
 */
async function openSocketDirectory(dataDir: string, logger: Logger): Promise<string> {
  const inDataDir = path.join(dataDir, 'pglite-socket');
  if (fitsSocketPath(inDataDir)) {
    // A crashed run leaves its socket files, and listen() refuses to replace them; the pid lock
    // says no live process uses them.
    await rm(inDataDir, { recursive: true, force: true });
    await mkdir(inDataDir, { mode: 0o700 });
    // mkdir's mode passes through the umask, which can only take bits away; set it outright anyway.
    await chmod(inDataDir, 0o700);
    return inDataDir;
  }
  const inTemp = await mkdtemp(path.join(tmpdir(), 'stembot-db-')); // mkdtemp makes it 0700
  if (!fitsSocketPath(inTemp)) {
    await rm(inTemp, { recursive: true, force: true });
    throw new ConfigError([
      `DATA_DIR: the embedded database needs a unix socket path of at most ${MAX_SOCKET_PATH_BYTES} bytes, and neither ${inDataDir} nor the temp directory ${inTemp} is that short; choose a shorter DATA_DIR or TMPDIR`,
    ]);
  }
  logger.info({ socketDirectory: inTemp, dataDir }, 'DATA_DIR is too long a path for a unix socket; the embedded database listens in a private temp directory');
  return inTemp;
}

/**
 * Starts PGlite on disk under `dataDir` and serves it through pglite-socket, so the same PostgreSQL
 * driver, migrations and queue backend run on it as on a real server.
 *
 * pglite-socket has no authentication: whoever reaches its socket is the superuser. So both it and
 * the fan-out in front of it listen on unix sockets (mode 0600) in a directory of mode 0700, and
 * only this process's user (and root) can connect. A random password on a loopback port would also
 * work, but would need the fan-out to speak the authentication exchange, a password file to keep,
 * and pglite-socket hidden behind it anyway; file permissions do it all without protocol code.
 */
export async function startEmbeddedDatabase(options: { dataDir: string; queueSchema: string; logger: Logger }): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir);
  const directory = path.join(dataDir, 'pglite');
  await mkdir(directory, { recursive: true });
  const lockFile = path.join(dataDir, 'pglite.pid');
  await claimDirectory(lockFile);

  const socketDirectory = await openSocketDirectory(dataDir, options.logger);
  const db = await PGlite.create({ dataDir: directory });
  // All socket clients share PGlite's one session, and pglite-socket does not apply a client's
  // `-c search_path` startup option: BullMQ's schema has to be on the shared session's path.
  // public comes first so our own tables are created there.
  await db.exec(`SET search_path TO public, "${options.queueSchema}"`);
  const upstream = path.join(socketDirectory, UPSTREAM_SOCKET);
  const server = new PGLiteSocketServer({ db, path: upstream, maxConnections: EMBEDDED_MAX_CONNECTIONS });
  await server.start();
  // Clients connect through the fan-out, so a NOTIFY reaches the connection that LISTENs.
  const socket = path.join(socketDirectory, CLIENT_SOCKET);
  const fanout = await startNotificationFanout({ upstream, listen: socket });
  // Sockets are made with the umask's mode; the 0700 directory already shuts others out meanwhile.
  await Promise.all([chmod(upstream, 0o600), chmod(socket, 0o600)]);
  const url = `postgres://postgres@${encodeURIComponent(socketDirectory)}:${SOCKET_PORT}/postgres`;
  // Where `stembot status` finds this database while this process holds it (the socket directory
  // can be in the temp directory). Only this user can use the socket anyway; the file says where.
  const urlFile = path.join(dataDir, URL_FILE);
  await writeFile(urlFile, url, { mode: 0o600 });
  options.logger.info({ directory, socket }, 'embedded database started');

  return {
    url,
    async stop() {
      await fanout.stop();
      await server.stop();
      await db.close();
      await rm(socketDirectory, { recursive: true, force: true });
      await rm(urlFile, { force: true });
      await rm(lockFile, { force: true });
    },
  };
}
