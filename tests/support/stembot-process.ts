import path from 'node:path';
import { runStembot, waitForOutput, type CliRun } from './cli.js';
import { seedEmbeddedDatabase } from './embedded-template.js';
import { REDIS_URL, createTestDatabase, makeTempDir, uniqueNamespace } from './services.js';
import { installTestModel, type Deployment } from './stembot-harness.js';

/** One log line of a stembot process (pino JSON). */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface StembotSite {
  /** The working directory the processes run in (DATA_DIR is its ./data, as with `npx stembot start`). */
  dir: string;
  /** The settings every process of this site gets: nothing for `embedded`, DATABASE_URL (and REDIS_URL) otherwise. */
  env: Record<string, string>;
  remove(): Promise<void>;
}

/**
 * A place to run `stembot start` processes as an operator would: a fresh working directory with the
 * test model where the worker looks for htdemucs, and the settings of the chosen deployment (on the
 * shared test services, or on servers the test brings).
 */
export async function prepareSite(deployment: Deployment, servers?: { databaseUrl: string; redisUrl?: string }): Promise<StembotSite> {
  const temp = await makeTempDir('stembot-site-');
  await installTestModel(path.join(temp.dir, 'data', 'models'));
  if (deployment === 'embedded') await seedEmbeddedDatabase(path.join(temp.dir, 'data'));
  const database = deployment === 'embedded' || servers ? undefined : await createTestDatabase();
  const databaseUrl = servers?.databaseUrl ?? database?.url;
  const redisUrl = servers?.redisUrl ?? REDIS_URL;
  const env: Record<string, string> = {
    ...(deployment !== 'embedded' && databaseUrl ? { DATABASE_URL: databaseUrl, QUEUE_NAMESPACE: uniqueNamespace() } : {}),
    ...(deployment === 'redis' ? { REDIS_URL: redisUrl } : {}),
  };
  return {
    dir: temp.dir,
    env,
    async remove() {
      await database?.drop();
      await temp.remove();
    },
  };
}

export interface StembotProcess extends CliRun {
  logs(): LogLine[];
  /** SIGTERM, then the exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** kill -9: no chance to clean up or say anything. */
  kill(): Promise<void>;
  /** Still running. */
  alive(): boolean;
}

/** `stembot start` (optionally `--role ...`) in the site, resolved once it says it is ready. */
export async function startStembot(site: StembotSite, env: Record<string, string>, roles?: string): Promise<StembotProcess> {
  const run = runStembot(['start', ...(roles ? ['--role', roles] : [])], { cwd: site.dir, env: { LOG_LEVEL: 'info', ONNX_DEVICE: 'cpu', ...site.env, ...env } });
  const handle: StembotProcess = {
    ...run,
    logs: () =>
      run
        .stdout()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as LogLine),
    async stop() {
      if (handle.alive()) run.child.kill('SIGTERM');
      return run.exited;
    },
    async kill() {
      run.child.kill('SIGKILL');
      await run.exited;
    },
    alive: () => run.child.exitCode === null && run.child.signalCode === null,
  };
  try {
    await waitForOutput(run, 'stembot is ready');
    // A worker takes jobs once its models are loaded, which it logs after the process is up.
    if (!roles || roles.split(',').includes('worker')) await waitForOutput(run, 'worker ready');
  } catch (error) {
    await handle.stop();
    throw error;
  }
  return handle;
}
