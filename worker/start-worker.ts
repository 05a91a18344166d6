import { hostname } from 'node:os';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/logging.js';
import type { RoleHandle } from '../core/queue/relay-role.js';
import type { Runtime } from '../core/runtime.js';
import type { SourceFetchers } from '../core/sources.js';
import { createStorage } from '../core/storage.js';
import { WorkerDirectory } from '../core/workers/worker-directory.js';
import { loadModel } from './engine/model.js';
import { provisionModels } from './engine/model-provisioning.js';
import type { SessionSettings } from './engine/session.js';
import { createJobProcessor } from './jobs/job-processor.js';
import { claimProcessTempDir } from './process-temp-dir.js';
import { newWorkerId, PresenceBeacon } from './worker-presence.js';
import { startWorkerRole } from './worker-role.js';

export interface WorkerHandle extends RoleHandle {
  id: string;
  /**
   * Settles once the worker has its models and takes jobs (it starts without waiting for them, so
   * the rest of the process and /readyz run while a model downloads); rejects if it cannot start.
   */
  ready: Promise<void>;
}

export interface ConfiguredWorkerOptions {
  config: Config;
  runtime: Runtime;
  fetchers: SourceFetchers;
  ffmpeg: string;
  logger: Logger;
  graceMs: number;
  /** Waits between failed model downloads; default 5 s doubling to 5 min. */
  retryDelayMs?: (attempt: number) => number;
}

/**
 * The worker role as the settings describe it: announces itself, fetches the models it lacks, loads
 * them, and only then takes jobs off the queue (processor, storage, temp folder, lock, concurrency).
 */
export async function startConfiguredWorker(options: ConfiguredWorkerOptions): Promise<WorkerHandle> {
  const { config } = options;
  const log = options.logger.child({ role: 'worker' });
  const startedAt = performance.now();
  const temp = await claimProcessTempDir(config.tempDir, options.logger, { diskReserveBytes: config.diskMinFreeBytes });
  const beacon = new PresenceBeacon(new WorkerDirectory(options.runtime.orm.em), { id: newWorkerId(), host: hostname(), concurrency: config.worker.concurrency }, config.worker.heartbeatSeconds, log);
  try {
    await beacon.start({ state: 'fetching', fetching: config.worker.models.map((model) => ({ model })) });
  } catch (error) {
    await temp.release();
    throw error;
  }
  const stopping = new AbortController();
  const session: SessionSettings = { device: config.onnx.device, intraOpThreads: config.onnx.threads > 0 ? config.onnx.threads : undefined };
  let role: RoleHandle | undefined;

  const ready = (async () => {
    const provisioned = await provisionModels({
      modelsDir: config.modelsDir,
      models: config.worker.models,
      registryUrl: config.modelRegistryUrl,
      logger: log,
      signal: stopping.signal,
      retryDelayMs: options.retryDelayMs,
      // A failure is told at once (submit and /readyz word it differently); progress rides on the next beat.
      onFetching: (fetching) => void beacon.update({ fetching }, fetching.some((fetch) => fetch.error !== undefined)),
    });
    // Loading each model now (the session is kept for the jobs) finds a damaged file before a user
    // does, and tells which device onnxruntime took.
    const models: string[] = [];
    let device: 'cpu' | 'cuda' | 'unknown' = 'unknown';
    for (const model of provisioned.ready) {
      try {
        device = (await loadModel(model.path, session, log, { sources: model.sources, sampleRate: model.sampleRate, segment: model.segment })).provider;
        models.push(model.name);
      } catch (error) {
        log.error({ model: model.name, err: (error as Error).message }, 'this worker cannot serve a configured model');
      }
    }
    stopping.signal.throwIfAborted();
    const processor = createJobProcessor({
      em: options.runtime.orm.em,
      storage: createStorage(config),
      fetchers: options.fetchers,
      modelsDir: config.modelsDir,
      ffmpeg: options.ffmpeg,
      session,
      retentionDays: config.retentionDays,
      tempDir: temp.dir,
      spoolFiles: temp.spoolFiles,
      diskMinFreeBytes: config.diskMinFreeBytes,
      logger: log,
    });
    const lockMs = config.worker.lockSeconds * 1000;
    role = await startWorkerRole({ queues: options.runtime.queues, processor, concurrency: config.worker.concurrency, logger: options.logger, graceMs: options.graceMs, lockDurationMs: lockMs, stalledIntervalMs: lockMs });
    await beacon.update({ state: 'ready', device, models, fetching: [] });
    log.info({ worker: beacon.id, models, device, concurrency: config.worker.concurrency, startupMs: Math.round(performance.now() - startedAt) }, 'worker ready');
  })();
  // Whoever starts the worker decides what a failed start means; until then it is not unhandled.
  ready.catch(() => undefined);

  return {
    name: 'worker',
    id: beacon.id,
    ready,
    async stop() {
      const stoppedAt = performance.now();
      // Leave the directory's count of ready workers first, then stop taking jobs.
      await beacon.update({ state: 'stopping' });
      stopping.abort();
      await ready.catch(() => undefined);
      await role?.stop();
      await beacon.stop();
      await temp.release();
      log.info({ worker: beacon.id, stopMs: Math.round(performance.now() - stoppedAt) }, 'worker stopped');
    },
  };
}
