import type { InferenceSession } from 'onnxruntime-node';
import { UserError } from '../../core/errors.js';
import { SPEC_BINS, specFrames } from './stft.js';

/**
 * Which of the two public htdemucs ONNX contracts a graph follows, read from its declared
 * inputs and outputs (see DESIGN.md, "Separation"):
 * - waveform: `[B,2,S]` -> `[B,K,2,S]`
 * - split: `[B,2,S]` + `[B,4,2048,T]` -> `[B,K,4,2048,T]` (frequency) + `[B,K,2,S]` (time)
 */
export type ModelContract =
  | (ContractCommon & { kind: 'waveform'; waveformOutput: string })
  | (ContractCommon & { kind: 'split'; spectrogramInput: string; frames: number; waveformOutput: string; spectrogramOutput: string });

interface ContractCommon {
  /** Samples per model call: the fixed `S` of the graph. */
  segment: number;
  /** Sources the graph returns: `K`. */
  sources: number;
  /** True when the batch dimension is symbolic, so several chunks can share one `session.run`. */
  dynamicBatch: boolean;
  waveformInput: string;
}

const AUDIO_CHANNELS = 2; // stereo, as every htdemucs model
const SPEC_CHANNELS = 4; // complex-as-channels stereo spectrogram

type Shape = ReadonlyArray<number | string>;

function describe(values: readonly InferenceSession.ValueMetadata[]): string {
  return values.map((v) => `${v.name} [${v.isTensor ? v.shape.map((d) => (d === '' || d === undefined ? '?' : d)).join(', ') : 'not a tensor'}]`).join(', ');
}

function contractError(inputs: readonly InferenceSession.ValueMetadata[], outputs: readonly InferenceSession.ValueMetadata[], why: string): UserError {
  return new UserError(
    'model_contract',
    `This model does not look like a Demucs ONNX export (${why}). Expected input [1, 2, S] (plus [1, 4, 2048, T] for split models); ` +
      `got inputs ${describe(inputs)} and outputs ${describe(outputs)}.`,
  );
}

const isDynamic = (d: number | string | undefined): boolean => typeof d === 'string' || (typeof d === 'number' && d < 0);

/** Matches `shape` against a pattern where numbers must be equal and `null` takes any fixed size. */
function matches(shape: Shape, pattern: ReadonlyArray<number | null>): boolean {
  if (shape.length !== pattern.length) return false;
  return pattern.every((p, i) => (i === 0 ? shape[0] === 1 || isDynamic(shape[0]) : typeof shape[i] === 'number' && (p === null || shape[i] === p)));
}

function tensorShapes(values: readonly InferenceSession.ValueMetadata[]): Array<{ name: string; shape: Shape }> | undefined {
  const out: Array<{ name: string; shape: Shape }> = [];
  for (const v of values) {
    if (!v.isTensor || v.type !== 'float32') return undefined;
    out.push({ name: v.name, shape: v.shape });
  }
  return out;
}

/**
 * Detects the contract and checks it against what the caller expects (`sources` from metadata,
 * `segment` from a registry entry). Throws `UserError('model_contract')` when the graph fits
 * neither contract or disagrees with the expectation.
 */
export function detectContract(
  inputs: readonly InferenceSession.ValueMetadata[],
  outputs: readonly InferenceSession.ValueMetadata[],
  expected: { sources?: number; segment?: number } = {},
): ModelContract {
  const fail = (why: string): UserError => contractError(inputs, outputs, why);
  const ins = tensorShapes(inputs);
  const outs = tensorShapes(outputs);
  if (!ins || !outs) throw fail('every input and output must be a float32 tensor');
  const wave = ins.find((v) => v.shape.length === 3);
  if (!wave || !matches(wave.shape, [1, AUDIO_CHANNELS, null])) throw fail('no stereo waveform input [1, 2, S]');
  const segment = wave.shape[2] as number;
  const dynamicBatch = isDynamic(wave.shape[0]);
  const waveOut = outs.find((v) => v.shape.length === 4);
  if (!waveOut || !matches(waveOut.shape, [1, null, AUDIO_CHANNELS, segment])) throw fail(`no waveform output [1, K, 2, ${segment}]`);
  const sources = waveOut.shape[1] as number;
  const common = { segment, sources, dynamicBatch, waveformInput: wave.name, waveformOutput: waveOut.name };
  let contract: ModelContract;
  if (ins.length === 1 && outs.length === 1) {
    contract = { kind: 'waveform', ...common };
  } else {
    const frames = specFrames(segment);
    const spec = ins.find((v) => v.shape.length === 4);
    const specOut = outs.find((v) => v.shape.length === 5);
    if (ins.length !== 2 || outs.length !== 2 || !spec || !specOut) throw fail('unexpected number of inputs or outputs');
    if (!matches(spec.shape, [1, SPEC_CHANNELS, SPEC_BINS, frames])) throw fail(`spectrogram input must be [1, 4, 2048, ${frames}]`);
    if (!matches(specOut.shape, [1, sources, SPEC_CHANNELS, SPEC_BINS, frames])) throw fail(`spectrogram output must be [1, ${sources}, 4, 2048, ${frames}]`);
    contract = { kind: 'split', ...common, spectrogramInput: spec.name, frames, spectrogramOutput: specOut.name };
  }
  if (expected.sources !== undefined && expected.sources !== sources) {
    throw fail(`it returns ${sources} sources but ${expected.sources} are named for it`);
  }
  if (expected.segment !== undefined && expected.segment !== segment) {
    throw fail(`its segment is ${segment} samples, expected ${expected.segment}`);
  }
  return contract;
}
