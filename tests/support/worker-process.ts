/**
 * A worker in its own process, for tests that kill one mid-job. Takes the test's settings from
 * the environment and its local "YouTube" from STEMBOT_TEST_VIDEOS (JSON: video id -> file).
 */
import { parseConfig } from '../../core/config.js';
import { createLogger } from '../../core/logging.js';
import { openRuntime } from '../../core/runtime.js';
import { locateFfmpeg } from '../../worker/audio/ffmpeg.js';
import { startConfiguredWorker } from '../../worker/start-worker.js';
import { LocalVideoSource } from './local-sources.js';

const config = parseConfig(process.env);
const logger = createLogger({ level: 'warn', pretty: false });
const runtime = await openRuntime(config, logger, { migrate: false });
const { ffmpeg, ffprobe } = await locateFfmpeg({ searchPath: process.env.PATH });
const videos = new LocalVideoSource(ffprobe, JSON.parse(process.env.STEMBOT_TEST_VIDEOS ?? '{}') as Record<string, string>);
const worker = await startConfiguredWorker({ config, runtime, fetchers: { youtube: videos, attachment: videos }, ffmpeg, logger, graceMs: 1000 });
await worker.ready;
console.log('worker ready');
