import { addInverseSpectrogram, spectrogramChannel } from './stft.js';

/**
 * The STFT pool's worker-thread entry (see stft-pool.ts). Tasks carry views of shared memory, so
 * nothing is copied on the way in or out; each writes only its own slice.
 */
export type StftTask =
  /** One channel of a chunk, `signal` `[S]`, into its half of the model's spectrogram input, `out` `[2, 2048, T]`. */
  | { kind: 'spectrogram'; signal: Float32Array; out: Float32Array }
  /** One source's frequency-branch output, `spec` `[4, 2048, T]`, inverted into `out` `[2, length]` (overwritten). */
  | { kind: 'inverse'; spec: Float32Array; length: number; out: Float32Array };

// Piscina calls a module's default export.
export default function runStftTask(task: StftTask): void {
  if (task.kind === 'spectrogram') {
    spectrogramChannel(task.signal, task.out);
    return;
  }
  const { spec, length, out } = task;
  out.fill(0);
  addInverseSpectrogram(spec, length, [out.subarray(0, length), out.subarray(length, 2 * length)]);
}
