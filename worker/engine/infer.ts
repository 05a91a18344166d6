import * as ort from 'onnxruntime-node';
import type { ModelContract } from './contract.js';
import type { LoadedModel } from './model.js';
import { SPEC_BINS } from './stft.js';
import { inverseInPool, spectrogramInPool } from './stft-pool.js';

const AUDIO_CHANNELS = 2;
const SPEC_CHANNELS = 4;

/** Milliseconds spent so far, by kind of work. */
export interface ComputeTimings {
  /** The engine's whole inference: building tensors and feeds, `session.run`, taking the outputs (not the wait for this thread to take them). */
  inferenceMs: number;
  /** Strictly inside `session.run`; `inferenceMs - sessionRunMs` is the engine's own overhead. */
  sessionRunMs: number;
  /** Requests' way to the inference thread, not in `inferenceMs` (see `ModelSession.lastHandoffMs`). */
  handoffMs: number;
  /** Split contract: the host spectrogram and inverse, waited on while they run on the STFT pool. */
  stftMs: number;
}

type SplitContract = Extract<ModelContract, { kind: 'split' }>;

/**
 * Runs model calls on padded chunks: each input is `[2,S]`, each output `[K,2,S]`, one
 * `session.run` for the whole list (callers keep it to one chunk unless the batch is dynamic).
 * For the split contract it computes the spectrogram input and adds the inverse of the
 * frequency branch to the time branch, as HTDemucs.forward does after its decoders; both run on
 * worker threads, so the event loop stays free.
 *
 * `outputs`, when given, are where the results go (one `[K,2,S]` array per chunk) and are
 * returned. They must be views of ordinary ArrayBuffers (onnxruntime-node refuses shared ones);
 * onnxruntime writes into them directly when they are one contiguous run, as `outputBuffers`
 * allocates them. Without them each call returns the arrays the session made: on the inference
 * thread that is the buffer it filled, moved here uncopied, so callers leave them out there.
 */
export async function runChunks(model: LoadedModel, chunks: readonly Float32Array[], timings: ComputeTimings, outputs?: readonly Float32Array[]): Promise<Float32Array[]> {
  const { contract } = model;
  const given = outputs && checkOutputs(contract, chunks.length, outputs);
  if (contract.kind === 'waveform') return infer(model, chunks, given, undefined, timings);
  const scratch = acquireScratch(contract, chunks.length);
  try {
    let started = performance.now();
    await spectrograms(contract, chunks, scratch);
    scratch.specFeed.set(scratch.spec); // onnxruntime-node reads only ordinary ArrayBuffers
    timings.stftMs += performance.now() - started;
    const out = await infer(model, chunks, given, scratch, timings);
    started = performance.now();
    await addInverses(contract, scratch, out);
    timings.stftMs += performance.now() - started;
    return out;
  } finally {
    releaseScratch(contract, scratch);
  }
}

/**
 * `count` input chunks `[2,S]` to fill for one `runChunks` call, consecutive in one buffer that
 * the call moves to the inference thread and back: don't keep them past the call.
 */
export function inputChunks(model: LoadedModel, count: number): Float32Array[] {
  const size = AUDIO_CHANNELS * model.contract.segment;
  const all = model.session.inputBuffer(count * size);
  return Array.from({ length: count }, (_, b) => all.subarray(b * size, (b + 1) * size));
}

/** Makes `count` batches' worth of `inputChunks` memory ready ahead of the first (see `ModelSession.prepareInputs`). */
export function prepareInputChunks(model: LoadedModel, batch: number, count: number): Promise<void> {
  return model.session.prepareInputs(batch * AUDIO_CHANNELS * model.contract.segment, count);
}

/**
 * Outputs `runChunks` returned without caller buffers, once the caller is done with them: the
 * session fills them again on a later run instead of fresh memory.
 */
export function recycleOutputs(model: LoadedModel, outputs: readonly Float32Array[]): void {
  model.session.recycle(outputs);
}

/** `count` output arrays `[K,2,S]`, consecutive views of one ArrayBuffer, as onnxruntime can fill in one run. */
export function outputBuffers(contract: ModelContract, count: number): Float32Array[] {
  const size = contract.sources * AUDIO_CHANNELS * contract.segment;
  const all = new Float32Array(count * size);
  return Array.from({ length: count }, (_, b) => all.subarray(b * size, (b + 1) * size));
}

