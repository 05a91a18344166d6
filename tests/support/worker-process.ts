/**
 * A worker in its own process, for tests that kill one mid-job. Takes the test's settings from
 * the environment and its local "YouTube" from STEMBOT_TEST_VIDEOS (JSON: video id -> file).
 */
import { tmpdir } from 'node:os';
import { parseConfig } from '../../core/config.js';
import { createLogger } from '../../core/logging.js';
import { openRuntime } from '../../core/runtime.js';
import { LocalStorage } from '../../core/storage.js';
import { locateFfmpeg } from '../../worker/audio/ffmpeg.js';
import { createJobProcessor } from '../../worker/jobs/job-processor.js';
import { startWorkerRole } from '../../worker/worker-role.js';
import { LocalVideoSource } from './local-sources.js';

const config = parseConfig(process.env);
const logger = createLogger({ level: 'warn', pretty: false });
const runtime = await openRuntime(config, logger, { migrate: false });
const { ffmpeg, ffprobe } = await locateFfmpeg({ searchPath: process.env.PATH });
const videos = new LocalVideoSource(ffprobe, JSON.parse(process.env.STEMBOT_TEST_VIDEOS ?? '{}') as Record<string, string>);
const processor = createJobProcessor({
  em: runtime.orm.em,
  storage: new LocalStorage(config.storageDir),
  fetchers: { youtube: videos, attachment: videos },
  modelsDir: config.modelsDir,
  ffmpeg,
  session: { device: 'cpu' },
  retentionDays: config.retentionDays,
  tempDir: tmpdir(),
  logger,
});
const lockMs = config.worker.lockSeconds * 1000;
await startWorkerRole({ queues: runtime.queues, processor, concurrency: 1, logger, graceMs: 1000, lockDurationMs: lockMs, stalledIntervalMs: lockMs });
console.log('worker ready');
