import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Job } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from '../../core/logging.js';
import { UserError } from '../../core/errors.js';
import { formatFailure, type JobData, type JobProgress, type JobResult, type JobStage } from '../../core/queue/jobs.js';
import type { SourceFetchers } from '../../core/sources.js';
import { assertStorageKey, LocalStorage, type Storage } from '../../core/storage.js';
import type { SessionSettings } from '../engine/session.js';
import type { SpoolFiles } from '../engine/spool-files.js';

/** What every job processor of this worker process shares. */
export interface WorkerDeps {
  em: EntityManager;
  storage: Storage;
  fetchers: SourceFetchers;
  modelsDir: string;
  ffmpeg: string;
  session: SessionSettings;
  retentionDays: number;
  /** This process's own temp folder (see process-temp-dir.ts). */
  tempDir: string;
  /** Stem spool files kept between jobs (see spool-files.ts); without it each job writes new ones. */
  spoolFiles?: SpoolFiles | undefined;
  /** Bytes every disk keeps free (DISK_MIN_FREE_MB). */
  diskMinFreeBytes: number;
  logger: Logger;
}

export type StembotJob = Job<JobData, JobResult, string>;

/** Files a job writes and then stores. */
export interface StagedOutputs {
  /** Where to write the file that becomes `key` (the encoder makes its folder). */
  pathFor(key: string): string;
  /** Stores the file written for `key`; its size. */
  store(key: string): Promise<number>;
  /** Removes whatever was written and not stored. */
  discard(): Promise<void>;
}

/**
 * Local storage takes a job's files in place: no copy, and the disk checks see STORAGE_DIR as the
 * disk they land on. Other storage gets them in a folder of the worker's temp folder, uploaded by
 * `store`: there only the temp disk fills up.
 */
export async function stageOutputs(storage: Storage, tempDir: string): Promise<StagedOutputs> {
  if (storage instanceof LocalStorage) {
    return {
      pathFor: (key) => storage.pathOf(key),
      store: async (key) => {
        const bytes = await storage.size(key);
        if (bytes === undefined) throw new Error(`${key} was not written`);
        return bytes;
      },
      discard: async () => undefined,
    };
  }
  const dir = await mkdtemp(path.join(tempDir, 'outputs-'));
  const pathFor = (key: string) => {
    assertStorageKey(key);
    return path.join(dir, key);
  };
  return {
    pathFor,
    store: (key) => storage.putFile(key, pathFor(key)),
    discard: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Progress events are throttled: each one is a queue write and a chat edit further down. */
const PROGRESS_EVERY_MS = 1000;

/**
 * Reports `{ stage, fraction, etaSeconds }` at most once a second within a stage (a new stage is
 * reported at once, so users see every step), with the ETA from the pace so far.
 */
export function progressReporter(job: StembotJob): (stage: JobStage, fraction: number) => void {
  const started = Date.now();
  let last = 0;
  let lastStage: JobStage | undefined;
  return (stage, fraction) => {
    const now = Date.now();
    if (stage === lastStage && now - last < PROGRESS_EVERY_MS && fraction < 1) return;
    last = now;
    lastStage = stage;
    const elapsed = (now - started) / 1000;
    const progress: JobProgress = { stage, fraction: Math.min(1, Math.max(0, fraction)) };
    if (fraction > 0.02) progress.etaSeconds = Math.round((elapsed * (1 - fraction)) / fraction);
    job.updateProgress(progress).catch(() => undefined);
  };
}

/** Codes of UserErrors that a later attempt may not meet (the network came back). */
const TRANSIENT_CODES = new Set(['youtube_unreachable', 'attachment_unreachable']);

/**
 * How a failure leaves the processor: user-facing ones carry `[code] message` for the relay;
 * transient ones stay retryable; the rest (our bugs, a dead disk) are retried, then reported as
 * internal.
 */
export function toJobFailure(error: unknown): Error {
  if (error instanceof UserError && error.code === 'output_unwritable') {
    // Its message names the server's folders, which are the operator's business, not the chat's:
    // the worker's log line carries it, the user gets the gist. A fuller disk may have room later.
    return new Error(formatFailure('storage_unwritable', 'The server could not store the stems right now; try again later.'), { cause: error });
  }
  if (error instanceof UserError) {
    const reason = formatFailure(error.code, error.message);
    return TRANSIENT_CODES.has(error.code) ? new Error(reason) : new UnrecoverableError(reason);
  }
  return error instanceof Error ? error : new Error(String(error));
}
