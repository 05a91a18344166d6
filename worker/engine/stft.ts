import FFT from 'fft.js';

/**
 * The host side of htdemucs' "split" ONNX contract: the spectrogram the graph expects and the
 * inverse of what it returns, exactly as demucs computes them (`spec.spectro` / `spec.ispectro`
 * wrapped by `HTDemucs._spec` / `_ispec`, with complex-as-channels `_magnitude` / `_mask`).
 */

export const N_FFT = 4096; // samples per STFT frame (htdemucs nfft)
export const HOP = N_FFT / 4; // 1024 samples between frames; demucs asserts hop == nfft / 4
export const SPEC_BINS = N_FFT / 2; // 2048: htdemucs drops the Nyquist bin
const EDGE_FRAMES = 2; // frames demucs drops on each side after its extra padding
const DEMUCS_PAD = (HOP / 2) * 3; // 1536 samples of reflect padding, so frames line up with hops
const SPEC_CHANNELS = 4; // complex-as-channels: ch0.re, ch0.im, ch1.re, ch1.im

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

/** torch.stft(x, N_FFT, HOP, hann_window, normalized=True, center=True, pad_mode='reflect'). */
export function stft(x: ArrayLike<number>): Stft {
  const padded = reflectPad(x, N_FFT / 2, N_FFT / 2);
  const frames = 1 + Math.floor(x.length / HOP);
  const bins = N_FFT / 2 + 1;
  const re = new Float64Array(bins * frames);
  const im = new Float64Array(bins * frames);
  const frame = new Array<number>(N_FFT);
  const spectrum = fft.createComplexArray() as number[];
  const scale = 1 / Math.sqrt(N_FFT); // normalized=True
  for (let t = 0; t < frames; t++) {
    for (let n = 0; n < N_FFT; n++) frame[n] = (padded[t * HOP + n] as number) * (window[n] as number);
    fft.realTransform(spectrum, frame);
    for (let k = 0; k < bins; k++) {
      re[k * frames + t] = (spectrum[2 * k] as number) * scale;
      im[k * frames + t] = (spectrum[2 * k + 1] as number) * scale;
    }
  }
  return { bins, frames, re, im };
}

/**
 * torch.istft(z, N_FFT, HOP, hann_window, normalized=True, center=True, length) for two channels
 * at once: both are real signals, so one complex inverse FFT of `Z0 + i Z1` yields `x0 + i x1`.
 */
export function istftPair(z: readonly [Stft, Stft], length: number): [Float64Array, Float64Array] {
  const { bins, frames } = z[0];
  const total = N_FFT + HOP * (frames - 1);
  const sum = [new Float64Array(Math.max(total, length + N_FFT)), new Float64Array(Math.max(total, length + N_FFT))] as const;
  const envelope = new Float64Array(sum[0].length);
  const spectrum = fft.createComplexArray() as number[];
  const signal = fft.createComplexArray() as number[];
  const scale = Math.sqrt(N_FFT); // undoes normalized=True; inverseTransform divides by N itself
  for (let t = 0; t < frames; t++) {
    for (let k = 0; k < bins; k++) {
      const i = k * frames + t;
      // A real inverse (irfft) ignores the imaginary parts of the DC and Nyquist bins.
      const realOnly = k === 0 || k === N_FFT / 2;
      const re0 = (z[0].re[i] as number) * scale;
      const im0 = realOnly ? 0 : (z[0].im[i] as number) * scale;
      const re1 = (z[1].re[i] as number) * scale;
      const im1 = realOnly ? 0 : (z[1].im[i] as number) * scale;
      // Z0 + i Z1 at bin k, and its mirror N - k (Hermitian halves of each real signal).
      spectrum[2 * k] = re0 - im1;
      spectrum[2 * k + 1] = im0 + re1;
      if (k > 0 && k < N_FFT / 2) {
        spectrum[2 * (N_FFT - k)] = re0 + im1;
        spectrum[2 * (N_FFT - k) + 1] = -im0 + re1;
      }
    }
    fft.inverseTransform(signal, spectrum);
    const at = t * HOP;
    for (let n = 0; n < N_FFT; n++) {
      const w = window[n] as number;
      sum[0][at + n] = (sum[0][at + n] as number) + (signal[2 * n] as number) * w;
      sum[1][at + n] = (sum[1][at + n] as number) + (signal[2 * n + 1] as number) * w;
      envelope[at + n] = (envelope[at + n] as number) + (windowSquared[n] as number);
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

/** Frames of the model's spectrogram for a signal of `length` samples (demucs `le`). */
export function specFrames(length: number): number {
  return Math.ceil(length / HOP);
}

/**
 * HTDemucs._spec + _magnitude (cac): stereo `[2][length]` -> `[4, 2048, le]` float32, channels
 * ch0.re, ch0.im, ch1.re, ch1.im. Extra reflect padding makes frame t centre on sample
 * `t * HOP + HOP / 2`; the Nyquist bin and two frames on each side are dropped.
 */
export function spectrogram(channels: readonly Float32Array[], out?: Float32Array): Float32Array {
  const length = (channels[0] as Float32Array).length;
  const le = specFrames(length);
  const spec = out ?? new Float32Array(SPEC_CHANNELS * SPEC_BINS * le);
  channels.forEach((x, c) => {
    const z = stft(reflectPad(x, DEMUCS_PAD, DEMUCS_PAD + le * HOP - length));
    const re = c * 2 * SPEC_BINS * le;
    const im = re + SPEC_BINS * le;
    for (let k = 0; k < SPEC_BINS; k++) {
      for (let t = 0; t < le; t++) {
        spec[re + k * le + t] = z.re[k * z.frames + t + EDGE_FRAMES] as number;
        spec[im + k * le + t] = z.im[k * z.frames + t + EDGE_FRAMES] as number;
      }
    }
  });
  return spec;
}

/**
 * HTDemucs._mask (cac) + _ispec: `[4, 2048, le]` -> stereo `[2][length]`, adding into `out`.
 * A zero Nyquist bin and two zero frames on each side are put back before torch.istft, so the
 * edges are not an exact inverse of `spectrogram` — that loss is demucs' own.
 */
export function addInverseSpectrogram(spec: Float32Array, length: number, out: readonly Float32Array[]): void {
  const le = specFrames(length);
  const frames = le + 2 * EDGE_FRAMES;
  const bins = SPEC_BINS + 1;
  const channel = (c: number): Stft => {
    const re = new Float64Array(bins * frames);
    const im = new Float64Array(bins * frames);
    const reAt = c * 2 * SPEC_BINS * le;
    const imAt = reAt + SPEC_BINS * le;
    for (let k = 0; k < SPEC_BINS; k++) {
      for (let t = 0; t < le; t++) {
        re[k * frames + t + EDGE_FRAMES] = spec[reAt + k * le + t] as number;
        im[k * frames + t + EDGE_FRAMES] = spec[imAt + k * le + t] as number;
      }
    }
    return { bins, frames, re, im };
  };
  const x = istftPair([channel(0), channel(1)], le * HOP + 2 * DEMUCS_PAD);
  out.forEach((o, c) => {
    const xc = x[c] as Float64Array;
    for (let n = 0; n < length; n++) o[n] = (o[n] as number) + (xc[DEMUCS_PAD + n] as number);
  });
}
