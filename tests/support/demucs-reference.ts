/**
 * A direct, naive transcription of demucs 4 in plain JS arrays, for checking the engine:
 * `api.Separator.separate_tensor` (normalisation), `apply.apply_model` with `TensorChunk` and
 * `center_trim`, `HTDemucs._spec` / `_ispec` by direct DFT, and the test models' maths.
 * It shares no code with worker/engine on purpose.
 */

export type Wave = number[][]; // [channel][sample]
export type ModelFn = (mix: Wave) => Wave[]; // [2][S] -> [K][2][S]

const N = 4096;
const HL = 1024;

class TensorChunk {
  readonly tensor: Wave;
  readonly offset: number;
  readonly length: number;
  constructor(tensor: Wave | TensorChunk, offset = 0, length?: number) {
    const total = tensor instanceof TensorChunk ? tensor.length : (tensor[0] as number[]).length;
    const len = length === undefined ? total - offset : Math.min(total - offset, length);
    if (tensor instanceof TensorChunk) {
      this.tensor = tensor.tensor;
      this.offset = offset + tensor.offset;
    } else {
      this.tensor = tensor;
      this.offset = offset;
    }
    this.length = len;
  }
  padded(target: number): Wave {
    const delta = target - this.length;
    const total = (this.tensor[0] as number[]).length;
    const start = this.offset - Math.floor(delta / 2);
    return this.tensor.map((ch) => Array.from({ length: target }, (_, i) => (start + i >= 0 && start + i < total ? (ch[start + i] as number) : 0)));
  }
}

function centerTrim(x: Wave[], length: number): Wave[] {
  const delta = (x[0]?.[0] as number[]).length - length;
  const left = Math.floor(delta / 2);
  return x.map((src) => src.map((ch) => ch.slice(left, left + length)));
}

export interface ApplyArgs {
  segment: number;
  overlap: number;
  sampleRate: number;
  /** The shift offsets, as demucs would draw them with random.randint; empty means shifts = 0. */
  shiftOffsets: number[];
  sources: number;
}

export function applyModel(model: ModelFn, mix: Wave | TensorChunk, args: ApplyArgs, split = true): Wave[] {
  const chunk = mix instanceof TensorChunk ? mix : new TensorChunk(mix);
  const length = chunk.length;
  const zeros = (): Wave[] => Array.from({ length: args.sources }, () => [0, 1].map(() => new Array<number>(length).fill(0)));
  if (args.shiftOffsets.length > 0) {
    const maxShift = Math.floor(0.5 * args.sampleRate);
    const paddedMix = chunk.padded(length + 2 * maxShift);
    const out = zeros();
    for (const offset of args.shiftOffsets) {
      const shifted = new TensorChunk(paddedMix, offset, length + maxShift - offset);
      const res = applyModel(model, shifted, { ...args, shiftOffsets: [] });
      out.forEach((src, k) => src.forEach((ch, c) => ch.forEach((_, i) => (ch[i] = (ch[i] as number) + (res[k]![c]![maxShift - offset + i] as number)))));
    }
    return out.map((src) => src.map((ch) => ch.map((v) => v / args.shiftOffsets.length)));
  }
  if (split) {
    const out = zeros();
    const sumWeight = new Array<number>(length).fill(0);
    const S = args.segment;
    const stride = Math.floor((1 - args.overlap) * S);
    const weight = [...Array.from({ length: Math.floor(S / 2) }, (_, i) => i + 1), ...Array.from({ length: S - Math.floor(S / 2) }, (_, i) => S - Math.floor(S / 2) - i)];
    const max = Math.max(...weight);
    for (let offset = 0; offset < length; offset += stride) {
      const part = new TensorChunk(chunk, offset, S);
      const chunkOut = applyModel(model, part, args, false);
      const chunkLength = (chunkOut[0]![0] as number[]).length;
      for (let i = 0; i < chunkLength; i++) {
        const w = (weight[i] as number) / max;
        out.forEach((src, k) => src.forEach((ch, c) => (ch[offset + i] = (ch[offset + i] as number) + w * (chunkOut[k]![c]![i] as number))));
        sumWeight[offset + i] = (sumWeight[offset + i] as number) + w;
      }
    }
    return out.map((src) => src.map((ch) => ch.map((v, i) => v / (sumWeight[i] as number))));
  }
  return centerTrim(model(chunk.padded(args.segment)), length);
}

/** demucs.api: normalise by the mono reference, separate, de-normalise. */
export function separateReference(wav: Wave, model: ModelFn, args: ApplyArgs): Wave[] {
  const n = (wav[0] as number[]).length;
  const ref = (wav[0] as number[]).map((l, i) => (l + (wav[1]![i] as number)) / 2);
  const mean = ref.reduce((a, b) => a + b, 0) / n;
  const std = Math.sqrt(ref.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  const x = wav.map((ch) => ch.map((v) => (v - mean) / (std + 1e-8)));
  return applyModel(model, x, args).map((src) => src.map((ch) => ch.map((v) => v * (std + 1e-8) + mean)));
}

// ---- the test models' maths (see onnx-models.ts) ----

export function fractionsModel(fractions: readonly number[]): ModelFn {
  return (mix) => fractions.map((f) => mix.map((ch) => ch.map((v) => v * f)));
}

export function rampModel(sources: number, cumsumGain: number): ModelFn {
  return (mix) => {
    const S = (mix[0] as number[]).length;
    return Array.from({ length: sources }, (_, k) =>
      mix.map((ch) => {
        let cs = 0;
        return ch.map((v, s) => {
          cs += v;
          return v * ((s + 1) / S + k) + cs * cumsumGain * (k + 1);
        });
      }),
    );
  };
}

// ---- htdemucs' spectrogram, by direct DFT ----

const COS = Float64Array.from({ length: N }, (_, i) => Math.cos((2 * Math.PI * i) / N));
const SIN = Float64Array.from({ length: N }, (_, i) => Math.sin((2 * Math.PI * i) / N));
const hann = Array.from({ length: N }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / N));

