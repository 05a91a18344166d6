import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';

const exec = promisify(execFile);

/**
 * PostgreSQL and Redis servers of a test's own, for faults the shared services cannot take (the
 * other test files use those at the same time): a restart mid-job, Redis with AOF on.
 */

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const started = Date.now();
  while (!(await check().catch(() => false))) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what} did not come up in ${timeoutMs} ms`);
    await sleep(100);
  }
}

export interface PrivatePostgres {
  /** A database URL on this server (database `stembot`, trust auth). */
  url: string;
  /** A fast shutdown (every connection is cut) and a start on the same port and data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Debian puts each major version's server programs in /usr/lib/postgresql/<major>/bin. */
async function postgresBin(): Promise<string> {
  const root = '/usr/lib/postgresql';
  const majors = (await readdir(root)).sort((a, b) => Number(b) - Number(a));
  if (!majors[0]) throw new Error('no PostgreSQL server under /usr/lib/postgresql');
  return path.join(root, majors[0], 'bin');
}

/** initdb refuses to run as root: as root, the cluster belongs to the postgres user. */
function asOwner(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = await postgresBin();
  const dir = await mkdtemp(path.join(tmpdir(), 'stembot-pg-'));
  if (process.getuid?.() === 0) await exec('chown', ['postgres:postgres', dir]);
  const data = path.join(dir, 'data');
  const port = await freePort();
  await exec(...asOwner(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']));
  const ctl = (action: string, extra: string[] = []) =>
    exec(...asOwner(path.join(bin, 'pg_ctl'), ['-D', data, '-l', path.join(dir, 'server.log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, ...extra, action]));
  const ready = () =>
    until(async () => {
      const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
      await client.connect();
      await client.end();
      return true;
    }, 'private PostgreSQL');
  await ctl('start');
  await ready();
  const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
  await admin.connect();
  await admin.query('create database stembot');
  await admin.end();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/stembot`,
    async restart() {
      await ctl('stop', ['-m', 'fast']);
      await ctl('start');
      await ready();
    },
    async stop() {
      await ctl('stop', ['-m', 'immediate']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface PrivateRedis {
  url: string;
  /** SHUTDOWN (the append-only file is flushed) and a start on the same port and data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Redis with the append-only file on, so a restart keeps the queue, as production Redis for BullMQ should. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const dir = await mkdtemp(path.join(tmpdir(), 'stembot-redis-'));
  const port = await freePort();
  let server: ChildProcess | undefined;
  const start = async () => {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction'], {
      stdio: 'ignore',
    });
    await until(async () => (await exec('redis-cli', ['-p', String(port), 'ping'])).stdout.trim() === 'PONG', 'private Redis');
  };
  const shutdown = async () => {
    const running = server;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    await exec('redis-cli', ['-p', String(port), 'shutdown']).catch(() => undefined);
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    async restart() {
      await shutdown();
      await start();
    },
    async stop() {
      await shutdown();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
