import type { Readable } from 'node:stream';
import { Separation } from '../../core/db/entities/index.js';
import { UserError } from '../../core/errors.js';
import type { JobProgress, JobResult, JobStage, SeparateJobData } from '../../core/queue/jobs.js';
import { fetcherFor } from '../../core/sources.js';
import { separationPrefix } from '../../core/storage.js';
import type { Logger } from '../../core/logging.js';
import type { SeparationProgress } from '../engine/apply.js';
import { loadModel } from '../engine/model.js';
import { resolveModel } from '../engine/resolve-model.js';
import { PREVIEW_FORMAT, separateTrack, type PreviewOptions, type SeparatedPreview, type TrackTimings } from '../separate-track.js';
import { inferenceRealtimeFactor, stageDuration } from '../../core/metrics.js';
import { watchCancellation } from './cancellation.js';
import { progressReporter, stageOutputs, type StagedOutputs, type StembotJob, type WorkerDeps } from './job-context.js';

/** Masters keep 24 bits: every per-request format is rendered from them without a second lossy step. */
const MASTER_FORMAT = { format: 'flac', bitDepth: 24 } as const;
/**
 * How far decoded audio may run past the length checked and charged at submit before the job
 * stops: a stated length is rounded (YouTube gives whole seconds) and encoders pad the last frame.
 */
export const lengthAllowance = (statedSeconds: number): number => statedSeconds * 1.02 + 2;
/** The download share of the progress bar; separating and encoding run together in the rest. */
const DOWNLOAD_SHARE = 0.15;

/** How far the job is when `f` of what follows the download is done. */
const afterDownload = (f: number): number => DOWNLOAD_SHARE + (1 - DOWNLOAD_SHARE) * f;

/**
 * A stage of the engine as the job's progress: downloading first, then the preview's excerpt (its
 * share the excerpt's length against the whole track's), then separating and encoding the track.
 */
function jobProgressOf(progress: SeparationProgress, previewShare: number): { stage: JobStage; fraction: number } | undefined {
  const wholeTrack = (f: number) => afterDownload(previewShare + (1 - previewShare) * f);
  if (progress.stage === 'preview') return { stage: 'previewing', fraction: afterDownload(previewShare * progress.fraction) };
  if (progress.stage === 'separate') return { stage: 'separating', fraction: wholeTrack(0.9 * progress.fraction) };
  if (progress.stage === 'write') return { stage: 'encoding', fraction: wholeTrack(0.9 + 0.1 * progress.fraction) };
  return undefined;
}

/**
 * The preview for the engine: its stems go under the separation's `preview/` folder and, once
 * stored, reach core as a progress event. A preview that cannot be stored or reported is logged
 * and dropped: the whole track goes on, and its result comes as ever.
 */
function previewFor(asked: NonNullable<SeparateJobData['preview']>, where: { job: StembotJob; staged: StagedOutputs; folder: string; log: Logger; previewShare: number }): PreviewOptions {
  const { job, staged, folder, log, previewShare } = where;
  const keyOf = (stem: string) => `${folder}/${stem}.mp3`;
  return {
    seconds: asked.seconds,
    startSeconds: asked.startSeconds,
    format: PREVIEW_FORMAT,
    outputPath: (stem) => staged.pathFor(keyOf(stem)),
    onReady: async (excerpt: SeparatedPreview) => {
      try {
        const stems = await Promise.all(excerpt.stems.map(async (stem) => ({ name: stem.name, storageKey: keyOf(stem.name), bytes: await staged.store(keyOf(stem.name)) })));
        const { startSeconds, durationSeconds } = excerpt;
        const progress: JobProgress = { stage: 'previewing', fraction: afterDownload(previewShare), preview: { stems, startSeconds, durationSeconds } };
        await job.updateProgress(progress);
        log.info({ startSeconds, durationSeconds }, 'preview stored');
      } catch (error) {
        log.warn({ err: (error as Error).message }, 'could not store the preview; separating the whole track without it');
      }
    },
  };
}

function observeTimings(model: string, durationSeconds: number, timings: TrackTimings): void {
  const seconds = (ms: number) => ms / 1000;
  stageDuration.observe({ stage: 'decode' }, seconds(timings.decodeMs));
  stageDuration.observe({ stage: 'inference' }, seconds(timings.inferenceMs));
  stageDuration.observe({ stage: 'overlap_add' }, seconds(timings.overlapAddMs));
  stageDuration.observe({ stage: 'stft' }, seconds(timings.stftMs));
  stageDuration.observe({ stage: 'encode' }, seconds(timings.encodeMs));
  if (durationSeconds > 0) inferenceRealtimeFactor.observe({ model }, seconds(timings.inferenceMs) / durationSeconds);
}

