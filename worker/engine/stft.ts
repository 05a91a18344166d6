import FFT from 'fft.js';

/**
 * The host side of htdemucs' "split" ONNX contract: the spectrogram the graph expects and the
 * inverse of what it returns, exactly as demucs computes them (`spec.spectro` / `spec.ispectro`
 * wrapped by `HTDemucs._spec` / `_ispec`, with complex-as-channels `_magnitude` / `_mask`).
 * Each function is synchronous and self-contained, so it runs unchanged in a worker thread
 * (stft-pool.ts); the maths stays in float64 as fft.js computes it.
 */

export const N_FFT = 4096; // samples per STFT frame (htdemucs nfft)
export const HOP = N_FFT / 4; // 1024 samples between frames; demucs asserts hop == nfft / 4
export const SPEC_BINS = N_FFT / 2; // 2048: htdemucs drops the Nyquist bin
const EDGE_FRAMES = 2; // frames demucs drops on each side after its extra padding
const DEMUCS_PAD = (HOP / 2) * 3; // 1536 samples of reflect padding, so frames line up with hops
const SPEC_CHANNELS = 4; // complex-as-channels: ch0.re, ch0.im, ch1.re, ch1.im
const NORMALIZE = 1 / Math.sqrt(N_FFT); // torch.stft normalized=True
// Frames gathered before they are scattered into (or read from) the bin-major spectrogram, so its
// strided accesses touch each cache line once per block rather than once per frame.
const FRAME_BLOCK = 16;

/** A one-channel complex STFT, bin-major: value of bin k, frame t at `k * frames + t`. */
export interface Stft {
  bins: number;
  frames: number;
  re: Float64Array;
  im: Float64Array;
}

const fft = new FFT(N_FFT);
// torch.hann_window(n) is periodic: w[n] = 0.5 - 0.5 cos(2 pi n / N), with N (not N - 1).
const window = Float64Array.from({ length: N_FFT }, (_, n) => 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / N_FFT));
const windowSquared = window.map((w) => w * w);

/** torch.nn.functional.pad(mode='reflect'): mirrors without repeating the edge sample. */
function reflectPad(x: ArrayLike<number>, left: number, right: number): Float64Array {
  const n = x.length;
  if (left >= n || right >= n) throw new Error(`reflect padding ${left}/${right} needs more than ${n} samples`);
  const out = new Float64Array(left + n + right);
  for (let i = 0; i < out.length; i++) {
    let j = i - left;
    if (j < 0) j = -j;
    else if (j >= n) j = 2 * (n - 1) - j;
    out[i] = x[j] as number;
  }
  return out;
}

/**
 * Forward transforms of `count` frames of `padded` (frame i starts at `(first + i) * HOP`), each
 * windowed and normalised; `write(i, spectrum)` gets bins 0..N/2 as interleaved re/im.
 */
function analyse(padded: Float64Array, first: number, count: number, write: (i: number, spectrum: number[]) => void): void {
  // fft.js is tuned for plain arrays (its createComplexArray); typed arrays made it no faster.
  const frame = new Array<number>(N_FFT).fill(0);
  const spectrum = fft.createComplexArray() as number[];
  for (let i = 0; i < count; i++) {
    const at = (first + i) * HOP;
    for (let n = 0; n < N_FFT; n++) frame[n] = (padded[at + n] as number) * (window[n] as number);
    fft.realTransform(spectrum, frame);
    for (let j = 0; j < N_FFT + 2; j++) spectrum[j] = (spectrum[j] as number) * NORMALIZE;
    write(i, spectrum);
  }
}

/** torch.stft(x, N_FFT, HOP, hann_window, normalized=True, center=True, pad_mode='reflect'). */
export function stft(x: ArrayLike<number>): Stft {
  const frames = 1 + Math.floor(x.length / HOP);
  const bins = N_FFT / 2 + 1;
  const re = new Float64Array(bins * frames);
  const im = new Float64Array(bins * frames);
  analyse(reflectPad(x, N_FFT / 2, N_FFT / 2), 0, frames, (t, spectrum) => {
    for (let k = 0; k < bins; k++) {
      re[k * frames + t] = spectrum[2 * k] as number;
      im[k * frames + t] = spectrum[2 * k + 1] as number;
    }
  });
  return { bins, frames, re, im };
}

