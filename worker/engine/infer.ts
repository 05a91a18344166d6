import * as ort from 'onnxruntime-node';
import type { LoadedModel } from './model.js';
import { addInverseSpectrogram, spectrogram, SPEC_BINS } from './stft.js';

const AUDIO_CHANNELS = 2;
const SPEC_CHANNELS = 4;

/** Milliseconds spent so far, by kind of work. */
export interface ComputeTimings {
  inferenceMs: number;
  stftMs: number;
}

/**
 * Runs model calls on padded chunks: each input is `[2,S]`, each output `[K,2,S]`, one
 * `session.run` for the whole list (callers keep it to one chunk unless the batch is dynamic).
 * For the split contract it computes the spectrogram input and adds the inverse of the
 * frequency branch to the time branch, as HTDemucs.forward does after its decoders.
 */
export async function runChunks(model: LoadedModel, chunks: readonly Float32Array[], timings: ComputeTimings): Promise<Float32Array[]> {
  const { contract, session } = model;
  const S = contract.segment;
  const K = contract.sources;
  const B = chunks.length;
  // A batch of one is the chunk itself: no 2.7 MB copy per model call at htdemucs' segment.
  const waveform = B === 1 ? (chunks[0] as Float32Array) : new Float32Array(B * AUDIO_CHANNELS * S);
  if (B > 1) chunks.forEach((chunk, b) => waveform.set(chunk, b * AUDIO_CHANNELS * S));
  const feeds: Record<string, ort.Tensor> = { [contract.waveformInput]: new ort.Tensor('float32', waveform, [B, AUDIO_CHANNELS, S]) };
  let started = performance.now();
  if (contract.kind === 'split') {
    const specSize = SPEC_CHANNELS * SPEC_BINS * contract.frames;
    const spec = new Float32Array(B * specSize);
    chunks.forEach((chunk, b) => spectrogram(planar(chunk, S), spec.subarray(b * specSize, (b + 1) * specSize)));
    feeds[contract.spectrogramInput] = new ort.Tensor('float32', spec, [B, SPEC_CHANNELS, SPEC_BINS, contract.frames]);
    timings.stftMs += performance.now() - started;
    started = performance.now();
  }
  const results = await session.run(feeds);
  timings.inferenceMs += performance.now() - started;
  const time = float32(results[contract.waveformOutput]);
  // Views, not copies: the output tensors are ours once run() returns.
  const outputs = Array.from({ length: B }, (_, b) => time.subarray(b * K * AUDIO_CHANNELS * S, (b + 1) * K * AUDIO_CHANNELS * S));
  if (contract.kind === 'waveform') return outputs;
  started = performance.now();
  const freq = float32(results[contract.spectrogramOutput]);
  const specSize = SPEC_CHANNELS * SPEC_BINS * contract.frames;
  outputs.forEach((out /* [K,2,S] */, b) => {
    for (let k = 0; k < K; k++) {
      const at = (b * K + k) * specSize;
      addInverseSpectrogram(freq.subarray(at, at + specSize), S, planar(out.subarray(k * AUDIO_CHANNELS * S, (k + 1) * AUDIO_CHANNELS * S), S));
    }
  });
  timings.stftMs += performance.now() - started;
  return outputs;
}

/** `[2,S]` flat -> two channel views. */
function planar(x: Float32Array, S: number): Float32Array[] {
  return [x.subarray(0, S), x.subarray(S, 2 * S)];
}

function float32(tensor: ort.Tensor | undefined): Float32Array {
  if (!tensor || !(tensor.data instanceof Float32Array)) throw new Error('model output is missing or not float32');
  return tensor.data;
}
