import { randomInt } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { UserError } from '../../core/errors.js';
import { inputChunks, prepareInputChunks, recycleOutputs, runChunks, type ComputeTimings } from './infer.js';
import type { LoadedModel } from './model.js';
import { OverlapAdd, PassAverage, transitionWeight, type Block } from './overlap-add.js';
import { NORMALISATION_EPSILON, TrackSpool, type SpoolFiller, type SpoolOptions } from './spool.js';
import type { SpoolFiles } from './spool-files.js';
import { StemOutput, clipModeSchema, type StemWriter } from './stem-output.js';

/**
 * Separation as demucs 4 does it (`api.Separator.separate_tensor`, `apply.apply_model`,
 * `separate.py`), streamed so memory does not grow with the track:
 *
 * 1. The decoded track is spooled to disk while the mean and unbiased std of its mono reference
 *    (`ref = mean over channels`) are accumulated. Chunks are read back normalised:
 *    `x = (wav - mean) / (std + 1e-8)`.
 * 2. shifts = N > 0: the track is zero-padded by `max_shift = int(0.5 * sr)` on both sides and N
 *    passes run, pass i seeing the padded track from a random offset `o_i` in `[0, max_shift]`
 *    (Python's `random.randint` includes the end) to the end of the real audio; each pass'
 *    result is cut back to the track and the passes are averaged. shifts = 0: one pass over the
 *    track itself.
 * 3. Within a pass of length L: `stride = int((1 - overlap) * S)`, chunks at 0, stride, … < L,
 *    each `l = min(S, L - offset)` long, read as S samples starting at `offset - (S - l) // 2`
 *    (real neighbouring audio; zeros only outside the padded track), and the model output is
 *    centre-trimmed back to `l`.
 * 4. Outputs are overlap-added with the transition weight (`weight[:l]` for a chunk of length l)
 *    and divided by the summed weights.
 * 5. Sources are de-normalised `out * (std + 1e-8) + mean`; with `twoStems = X` the stems are X
 *    and `no_X`, the sum of the other sources; each stem is clipped at save time (`clip`).
 *
 * Passes run interleaved by track position, so each keeps one segment of overlap-add state and
 * finished samples go to the writers as soon as every pass has delivered them (see PassAverage).
 */

export const separationSettingsSchema = z.object({
  /** Random-shift passes averaged (demucs `--shifts`); 0 is deterministic. Default 1, as demucs. */
  shifts: z.number().int().min(0).max(20).default(1),
  /** Fraction of a segment shared by neighbouring chunks (demucs `--overlap`). Default 0.25. */
  overlap: z.number().min(0).lt(1).default(0.25),
  /** Exponent sharpening the cross-fade between chunks; demucs' default 1. */
  transitionPower: z.number().min(1).default(1),
  /** Seeds the shift offsets; a random seed when absent. */
  seed: z.number().int().optional(),
  /** Keep this source and `no_<source>` (the sum of the rest), like demucs `--two-stems`. */
  twoStems: z.string().optional(),
  /** How stems are kept from clipping when saved (demucs `--clip-mode`). Default rescale. */
  clip: clipModeSchema.default('rescale'),
  /** Chunks per `session.run` when the model's batch dimension is dynamic, else 1. Default 1. */
  batchSize: z.number().int().min(1).max(64).default(1),
});
export type SeparationSettings = z.input<typeof separationSettingsSchema>;

export interface StageTimings extends ComputeTimings {
  /** Overlap-add, averaging and de-normalising (chunk reads run while the model works, uncounted). */
  overlapAddMs: number;
}

export type SeparationProgress =
  | { stage: 'spool'; samples: number }
  | { stage: 'preview'; fraction: number }
  | { stage: 'separate'; fraction: number; timings: StageTimings }
  | { stage: 'write'; fraction: number };

export interface SeparateOptions extends SeparationSettings {
  model: LoadedModel;
  /** Called once per output stem, in `SeparationResult.stems` order, before any audio is written. */
  openStem: (name: string) => StemWriter | Promise<StemWriter>;
  /** Spools (track and, for rescale, stems) go in a fresh folder here, removed at the end. */
  tempDir: string;
  /** Where the stem spools come from and go back to for reuse; new files in `tempDir` without it. */
  spoolFiles?: SpoolFiles | undefined;
  /**
   * Awaited before the track spool grows to `samples` per channel (`spooled` are written): the disk
   * guard's hook. A `SpoolFiller` input reports growth once it is on disk (see `SpoolOptions`).
   */
  beforeSpoolGrowth?: (samples: number, spooled: number) => Promise<void>;
  signal?: AbortSignal;
  onProgress?: (progress: SeparationProgress) => void;
  /** Separate this excerpt first and hand it over, then the whole track. */
  excerpt?: ExcerptOptions;
}