/**
 * The overlap-add half of torch.istft(z, N_FFT, HOP, hann_window, normalized=True, center=True,
 * length) for two real channels at once: one complex inverse FFT of `Z0 + i Z1` yields
 * `x0 + i x1`. `fill(t, z)` writes frame t's bins 0..N/2 as `z = [re0, im0, re1, im1]` and returns
 * false for an all-zero frame, whose transform is skipped (it still counts in the window envelope).
 */
function synthesise(frames: number, length: number, fill: (t: number, z: Float64Array[]) => boolean): [Float64Array, Float64Array] {
  const total = Math.max(N_FFT + HOP * (frames - 1), length + N_FFT);
  const sum = [new Float64Array(total), new Float64Array(total)] as const;
  const envelope = new Float64Array(total);
  const z = Array.from({ length: 4 }, () => new Float64Array(N_FFT / 2 + 1));
  const spectrum = fft.createComplexArray() as number[];
  const signal = fft.createComplexArray() as number[];
  const scale = Math.sqrt(N_FFT); // undoes normalized=True; inverseTransform divides by N itself
  for (let t = 0; t < frames; t++) {
    const at = t * HOP;
    for (let n = 0; n < N_FFT; n++) envelope[at + n] = (envelope[at + n] as number) + (windowSquared[n] as number);
    if (!fill(t, z)) continue;
    packPair(z, scale, spectrum);
    fft.inverseTransform(signal, spectrum);
    for (let n = 0; n < N_FFT; n++) {
      const w = window[n] as number;
      sum[0][at + n] = (sum[0][at + n] as number) + (signal[2 * n] as number) * w;
      sum[1][at + n] = (sum[1][at + n] as number) + (signal[2 * n + 1] as number) * w;
    }
  }
  const start = N_FFT / 2; // center=True
  const out = [new Float64Array(length), new Float64Array(length)] as [Float64Array, Float64Array];
  for (let n = 0; n < length; n++) {
    const e = envelope[start + n] as number;
    // torch pads with zeros past the frames it has; there the envelope is zero too.
    if (e <= 1e-11) continue;
    out[0][n] = (sum[0][start + n] as number) / e;
    out[1][n] = (sum[1][start + n] as number) / e;
  }
  return out;
}

/** The full spectrum of `Z0 + i Z1` from the two half spectra, Hermitian halves mirrored. */
function packPair(z: readonly Float64Array[], scale: number, spectrum: number[]): void {
  const [re0, im0, re1, im1] = z as [Float64Array, Float64Array, Float64Array, Float64Array];
  const half = N_FFT / 2;
  for (let k = 0; k <= half; k++) {
    // A real inverse (irfft) ignores the imaginary parts of the DC and Nyquist bins.
    const realOnly = k === 0 || k === half;
    const a = (re0[k] as number) * scale;
    const b = realOnly ? 0 : (im0[k] as number) * scale;
    const c = (re1[k] as number) * scale;
    const d = realOnly ? 0 : (im1[k] as number) * scale;
    spectrum[2 * k] = a - d;
    spectrum[2 * k + 1] = b + c;
    if (realOnly) continue;
    spectrum[2 * (N_FFT - k)] = a + d;
    spectrum[2 * (N_FFT - k) + 1] = c - b;
  }
}

/** torch.istft(z, N_FFT, HOP, hann_window, normalized=True, center=True, length) for two channels. */
export function istftPair(z: readonly [Stft, Stft], length: number): [Float64Array, Float64Array] {
  const { bins, frames } = z[0];
  const parts = [z[0].re, z[0].im, z[1].re, z[1].im];
  return synthesise(frames, length, (t, out) => {
    parts.forEach((part, p) => {
      const o = out[p] as Float64Array;
      for (let k = 0; k < bins; k++) o[k] = part[k * frames + t] as number;
    });
    return true;
  });
}

/** Frames of the model's spectrogram for a signal of `length` samples (demucs `le`). */
export function specFrames(length: number): number {
  return Math.ceil(length / HOP);
}

