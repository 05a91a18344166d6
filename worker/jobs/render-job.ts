import { Separation } from '../../core/db/entities/index.js';
import type { RequestOptions } from '../../core/db/entities/separation-request.js';
import { UserError } from '../../core/errors.js';
import type { JobResult, RenderJobData } from '../../core/queue/jobs.js';
import { SAFE_NAME, separationPrefix } from '../../core/storage.js';
import { decodeAudio, type PlanarBlock } from '../audio/decode.js';
import { OUTPUT_EXTENSIONS, createEncoder, type EncodeFormatInput } from '../audio/encode.js';
import { stageDuration } from '../../core/metrics.js';
import { progressReporter, type StembotJob, type WorkerDeps } from './job-context.js';

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

/** Decodes several equally long masters in step and yields their sample-wise sum. */
async function* summed(files: string[], ffmpeg: string, signal: AbortSignal | undefined): AsyncGenerator<PlanarBlock> {
  const streams = files.map((file) => decodeAudio(file, { ffmpeg, signal }));
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
  }
}

/**
 * Encodes what one request asked for from its separation's masters. Renders are cached per
 * (format, stem set): a second request with the same options reuses the files.
 */
export async function runRenderJob(deps: WorkerDeps, job: StembotJob, data: RenderJobData, signal?: AbortSignal): Promise<JobResult> {
  const separation = await deps.em.fork().findOne(Separation, data.separationId);
  if (!separation || separation.state !== 'completed') throw new UserError('separation_gone', 'The separated stems are no longer stored; please ask again.');
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
  for (const [index, plan] of plans.entries()) {
    const storageKey = `${folder}/${plan.name}.${OUTPUT_EXTENSIONS[format]}`;
    let bytes = await deps.storage.size(storageKey);
    if (bytes === undefined) {
      const encoder = await createEncoder({ ffmpeg: deps.ffmpeg, outputPath: await deps.storage.prepare(storageKey), format: encodeFormat, signal, logger: deps.logger });
      try {
        for await (const block of summed(plan.parts.map((part) => deps.storage.pathOf(masters.get(part) as string)), deps.ffmpeg, signal)) await encoder.write(block);
        await encoder.end();
      } catch (error) {
        await encoder.abort();
        throw error;
      }
      bytes = (await deps.storage.size(storageKey)) ?? 0;
    }
    files.push({ name: plan.name, storageKey, bytes });
    report('rendering', (index + 1) / plans.length);
  }
  stageDuration.observe({ stage: 'render' }, (performance.now() - started) / 1000);
  return { kind: 'render', files };
}