export interface SeparationResult {
  stems: string[];
  /** Samples per channel. */
  length: number;
  /** The offsets the shift passes drew, in `[0, maxShift]`. */
  shiftOffsets: number[];
  maxShift: number;
  /** Per stem: peak before clipping and the gain applied. */
  levels: Array<{ name: string; peak: number; gain: number }>;
  timings: StageTimings;
}

const MAX_SHIFT_SECONDS = 0.5; // demucs: max_shift = int(0.5 * samplerate)
/** Batches asked of the inference thread before the current one is overlap-added. */
const INFERENCE_AHEAD = 3;

/** The stems a separation yields: the model's sources, or `[X, no_X]`. */
export function stemNames(sources: readonly string[], twoStems?: string): string[] {
  if (twoStems === undefined) return [...sources];
  if (!sources.includes(twoStems)) {
    throw new UserError('unknown_stem', `This model has no "${twoStems}" stem; it has ${sources.join(', ')}.`);
  }
  return [twoStems, `no_${twoStems}`];
}

/** demucs' `stride = int((1 - overlap) * segment)`; an overlap that leaves none is refused. */
function strideOf(segment: number, overlap: number): number {
  const stride = Math.floor((1 - overlap) * segment);
  if (stride < 1) throw new UserError('bad_overlap', `An overlap of ${overlap} leaves no stride; use a smaller overlap.`);
  return stride;
}

/** mulberry32: a small seedable generator, so a seed reproduces the shift offsets. */
export function drawShiftOffsets(count: number, maxShift: number, seed: number): number[] {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return Array.from({ length: count }, () => Math.floor(next() * (maxShift + 1)));
}

/** One pass: its timeline starts at track position `start` and is `length` samples long. */
interface Pass {
  start: number;
  length: number;
}

interface ChunkJob {
  pass: number;
  offset: number; // on the pass' timeline
  used: number; // l: samples of the model output kept
  next: number | undefined; // the offset of the pass' next chunk; none for its last
}

function planPasses(length: number, shiftOffsets: readonly number[], maxShift: number): Pass[] {
  if (shiftOffsets.length === 0) return [{ start: 0, length }];
  return shiftOffsets.map((o) => ({ start: o - maxShift, length: length + maxShift - o }));
}

/** Every chunk of every pass, ordered by track position so the passes advance together. */
function planChunks(passes: readonly Pass[], segment: number, stride: number): ChunkJob[] {
  const jobs = passes.flatMap((p, pass) => {
    const offsets = Array.from({ length: Math.ceil(p.length / stride) }, (_, i) => i * stride);
    return offsets.map((offset, i) => ({ pass, offset, used: Math.min(segment, p.length - offset), next: offsets[i + 1] }));
  });
  const at = (j: ChunkJob): number => (passes[j.pass] as Pass).start + j.offset;
  return jobs.sort((a, b) => at(a) - at(b) || a.pass - b.pass);
}

/**
 * `[K,2,n]` de-normalised sources -> one planar `[2][n]` block per stem, as views of the block
 * (valid until the next chunk is overlap-added; the writers take them before then).
 */
function toStems(block: Block, sources: number, keep: number | undefined): { planar: Float32Array[][]; peaks: number[] | undefined } {
  const { length: n, stride, data } = block;
  const row = (k: number, c: number): Float32Array => data.subarray((k * 2 + c) * stride, (k * 2 + c) * stride + n);
  const all = Array.from({ length: sources }, (_, k) => [row(k, 0), row(k, 1)]);
  if (keep === undefined) {
    const { peaks } = block;
    return { planar: all, peaks: peaks && all.map((_, k) => peakOfRows(peaks[2 * k] as number, peaks[2 * k + 1] as number)) };
  }
  const rest = [new Float32Array(n), new Float32Array(n)];
  for (const [k, source] of all.entries()) {
    if (k === keep) continue;
    for (const [c, r] of rest.entries()) addInto(r, source[c] as Float32Array);
  }
  return { planar: [all[keep] as Float32Array[], rest], peaks: undefined };
}

/** The larger of two peaks, NaN if either is (as a peak over both rows' samples would be). */
function peakOfRows(a: number, b: number): number {
  return Number.isNaN(a) || Number.isNaN(b) ? Number.NaN : Math.max(a, b);
}

function addInto(sum: Float32Array, x: Float32Array): void {
  for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + (x[i] as number);
}

