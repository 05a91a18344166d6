import type { Config } from '../core/config.js';
import type { Logger } from '../core/logging.js';
import type { RoleHandle } from '../core/queue/relay-role.js';
import type { Runtime } from '../core/runtime.js';
import type { SourceFetchers } from '../core/sources.js';
import { LocalStorage } from '../core/storage.js';
import { resolveModel } from './engine/resolve-model.js';
import { createJobProcessor } from './jobs/job-processor.js';
import { claimProcessTempDir } from './process-temp-dir.js';
import { startWorkerRole } from './worker-role.js';

/** The worker role as the settings describe it: processor, storage, models, temp folder, lock and concurrency. */
export async function startConfiguredWorker(options: { config: Config; runtime: Runtime; fetchers: SourceFetchers; ffmpeg: string; logger: Logger; graceMs: number }): Promise<RoleHandle> {
  const { config, logger } = options;
  for (const name of config.quotaDefaults.allowedModels) {
    await resolveModel(config.modelsDir, { name }).catch((error: unknown) => logger.warn({ model: name, err: (error as Error).message }, 'an allowed model is not installed; its jobs will fail'));
  }
  const temp = await claimProcessTempDir(config.tempDir, logger);
  const processor = createJobProcessor({
    em: options.runtime.orm.em,
    storage: new LocalStorage(config.storageDir),
    fetchers: options.fetchers,
    modelsDir: config.modelsDir,
    ffmpeg: options.ffmpeg,
    session: { device: config.onnx.device, intraOpThreads: config.onnx.threads > 0 ? config.onnx.threads : undefined },
    retentionDays: config.retentionDays,
    tempDir: temp.dir,
    diskMinFreeBytes: config.diskMinFreeBytes,
    logger: logger.child({ role: 'worker' }),
  });
  const lockMs = config.worker.lockSeconds * 1000;
  const role = await startWorkerRole({ queues: options.runtime.queues, processor, concurrency: config.worker.concurrency, logger, graceMs: options.graceMs, lockDurationMs: lockMs, stalledIntervalMs: lockMs }).catch(async (error: unknown) => {
    await temp.release();
    throw error;
  });
  return {
    name: role.name,
    async stop() {
      await role.stop();
      await temp.release();
    },
  };
}
