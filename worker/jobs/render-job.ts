import type { Readable } from 'node:stream';
import { Separation } from '../../core/db/entities/index.js';
import type { RequestOptions } from '../../core/db/entities/separation-request.js';
import { UserError } from '../../core/errors.js';
import type { JobResult, RenderJobData } from '../../core/queue/jobs.js';
import { MissingObjectError, SAFE_NAME, separationPrefix, type Storage } from '../../core/storage.js';
import { DECODE_SAMPLE_RATE, decodeAudio, type PlanarBlock } from '../audio/decode.js';
import { PeakAccumulator, type Peaks } from '../audio/waveform-peaks.js';
import { storeWaveforms } from './render-waveforms.js';
import { OUTPUT_EXTENSIONS, createEncoder, type EncodeFormatInput } from '../audio/encode.js';
import { stageDuration } from '../../core/metrics.js';
import { progressReporter, stageOutputs, type StembotJob, type WorkerDeps } from './job-context.js';

/** One file a request gets: a master as is, or the sum of several (an accompaniment). */
interface RenderPlan {
  name: string;
  parts: string[];
}

/** The files a stem set yields from the masters (`all`, `karaoke`, or one stem and the rest). */
export function planRender(masters: string[], options: RequestOptions): RenderPlan[] {
  if (options.stems === 'all') return masters.map((name) => ({ name, parts: [name] }));
  const asked = options.stems === 'karaoke' ? 'vocals' : (options.stem ?? '');
  // What goes on is the separation's own name for the stem: the asked-for text is only compared,
  // never put in a storage key, so it cannot reach another separation's files.
  const keep = masters.find((name) => name === asked);
  if (keep === undefined) throw new UserError('unknown_stem', `This model has no ${SAFE_NAME.test(asked) ? `"${asked}" ` : 'such '}stem; it has ${masters.join(', ')}.`);
  const rest = masters.filter((name) => name !== keep);
  return [
    { name: keep, parts: [keep] },
    { name: options.stems === 'karaoke' ? 'accompaniment' : `no_${keep}`, parts: rest },
  ];
}

/** Default and lowest bitrates of the lossy formats, in kbps. */
const LOSSY_BITRATES = { mp3: { best: 320, lowest: 32 }, opus: { best: 192, lowest: 24 } } as const;
/** Containers and bitrate wobble: aim a little under the limit. */
const SIZE_MARGIN = 0.95;

/**
 * The encoder format for a request: lossy formats take the best bitrate whose file still fits the
 * platform's per-file limit (so stems can be attached); lossless ones cannot shrink.
 */
export function formatFor(options: RequestOptions, durationSeconds: number): EncodeFormatInput {
  const { format, maxFileBytes } = options;
  if (format !== 'mp3' && format !== 'opus') return { format };
  const { best, lowest } = LOSSY_BITRATES[format];
  const fitting = maxFileBytes && durationSeconds > 0 ? Math.floor((maxFileBytes * 8 * SIZE_MARGIN) / durationSeconds / 1000) : best;
  return { format, bitrateKbps: Math.max(lowest, Math.min(best, fitting)) };
}

const separationGone = () => new UserError('separation_gone', 'The separated stems are no longer stored; please ask again.');

/** Opens every master or none: a missing one closes those already open. */
async function openMasters(storage: Storage, keys: string[]): Promise<Readable[]> {
  const opened = await Promise.allSettled(keys.map((key) => storage.openRead(key)));
  const inputs = opened.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failed = opened.find((result) => result.status === 'rejected');
  if (!failed) return inputs;
  for (const input of inputs) input.destroy();
  throw failed.reason instanceof MissingObjectError ? separationGone() : failed.reason;
}

