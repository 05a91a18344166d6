import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseConfig, type Config } from '../../core/config.js';
import type { Logger } from '../../core/logging.js';
import type { RequestUpdate } from '../../core/request-updates.js';
import { startRelayRole, type RoleHandle } from '../../core/queue/relay-role.js';
import { openRuntime, type Runtime } from '../../core/runtime.js';
import type { SourceFetchers } from '../../core/sources.js';
import { StembotCore } from '../../core/stembot-core.js';
import { LocalStorage } from '../../core/storage.js';
import { locateFfmpeg, type FfmpegTools } from '../../worker/audio/ffmpeg.js';
import { HTDEMUCS_SEGMENT } from '../../worker/engine/registry.js';
import { startConfiguredWorker, type WorkerHandle } from '../../worker/start-worker.js';
import { seedEmbeddedDatabase } from './embedded-template.js';
import { writeModel } from './onnx-models.js';
import { provided } from './provided.js';
import { REDIS_URL, captureLogger, createTestDatabase, makeTempDir, uniqueNamespace } from './services.js';

const exec = promisify(execFile);

async function encodeSong(ffmpeg: string, file: string, seconds: number, pitch: number): Promise<void> {
  const expr = `0.2*sin(2*PI*${pitch}*t)+0.1*sin(2*PI*${pitch * 1.5}*t)+0.05*(random(0)-0.5)`;
  await exec(ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', `aevalsrc=${expr}|${expr}:s=44100:d=${seconds}`, '-c:a', 'libmp3lame', '-b:a', '128k', file]);
}

/**
 * A song-like test track made by ffmpeg: a chord with some noise, `seconds` long. The same bytes for
 * the same length and pitch, so in a vitest run each is encoded once (ffmpeg's expression source
 * takes about 1 s of CPU per 40 s of song) and copied for every file that asks for it after that.
 */
export async function makeSong(ffmpeg: string, file: string, seconds: number, pitch = 220): Promise<string> {
  const cache = await provided('songCache');
  if (!cache) {
    await encodeSong(ffmpeg, file, seconds, pitch);
    return file;
  }
  const kept = path.join(cache, `song-${seconds}s-${pitch}hz.mp3`);
  if (!existsSync(kept)) {
    // Test files run side by side: each writes its own copy, and a rename puts a whole one in place.
    const own = `${kept}.${process.pid}-${randomUUID()}.mp3`;
    await encodeSong(ffmpeg, own, seconds, pitch);
    await rename(own, kept);
  }
  await copyFile(kept, file);
  return file;
}

/** `song` played `times` times in a row, copied rather than encoded again, so a long track costs no more to make than a short one. */
export async function repeatSong(ffmpeg: string, song: string, times: number, file: string): Promise<string> {
  await exec(ffmpeg, ['-v', 'error', '-y', '-stream_loop', String(times - 1), '-i', song, '-c', 'copy', file]);
  return file;
}

/** Puts a small stand-in for htdemucs (htdemucs' segment and sources, trivial maths) where the worker looks. */
export async function installTestModel(modelsDir: string): Promise<void> {
  await mkdir(modelsDir, { recursive: true });
  await copyFile(await writeModel({ contract: 'waveform', kind: 'fractions', segment: HTDEMUCS_SEGMENT }), path.join(modelsDir, 'htdemucs.onnx'));
}

export interface Harness {
  /** The settings as environment variables, for processes the test starts beside this one. */
  env: Record<string, string>;
  config: Config;
  runtime: Runtime;
  core: StembotCore;
  /**
   * The directory STORAGE_DIR, where stems are stored unless STORAGE_URL names a bucket (then
   * `core.storage` is the bucket, and this directory should stay empty).
   */
  storage: LocalStorage;
  logger: Logger;
  /** The warnings and errors logged so far, parsed: a test can assert a path ran without any. */
  logLines(): Record<string, unknown>[];
  ffmpeg: string;
  dir: string;
  /** Starts a worker in this process, as the settings say (JOB_LOCK_SECONDS short lets it take over a dead worker's job quickly). */
  startWorker(): Promise<WorkerHandle>;
  /** Stops the relay role (as a crashed or restarting relay process would be gone)... */
  stopRelay(): Promise<void>;
  /** ...and starts it again, as a relay process coming back would. */
  startRelay(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The three deployments a user can choose: `embedded` is nothing configured (PGlite in DATA_DIR with
 * BullMQ's PostgreSQL backend on it), `postgres` is DATABASE_URL alone (the queue in PostgreSQL
 * too), `redis` is DATABASE_URL and REDIS_URL.
 */
export const DEPLOYMENTS = ['embedded', 'postgres', 'redis'] as const;
export type Deployment = (typeof DEPLOYMENTS)[number];

/**
 * The real core, relay (with the retention scheduler, as `stembot start` runs it) and worker in
 * this process, on the chosen deployment, with the test model installed and YouTube replaced by
 * `fetchers`.
 */
export async function startHarness(options: {
  backend: Deployment;
  fetchers: (ffprobe: string, tools: FfmpegTools) => SourceFetchers;
  env?: Record<string, string>;
  worker?: boolean;
  /** false: MODELS_DIR starts empty, and the worker must fetch its model (from MODEL_REGISTRY_URL, say). */
  installModel?: boolean;
  /** false: startWorker() returns once the worker has announced itself, before it has its models. */
  waitForWorker?: boolean;
}): Promise<Harness> {
  const database = options.backend === 'embedded' ? undefined : await createTestDatabase();
  const temp = await makeTempDir('stembot-harness-');
  // FFMPEG_PATH as an operator sets it: a test may stand a wrapper in for ffmpeg (a disk that fills up).
  const { ffmpeg, ffprobe } = await locateFfmpeg({ ffmpegPath: options.env?.FFMPEG_PATH, searchPath: process.env.PATH });
  const env: Record<string, string> = {
    ...(database ? { DATABASE_URL: database.url } : {}),
    ...(options.backend === 'redis' ? { REDIS_URL } : {}),
    QUEUE_NAMESPACE: uniqueNamespace(),
    DATA_DIR: temp.dir,
    ONNX_DEVICE: 'cpu',
    QUOTA_USER_COOLDOWN_SECONDS: '0',
    JOB_RETRY_DELAY_SECONDS: '1',
    // A preview separates an excerpt on top of the song: only the suites about previews pay for one.
    PREVIEW_SECONDS: '0',
    ...options.env,
  };
  const config = parseConfig(env);
  if (options.installModel !== false) await installTestModel(config.modelsDir);
  if (options.backend === 'embedded') await seedEmbeddedDatabase(config.dataDir);
  const { logger, lines: logLines } = captureLogger('warn');
  const runtime = await openRuntime(config, logger);
  const fetchers = options.fetchers(ffprobe, { ffmpeg, ffprobe });
  const core = new StembotCore({ em: runtime.orm.em, config, queues: runtime.queues, fetchers, logger });
  const storage = new LocalStorage(config.storageDir);
  const roles: RoleHandle[] = [];
  const relayRole = () => startRelayRole(runtime, logger, { listeners: [core.recorder.onEvent], reconciler: core.reconciler });
  let relay: RoleHandle | undefined = await relayRole();
  await core.scheduleRetention();
  const startWorker = async () => {
    // Failed model downloads are retried quickly here, not after production's 5 s and more.
    const role = await startConfiguredWorker({ config, runtime, fetchers, ffmpeg, logger, graceMs: 1000, retryDelayMs: () => 300 });
    roles.push(role);
    if (options.waitForWorker !== false) await role.ready;
    return role;
  };
  if (options.worker !== false) await startWorker();
  // Without a worker here, requests are still admitted as if one ran elsewhere, busy or about to
  // take jobs: the tests that start none are about what happens while nobody picks their jobs up.
  else await core.workers.announce({ id: `elsewhere-${config.queueNamespace}`, host: 'elsewhere', device: 'cpu', models: config.worker.models, fetching: [], concurrency: 1, state: 'ready', ttlSeconds: 3600 });
  return {
    env,
    config,
    runtime,
    core,
    storage,
    logger,
    logLines,
    ffmpeg,
    dir: temp.dir,
    startWorker,
    async stopRelay() {
      await relay?.stop();
      relay = undefined;
    },
    async startRelay() {
      relay ??= await relayRole();
    },
    async stop() {
      for (const role of roles.reverse()) await role.stop();
      await relay?.stop();
      await core.close();
      await runtime.close();
      await database?.drop();
      await temp.remove();
    },
  };
}

/** The request is done, one way or another. */
export const isFinalUpdate = (update: RequestUpdate): boolean => update.type === 'completed' || update.type === 'failed' || update.type === 'cancelled';

/** Resolves with the first of a request's updates from now on that `predicate` accepts. */
export function waitForUpdate(core: StembotCore, requestId: string, predicate: (update: RequestUpdate) => boolean): Promise<RequestUpdate> {
  return new Promise((resolve) => {
    const stop = core.subscribe((update) => {
      if (predicate(update)) {
        stop();
        resolve(update);
      }
    }, requestId);
  });
}