/** A short part of the track separated on its own first, as a preview (see `SeparateOptions.excerpt`). */
export interface ExcerptOptions {
  /** First sample of the excerpt, clamped so the excerpt fits; default a third of the way in. */
  start?: number | undefined;
  /** Samples per channel. */
  length: number;
  openStem: (name: string) => StemWriter | Promise<StemWriter>;
  /** Awaited before the full separation starts: the excerpt's stems are complete. `start` is where it lay. */
  onDone: (result: SeparationResult, start: number) => void | Promise<void>;
}

/** Where an excerpt of `length` samples asked to start at `start` (default a third in) lies in a track of `trackLength`. */
export function placeExcerpt(trackLength: number, start: number | undefined, length: number): { start: number; length: number } {
  const fitted = Math.min(length, trackLength);
  const wanted = start ?? trackLength / 3;
  return { start: Math.max(0, Math.min(Math.floor(wanted), trackLength - fitted)), length: fitted };
}

/**
 * Separates a track given as interleaved stereo blocks `[n,2]`, or by a `SpoolFiller` that writes
 * the track spool itself (a decoder with the file as its output, at its own speed).
 */
export async function separate(input: AsyncIterable<Float32Array /* interleaved stereo [n,2] */> | SpoolFiller, options: SeparateOptions): Promise<SeparationResult> {
  const settings = separationSettingsSchema.parse(options);
  // Checked before the track is decoded: these are the request's mistakes, not the track's.
  stemNames(options.model.sources, settings.twoStems);
  strideOf(options.model.contract.segment, settings.overlap);
  const dir = await mkdtemp(join(options.tempDir, 'stembot-separate-'));
  // While ffmpeg decodes, this thread only follows the spool: the memory the chunk loop needs is
  // faulted in now, not after the track's statistics are known (about 100 ms on a small VM).
  const prepared = prepareChunkMemory(options.model, settings).catch(() => undefined);
  let track: TrackSpool | undefined;
  try {
    const spoolPath = join(dir, 'track.f32');
    const spoolOptions: SpoolOptions = {
      signal: options.signal,
      onSamples: (samples) => options.onProgress?.({ stage: 'spool', samples }),
      beforeGrowth: options.beforeSpoolGrowth,
    };
    track = await ('fill' in input ? input.fill(spoolPath, spoolOptions) : TrackSpool.write(input, spoolPath, spoolOptions));
    await prepared;
    // A track under twice the excerpt gets none: its whole result comes about as soon.
    if (options.excerpt && track.length >= 2 * options.excerpt.length) {
      // The preview: the excerpt alone, normalised by its own statistics, as if demucs had been
      // given just that clip. It reads the spool, so the audio is not fetched or decoded twice.
      const { start, length } = placeExcerpt(track.length, options.excerpt.start, options.excerpt.length);
      const excerpt = await track.excerpt(start, length);
      const onProgress = (p: SeparationProgress): void => {
        if (p.stage === 'separate') options.onProgress?.({ stage: 'preview', fraction: p.fraction });
      };
      const result = await separateSpooled(excerpt, settings, { ...options, openStem: options.excerpt.openStem, onProgress }, join(dir, 'excerpt'));
      await options.excerpt.onDone(result, start);
    }
    return await separateSpooled(track, settings, options, dir);
  } finally {
    await prepared;
    await track?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The overlap-add and read kernels' memory for these settings (see `prepareKernels`). */
async function prepareChunkMemory(model: LoadedModel, settings: z.output<typeof separationSettingsSchema>): Promise<void> {
  const { segment, sources } = model.contract;
  const singlePass = settings.shifts <= 1;
  await OverlapAdd.prepare(sources * 2, segment, strideOf(segment, settings.overlap), singlePass);
  await TrackSpool.prepareReads(segment);
  await prepareInputChunks(model, model.contract.dynamicBatch ? settings.batchSize : 1, INFERENCE_AHEAD);
}

/** Separates a spooled track (or an excerpt of one); stem spools go in `dir`. */
async function separateSpooled(track: TrackSpool, settings: z.output<typeof separationSettingsSchema>, options: SeparateOptions, dir: string): Promise<SeparationResult> {
  const { model, signal, onProgress } = options;
  const { segment: S, sources: K, dynamicBatch } = model.contract;
  const stems = stemNames(model.sources, settings.twoStems);
  const stride = strideOf(S, settings.overlap);
  const maxShift = Math.floor(MAX_SHIFT_SECONDS * model.sampleRate);
  const shiftOffsets = drawShiftOffsets(settings.shifts, maxShift, settings.seed ?? randomInt(2 ** 31));
  const batchSize = dynamicBatch ? settings.batchSize : 1;
  const timings: StageTimings = { inferenceMs: 0, sessionRunMs: 0, handoffMs: 0, stftMs: 0, overlapAddMs: 0 };

  let output: StemOutput | undefined;
  let overlapAdds: OverlapAdd[] = [];
  const inFlight: Promise<Float32Array[]>[] = [];
  // Chunk reads share the spool's buffers: one at a time, in order.
  let reading: Promise<unknown> = Promise.resolve();
  try {
    await mkdir(dir, { recursive: true });
    const passes = planPasses(track.length, shiftOffsets, maxShift);
    const jobs = planChunks(passes, S, stride);
    const batches = Array.from({ length: Math.ceil(jobs.length / batchSize) }, (_, b) => jobs.slice(b * batchSize, (b + 1) * batchSize));
    const infer = async (batch: readonly ChunkJob[]): Promise<Float32Array[]> => {
      // Moved to the inference thread and back, not copied: the session's buffers, reused.
      const chunks = inputChunks(model, batch.length); // [2,S] each
      const read = reading.then(async () => {
        for (const [i, job] of batch.entries()) {
          const chunk = chunks[i] as Float32Array;
          const readFrom = (passes[job.pass] as Pass).start + job.offset - Math.floor((S - job.used) / 2);
          await track.readNormalised(readFrom, [chunk.subarray(0, S), chunk.subarray(S)]);
        }
      });
      reading = read.catch(() => undefined);
      await read;
      // No output buffers of ours: the inference thread's own are moved here without a copy.
      return runChunks(model, chunks, timings); // [K,2,S] each
    };
    // Stages, not phases: the model works on the next batches while this one is overlap-added
    // and handed to the encoders. Three are asked for ahead, so the inference thread finds the
    // next one waiting when it answers, instead of idling until this thread gets to it.
    const issue = (b: number): void => {
      const batch = batches[b];
      if (!batch) return;
      const inferring = infer(batch);
      // Met in order below; if an earlier one throws first, this one must not go unhandled.
      inferring.catch(() => undefined);
      inFlight.push(inferring);
    };
    for (let b = 0; b < INFERENCE_AHEAD; b++) issue(b);
    // The rest is laid out while the first chunks are read and run.
    const weight = transitionWeight(S, settings.transitionPower);
    const denormalise = { scale: track.std + NORMALISATION_EPSILON, mean: track.mean };
    overlapAdds = passes.map((p) => new OverlapAdd(K * 2, S, stride, p.length, weight, denormalise, passes.length === 1));
    const average = new PassAverage(K * 2, passes.length, track.length, 2 * S + maxShift);
    const keep = settings.twoStems === undefined ? undefined : model.sources.indexOf(settings.twoStems);
    output = await StemOutput.open(stems, settings.clip, options.openStem, dir, options.spoolFiles);
    // While the model takes its first chunks.
    await Promise.all(overlapAdds.map((overlapAdd) => overlapAdd.warm()));
    for (const [b, batch] of batches.entries()) {
      signal?.throwIfAborted();
      const outputs = await (inFlight.shift() as Promise<Float32Array[]>);
      issue(b + INFERENCE_AHEAD);
      for (const [i, job] of batch.entries()) {
        const started = performance.now();
        const pass = passes[job.pass] as Pass;
        const onTrack = (block: Block): Block => ({ ...block, start: block.start + pass.start });
        // The block is overlap-add's own buffer until its next add: written out before then.
        average.add(job.pass, onTrack((overlapAdds[job.pass] as OverlapAdd).add(job.offset, outputs[i] as Float32Array, job.used, job.next)));
        const ready = average.take();
        const stemBlocks = ready && toStems(ready, K, keep);
        timings.overlapAddMs += performance.now() - started;
        if (stemBlocks) await output.write(stemBlocks.planar, stemBlocks.peaks);
      }
      // Overlap-add copied what it needs: the model's buffers go back to be filled again.
      recycleOutputs(model, outputs);
      onProgress?.({ stage: 'separate', fraction: (b + 1) / batches.length, timings: { ...timings } });
    }
    signal?.throwIfAborted();
    const levels = await output.finish((fraction) => onProgress?.({ stage: 'write', fraction }));
    return { stems, length: track.length, shiftOffsets, maxShift, levels, timings };
  } finally {
    // A chunk still being read (after a failure) writes into memory that is about to be reused;
    // a model run still going is not waited for (seconds on a CPU): its answer is dropped.
    await reading;
    // Their memory serves the next separation (or the full track after its preview).
    for (const overlapAdd of overlapAdds) overlapAdd.release();
    await output?.close();
  }
}