function checkOutputs(contract: ModelContract, count: number, outputs: readonly Float32Array[]): Float32Array[] {
  const size = contract.sources * AUDIO_CHANNELS * contract.segment;
  if (outputs.length !== count) throw new TypeError(`expected ${count} output buffers, got ${outputs.length}`);
  for (const o of outputs) {
    if (o.length !== size) throw new TypeError(`output buffers must hold [${contract.sources}, ${AUDIO_CHANNELS}, ${contract.segment}] = ${size} samples, got ${o.length}`);
    if (o.buffer instanceof SharedArrayBuffer) throw new TypeError('output buffers must be views of an ArrayBuffer: onnxruntime-node cannot write into shared memory');
  }
  return [...outputs];
}

/**
 * One `session.run` over the batch. Outputs the caller preallocated are written where the caller
 * reads them; otherwise the session's own arrays are returned as they are.
 */
async function infer(model: LoadedModel, chunks: readonly Float32Array[], out: readonly Float32Array[] | undefined, split: SplitScratch | undefined, timings: ComputeTimings): Promise<Float32Array[]> {
  const { contract, session } = model;
  const S = contract.segment;
  const K = contract.sources;
  const B = chunks.length;
  const started = performance.now();
  const feeds: Record<string, ort.Tensor> = { [contract.waveformInput]: new ort.Tensor('float32', joined(chunks), [B, AUDIO_CHANNELS, S]) };
  const time = out && contiguous(out);
  const fetches: Record<string, ort.Tensor | null> = { [contract.waveformOutput]: time ? new ort.Tensor('float32', time, [B, K, AUDIO_CHANNELS, S]) : null };
  // Without caller buffers the session fills one that `recycleOutputs` gave back.
  const shapes = { [contract.waveformOutput]: [B, K, AUDIO_CHANNELS, S] };
  if (contract.kind === 'split' && split) {
    const spec = [SPEC_CHANNELS, SPEC_BINS, contract.frames];
    feeds[contract.spectrogramInput] = new ort.Tensor('float32', split.specFeed, [B, ...spec]);
    fetches[contract.spectrogramOutput] = new ort.Tensor('float32', split.freqOut, [B, K, ...spec]);
  }
  const sent = performance.now();
  const results = await session.run(feeds, fetches, shapes);
  const answered = performance.now();
  // Inside onnxruntime, on the inference thread: the rest of inferenceMs is ours (tensors, messages, copies).
  timings.sessionRunMs += session.lastRunMs;
  timings.handoffMs += session.lastHandoffMs;
  const all = float32(results[contract.waveformOutput]);
  const size = K * AUDIO_CHANNELS * S;
  // Caller buffers scattered over memory cannot be one output tensor: copied out once.
  if (out && !time) out.forEach((o, b) => o.set(all.subarray(b * size, (b + 1) * size)));
  // The inference thread's work on this batch (see lastSpanMs), and ours around it. While the
  // answer waited for this thread to finish other work (overlap-adding the previous chunk), or a
  // request waited behind the one before it or for the thread to wake, no work went on for it.
  timings.inferenceMs += sent - started + session.lastSpanMs + (performance.now() - answered);
  return out ? [...out] : Array.from({ length: B }, (_, b) => all.subarray(b * size, (b + 1) * size));
}

/**
 * The batch as one ArrayBuffer view `[B,2,S]`: the chunk itself when there is one (no 2.7 MB
 * copy per model call at htdemucs' segment) or when the chunks already lie back to back.
 */
function joined(chunks: readonly Float32Array[]): Float32Array {
  const run = contiguous(chunks);
  // Shared memory too: it goes to the inference thread without a copy, and is copied there into
  // the ordinary buffer onnxruntime-node needs.
  if (run) return run;
  const size = (chunks[0] as Float32Array).length;
  const batch = new Float32Array(chunks.length * size);
  chunks.forEach((chunk, b) => batch.set(chunk, b * size));
  return batch;
}

/** One view over `parts` when they are consecutive, equal-length views of the same buffer. */
function contiguous(parts: readonly Float32Array[]): Float32Array | undefined {
  const first = parts[0] as Float32Array;
  if (parts.length === 1) return first;
  const consecutive = parts.every((p, i) => p.buffer === first.buffer && p.length === first.length && p.byteOffset === first.byteOffset + i * first.byteLength);
  return consecutive ? new Float32Array(first.buffer, first.byteOffset, parts.length * first.length) : undefined;
}

function float32(tensor: ort.Tensor | undefined): Float32Array {
  if (!tensor || !(tensor.data instanceof Float32Array)) throw new Error('model output is missing or not float32');
  return tensor.data;
}