function reflect(x: number[], left: number, right: number): number[] {
  const n = x.length;
  return Array.from({ length: left + n + right }, (_, i) => {
    const j = i - left;
    return x[j < 0 ? -j : j >= n ? 2 * (n - 1) - j : j] as number;
  });
}

/** One channel: `{re, im}[bin 0..2047][frame 0..le-1]`, as `_spec` (torch.stft, normalized, trimmed). */
export function naiveSpec(x: number[]): { re: number[][]; im: number[][] } {
  const le = Math.ceil(x.length / HL);
  const pad = (HL / 2) * 3;
  const xp = reflect(reflect(x, pad, pad + le * HL - x.length), N / 2, N / 2);
  const re = Array.from({ length: N / 2 }, () => new Array<number>(le).fill(0));
  const im = Array.from({ length: N / 2 }, () => new Array<number>(le).fill(0));
  // Samples n and N - n share their angle's cosine and negate its sine: sums and differences of the pairs.
  const even = new Float64Array(N / 2 + 1);
  const odd = new Float64Array(N / 2 + 1);
  for (let t = 0; t < le; t++) {
    const sample = (n: number) => (xp[(t + 2) * HL + n] as number) * (hann[n] as number);
    even[0] = sample(0);
    even[N / 2] = sample(N / 2);
    for (let n = 1; n < N / 2; n++) {
      even[n] = sample(n) + sample(N - n);
      odd[n] = sample(n) - sample(N - n);
    }
    for (let k = 0; k < N / 2; k++) {
      let sr = 0;
      let si = 0;
      // The angle index n * k mod N, stepped by k (N is a power of two).
      for (let n = 0, idx = 0; n <= N / 2; n++, idx = (idx + k) & (N - 1)) {
        sr += (even[n] as number) * (COS[idx] as number);
        si -= (odd[n] as number) * (SIN[idx] as number);
      }
      re[k]![t] = sr / Math.sqrt(N);
      im[k]![t] = si / Math.sqrt(N);
    }
  }
  return { re, im };
}

/** One channel, inverse of the above as `_ispec` does it (zero Nyquist, zero edge frames, torch.istft). */
export function naiveIspec(re: number[][], im: number[][], length: number): number[] {
  const le = (re[0] as number[]).length;
  const pad = (HL / 2) * 3;
  const frames = le + 4;
  const outLength = le * HL + 2 * pad;
  const total = N + HL * (frames - 1);
  const y = new Array<number>(total).fill(0);
  const env = new Array<number>(total).fill(0);
  // One frame's bins, doubled for the conjugate half (DC once, its imaginary part ignored; Nyquist zero).
  const binsRe = new Float64Array(N / 2);
  const binsIm = new Float64Array(N / 2);
  const v = new Float64Array(N);
  for (let f = 0; f < frames; f++) {
    for (let n = 0; n < N; n++) env[f * HL + n] = (env[f * HL + n] as number) + (hann[n] as number) ** 2;
    const t = f - 2;
    if (t < 0 || t >= le) continue; // zero frames contribute nothing
    for (let k = 0; k < N / 2; k++) {
      binsRe[k] = (k === 0 ? 1 : 2) * (re[k]![t] as number);
      binsIm[k] = k === 0 ? 0 : 2 * (im[k]![t] as number);
    }
    // irfft of the half spectrum: samples n and N - n share the cosine sum and negate the sine sum.
    for (let n = 0; n <= N / 2; n++) {
      let cosSum = 0;
      let sinSum = 0;
      // The angle index n * k mod N, stepped by n.
      for (let k = 0, idx = 0; k < N / 2; k++, idx = (idx + n) & (N - 1)) {
        cosSum += (binsRe[k] as number) * (COS[idx] as number);
        sinSum += (binsIm[k] as number) * (SIN[idx] as number);
      }
      v[n] = cosSum - sinSum;
      if (n > 0 && n < N / 2) v[N - n] = cosSum + sinSum;
    }
    // Times sqrt(N) for normalized.
    for (let n = 0; n < N; n++) y[f * HL + n] = (y[f * HL + n] as number) + (((v[n] as number) * Math.sqrt(N)) / N) * (hann[n] as number);
  }
  const x = Array.from({ length: outLength }, (_, i) => (y[N / 2 + i] as number) / (env[N / 2 + i] as number));
  return x.slice(pad, pad + length);
}

/**
 * A split-contract model's full output as HTDemucs.forward assembles it: time branch plus the
 * inverse spectrogram of the frequency branch. `freqGain(k, f, t)` is the model's frequency map.
 */
export function splitModel(time: ModelFn, sources: number, freqGain: (k: number, f: number, t: number) => number): ModelFn {
  return (mix) => {
    const S = (mix[0] as number[]).length;
    const specs = mix.map((ch) => naiveSpec(ch));
    const out = time(mix);
    for (let k = 0; k < sources; k++) {
      specs.forEach((z, c) => {
        const g = (a: number[][]): number[][] => a.map((row, f) => row.map((v, t) => v * freqGain(k, f, t)));
        const x = naiveIspec(g(z.re), g(z.im), S);
        out[k]![c] = out[k]![c]!.map((v, i) => v + (x[i] as number));
      });
    }
    return out;
  };
}