/** Decodes several equally long masters, streamed from storage, in step and yields their sample-wise sum. */
async function* summed(storage: Storage, keys: string[], ffmpeg: string, signal: AbortSignal | undefined): AsyncGenerator<PlanarBlock> {
  const inputs = await openMasters(storage, keys);
  const streams = inputs.map((input) => decodeAudio(input, { ffmpeg, signal }));
  try {
    for (;;) {
      const steps = await Promise.all(streams.map((stream) => stream.next()));
      if (steps.some((step) => step.done)) return;
      const blocks = steps.map((step) => step.value as PlanarBlock);
      const [first, ...others] = blocks as [PlanarBlock, ...PlanarBlock[]];
      for (const block of others) {
        for (let c = 0; c < 2; c += 1) {
          const into = first[c] as Float32Array;
          const from = block[c] as Float32Array;
          for (let i = 0; i < into.length; i += 1) into[i] = (into[i] as number) + (from[i] as number);
        }
      }
      yield first;
    }
  } finally {
    await Promise.all(streams.map((stream) => stream.return(undefined)));
    // A decoder stopped before it started never read its input: no download may be left open.
    for (const input of inputs) input.destroy();
  }
}

/**
 * Encodes what one request asked for from its separation's masters. Renders are cached per
 * (format, stem set): a second request with the same options reuses the files.
 */
export async function runRenderJob(deps: WorkerDeps, job: StembotJob, data: RenderJobData, signal?: AbortSignal): Promise<JobResult> {
  const separation = await deps.em.fork().findOne(Separation, data.separationId);
  if (!separation || separation.state !== 'completed') throw separationGone();
  const masters = new Map(separation.stems.map((stem) => [stem.name, stem.storageKey]));
  const plans = planRender([...masters.keys()], data.options);
  const { format } = data.options;
  const encodeFormat = formatFor(data.options, separation.durationSeconds ?? 0);
  const quality = 'bitrateKbps' in encodeFormat ? `-${encodeFormat.bitrateKbps}k` : '';
  const stemSet = data.options.stems === 'single' ? `single-${(plans[0] as RenderPlan).name}` : data.options.stems;
  const folder = `${separationPrefix(data.separationId)}/renders/${format}${quality}-${stemSet}`;
  const report = progressReporter(job);
  const started = performance.now();
  const files = [];
  // The waveforms of what is rendered now: the picture chat shows and the stems page's peaks.
  const lanes: { name: string; peaks: Peaks }[] = [];
  const totalFrames = separation.durationSeconds ? Math.round(separation.durationSeconds * DECODE_SAMPLE_RATE) : undefined;
  const outputs = await stageOutputs(deps.storage, deps.tempDir);
  try {
    for (const [index, plan] of plans.entries()) {
      const storageKey = `${folder}/${plan.name}.${OUTPUT_EXTENSIONS[format]}`;
      // Renders are cached: one stored by an earlier request (or attempt) is reused as it is.
      let bytes = await deps.storage.size(storageKey);
      if (bytes === undefined) {
        const encoder = await createEncoder({ ffmpeg: deps.ffmpeg, outputPath: outputs.pathFor(storageKey), format: encodeFormat, signal, logger: deps.logger });
        const peaks = new PeakAccumulator({ totalFrames });
        try {
          for await (const block of summed(deps.storage, plan.parts.map((part) => masters.get(part) as string), deps.ffmpeg, signal)) {
            peaks.add(block);
            await encoder.write(block);
          }
          await encoder.end();
          lanes.push({ name: plan.name, peaks: peaks.finish() });
        } catch (error) {
          await encoder.abort();
          throw error;
        }
        bytes = await outputs.store(storageKey);
      }
      files.push({ name: plan.name, storageKey, bytes });
      report('rendering', (index + 1) / plans.length);
    }
    // A render whose files were all there already has its waveforms too (or predates them).
    // The picture is a courtesy: a result is not lost over it.
    if (lanes.length === plans.length) {
      await storeWaveforms({ storage: deps.storage, folder, tempDir: deps.tempDir, lanes }).catch((error: unknown) => deps.logger.warn({ err: (error as Error).message, folder }, 'could not store the waveforms'));
    }
  } finally {
    await outputs.discard();
  }
  stageDuration.observe({ stage: 'render' }, (performance.now() - started) / 1000);
  return { kind: 'render', files };
}