/**
 * HTDemucs._spec + _magnitude (cac) for one channel: `[length]` -> its `[2, 2048, le]` float32
 * half of the model input (re, then im). Extra reflect padding makes frame t centre on sample
 * `t * HOP + HOP / 2`; the Nyquist bin and two frames on each side are dropped.
 */
export function spectrogramChannel(x: ArrayLike<number>, out: Float32Array): void {
  const le = specFrames(x.length);
  const padded = reflectPad(reflectPad(x, DEMUCS_PAD, DEMUCS_PAD + le * HOP - x.length), N_FFT / 2, N_FFT / 2);
  const imAt = SPEC_BINS * le;
  const block = new Float64Array(FRAME_BLOCK * 2 * SPEC_BINS);
  const scatter = (t0: number, count: number): void => {
    for (let k = 0; k < SPEC_BINS; k++) {
      for (let i = 0; i < count; i++) {
        out[k * le + t0 + i] = block[i * 2 * SPEC_BINS + 2 * k] as number;
        out[imAt + k * le + t0 + i] = block[i * 2 * SPEC_BINS + 2 * k + 1] as number;
      }
    }
  };
  for (let t0 = 0; t0 < le; t0 += FRAME_BLOCK) {
    const count = Math.min(FRAME_BLOCK, le - t0);
    analyse(padded, t0 + EDGE_FRAMES, count, (i, spectrum) => {
      for (let j = 0; j < 2 * SPEC_BINS; j++) block[i * 2 * SPEC_BINS + j] = spectrum[j] as number;
    });
    scatter(t0, count);
  }
}

/** Both channels: stereo `[2][length]` -> `[4, 2048, le]`, channels ch0.re, ch0.im, ch1.re, ch1.im. */
export function spectrogram(channels: readonly Float32Array[], out?: Float32Array): Float32Array {
  const le = specFrames((channels[0] as Float32Array).length);
  const spec = out ?? new Float32Array(SPEC_CHANNELS * SPEC_BINS * le);
  const half = 2 * SPEC_BINS * le;
  channels.forEach((x, c) => spectrogramChannel(x, spec.subarray(c * half, (c + 1) * half)));
  return spec;
}

/**
 * HTDemucs._mask (cac) + _ispec for one source: `[4, 2048, le]` -> stereo `[2][length]`, adding
 * into `out`. A zero Nyquist bin and two zero frames on each side are put back before
 * torch.istft, so the edges are not an exact inverse of `spectrogram` — that loss is demucs' own.
 */
export function addInverseSpectrogram(spec: Float32Array, length: number, out: readonly Float32Array[]): void {
  const le = specFrames(length);
  const block = new Float64Array(FRAME_BLOCK * SPEC_CHANNELS * SPEC_BINS); // [frame][part][bin]
  let blockStart = -FRAME_BLOCK;
  const gather = (t0: number): void => {
    const count = Math.min(FRAME_BLOCK, le - t0);
    for (let p = 0; p < SPEC_CHANNELS; p++) {
      for (let k = 0; k < SPEC_BINS; k++) {
        const from = (p * SPEC_BINS + k) * le + t0;
        for (let i = 0; i < count; i++) block[(i * SPEC_CHANNELS + p) * SPEC_BINS + k] = spec[from + i] as number;
      }
    }
    blockStart = t0;
  };
  const x = synthesise(le + 2 * EDGE_FRAMES, le * HOP + 2 * DEMUCS_PAD, (frame, z) => {
    const t = frame - EDGE_FRAMES;
    if (t < 0 || t >= le) return false;
    if (t >= blockStart + FRAME_BLOCK) gather(t);
    z.forEach((part, p) => {
      const at = ((t - blockStart) * SPEC_CHANNELS + p) * SPEC_BINS;
      part.set(block.subarray(at, at + SPEC_BINS));
      part[SPEC_BINS] = 0; // the Nyquist bin demucs dropped
    });
    return true;
  });
  out.forEach((o, c) => {
    const xc = x[c] as Float64Array;
    for (let n = 0; n < length; n++) o[n] = (o[n] as number) + (xc[DEMUCS_PAD + n] as number);
  });
}