/** fetch -> decode -> separate -> encode masters -> store, for one separation. */
export async function runSeparateJob(deps: WorkerDeps, job: StembotJob, data: SeparateJobData, queueSignal?: AbortSignal): Promise<JobResult> {
  const em = deps.em.fork();
  const separation = await em.findOne(Separation, data.separationId);
  if (!separation || separation.state === 'cancelled' || separation.state === 'failed') throw new UserError('cancelled', 'This separation was cancelled.');
  await em.nativeUpdate(Separation, { id: data.separationId }, { attempts: separation.attempts + 1 });

  const report = progressReporter(job);
  const cancellation = watchCancellation(deps.em, data.separationId, queueSignal);
  const log = deps.logger.child({ separationId: data.separationId, jobId: job.id, attempt: job.attemptsMade + 1 });
  const prefix = `${separationPrefix(data.separationId)}/masters`;
  // A retried attempt whose preview was stored already does not make it again.
  const preview = separation.preview ? undefined : data.preview;
  const stated = separation.durationSeconds ?? 0;
  const previewShare = preview && stated >= 2 * preview.seconds ? preview.seconds / (stated + preview.seconds) : 0;
  let input: Readable | undefined;
  let outputs: StagedOutputs | undefined;
  try {
    const resolved = await resolveModel(deps.modelsDir, { name: data.model });
    const model = await loadModel(resolved.path, deps.session, log, { sources: resolved.sources, sampleRate: resolved.sampleRate, segment: resolved.segment });
    report('downloading', 0);
    const downloadStarted = performance.now();
    input = await fetcherFor(deps.fetchers, data.source).open(data.source, { signal: cancellation.signal, onProgress: (f) => report('downloading', f * DOWNLOAD_SHARE) });
    // The download streams into the decoder: it lasts until the decoder has read the last byte.
    input.once('end', () => stageDuration.observe({ stage: 'download' }, (performance.now() - downloadStarted) / 1000));
    // A retried attempt starts from clean masters: a killed worker may have left partial files.
    await deps.storage.removeTree(prefix);
    const staged = (outputs = await stageOutputs(deps.storage, deps.tempDir));
    const keys = new Map<string, string>();
    const track = await separateTrack({
      input,
      model,
      ffmpeg: deps.ffmpeg,
      format: MASTER_FORMAT,
      outputPath: (stem) => {
        const key = `${prefix}/${stem}.flac`;
        keys.set(stem, key);
        return staged.pathFor(key);
      },
      settings: { shifts: 1, overlap: 0.25, clip: 'rescale' },
      tempDir: deps.tempDir,
      spoolFiles: deps.spoolFiles,
      expectedSeconds: separation.durationSeconds,
      maxSeconds: separation.durationSeconds === undefined ? undefined : lengthAllowance(separation.durationSeconds),
      diskReserveBytes: deps.diskMinFreeBytes,
      signal: cancellation.signal,
      onProgress: (p) => {
        const progress = jobProgressOf(p, previewShare);
        if (progress) report(progress.stage, progress.fraction);
      },
      logger: log,
      preview: preview && previewFor(preview, { job, staged, folder: `${separationPrefix(data.separationId)}/preview`, log, previewShare }),
    });
    await cancellation.throwIfCancelled();
    report('storing', 1);
    const stems = await Promise.all(
      track.stems.map(async (stem) => {
        const storageKey = keys.get(stem.name) as string;
        return { name: stem.name, storageKey, bytes: await staged.store(storageKey) };
      }),
    );
    await cancellation.throwIfCancelled();
    observeTimings(data.model, track.durationSeconds, track.timings);
    log.info({ durationSeconds: track.durationSeconds, totalMs: Math.round(track.timings.totalMs) }, 'separation stored');
    return { kind: 'separate', durationSeconds: track.durationSeconds, stems };
  } catch (error) {
    // A job that failed before decoding began (the disk check) has not read the download: end it.
    input?.destroy();
    await deps.storage.removeTree(prefix).catch((cleanup: unknown) => log.warn({ err: (cleanup as Error).message }, 'could not remove the partial masters'));
    throw cancellation.signal.aborted && cancellation.signal.reason instanceof UserError ? cancellation.signal.reason : error;
  } finally {
    cancellation.stop();
    await outputs?.discard();
  }
}