/**
 * Buffers of one split-contract call, kept between calls of the same model and batch size so
 * the chunk loop neither allocates nor page-faults ~100 MB per chunk. Shared ones are what the
 * STFT pool works in; `specFeed` and `freqOut` are the ordinary ArrayBuffers onnxruntime needs.
 */
interface SplitScratch {
  /** `[B,2,S]` shared: chunks copied where the pool can read them (unless already shared). */
  signal: Float32Array;
  /** `[B,4,2048,T]` shared, written by the pool; `specFeed` the same as the model's input. */
  spec: Float32Array;
  specFeed: Float32Array;
  /** `[B,K,4,2048,T]`: the model's frequency branch, and its shared copy the pool inverts. */
  freqOut: Float32Array;
  freq: Float32Array;
  /** `[B,K,2,S]` shared: the pool's inverses, added into the time branch. */
  inverse: Float32Array;
}

const freeScratch = new WeakMap<SplitContract, Map<number, SplitScratch[]>>();

function acquireScratch(contract: SplitContract, batch: number): SplitScratch {
  const reused = freeScratch.get(contract)?.get(batch)?.pop();
  if (reused) return reused;
  const S = contract.segment;
  const K = contract.sources;
  const specSize = SPEC_CHANNELS * SPEC_BINS * contract.frames;
  const shared = (length: number): Float32Array => new Float32Array(new SharedArrayBuffer(length * Float32Array.BYTES_PER_ELEMENT));
  return {
    signal: shared(batch * AUDIO_CHANNELS * S),
    spec: shared(batch * specSize),
    specFeed: new Float32Array(batch * specSize),
    freqOut: new Float32Array(batch * K * specSize),
    freq: shared(batch * K * specSize),
    inverse: shared(batch * K * AUDIO_CHANNELS * S),
  };
}

function releaseScratch(contract: SplitContract, scratch: SplitScratch): void {
  const batch = scratch.signal.length / (AUDIO_CHANNELS * contract.segment);
  const byBatch = freeScratch.get(contract) ?? new Map<number, SplitScratch[]>();
  freeScratch.set(contract, byBatch);
  byBatch.set(batch, [...(byBatch.get(batch) ?? []), scratch]);
}

/** Every chunk's channels transformed in parallel on the pool, into `scratch.spec`. */
async function spectrograms(contract: SplitContract, chunks: readonly Float32Array[], scratch: SplitScratch): Promise<void> {
  const S = contract.segment;
  const half = 2 * SPEC_BINS * contract.frames; // one channel's re and im
  await settled(
    chunks.flatMap((chunk, b) => {
      let signal = chunk;
      if (!(chunk.buffer instanceof SharedArrayBuffer)) {
        signal = scratch.signal.subarray(b * AUDIO_CHANNELS * S, (b + 1) * AUDIO_CHANNELS * S);
        signal.set(chunk);
      }
      return [0, 1].map((c) => spectrogramInPool(signal.subarray(c * S, (c + 1) * S), scratch.spec.subarray((2 * b + c) * half, (2 * b + c + 1) * half)));
    }),
  );
}

/**
 * Each source's frequency branch inverted in parallel on the pool and added to its time branch
 * as it arrives. The copy into shared memory goes one source at a time, so the first inverses
 * start while the rest is copied.
 */
async function addInverses(contract: SplitContract, scratch: SplitScratch, out: readonly Float32Array[]): Promise<void> {
  const S = contract.segment;
  const K = contract.sources;
  const specSize = SPEC_CHANNELS * SPEC_BINS * contract.frames;
  const sourceSize = AUDIO_CHANNELS * S;
  const pending: Promise<void>[] = [];
  out.forEach((time /* [K,2,S] */, b) => {
    for (let k = 0; k < K; k++) {
      const at = (b * K + k) * specSize;
      scratch.freq.set(scratch.freqOut.subarray(at, at + specSize), at);
      const inverse = scratch.inverse.subarray((b * K + k) * sourceSize, (b * K + k + 1) * sourceSize);
      const target = time.subarray(k * sourceSize, (k + 1) * sourceSize);
      pending.push(inverseInPool(scratch.freq.subarray(at, at + specSize), S, inverse).then(() => addInto(target, inverse)));
    }
  });
  await settled(pending);
}

/** Like Promise.all, but only once every task has stopped writing into the scratch buffers. */
async function settled(tasks: readonly Promise<void>[]): Promise<void> {
  const failed = (await Promise.allSettled(tasks)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

function addInto(sum: Float32Array, x: Float32Array): void {
  for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + (x[i] as number);
}
