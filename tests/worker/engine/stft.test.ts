import { describe, expect, it } from 'vitest';
import { addInverseSpectrogram, HOP, istftPair, N_FFT, SPEC_BINS, spectrogram, specFrames, stft } from '../../../worker/engine/stft.js';
import { naiveIspec, naiveSpec } from '../../support/demucs-reference.js';

function noise(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 30 - 1;
  });
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
};

describe('stft (torch.stft / torch.istft semantics)', () => {
  it('inverts exactly when every frame and the Nyquist bin are kept', () => {
    const x = [noise(10_000, 1), noise(10_000, 2)] as const;
    const y = istftPair([stft(x[0]), stft(x[1])], 10_000);
    expect(maxAbsDiff(y[0], x[0])).toBeLessThan(1e-6);
    expect(maxAbsDiff(y[1], x[1])).toBeLessThan(1e-6);
  });

  it('gives a cosine its analytic Hann-windowed transform', () => {
    const f0 = 100; // bin
    const phase = 0.3;
    const length = 8 * N_FFT;
    const x = Float32Array.from({ length }, (_, n) => Math.cos((2 * Math.PI * f0 * n) / N_FFT + phase));
    const spec = spectrogram([x, x]);
    const le = specFrames(length);
    const at = (ch: number, k: number, t: number): number => spec[(ch * SPEC_BINS + k) * le + t] as number;
    // Frame t's window starts at sample t*HOP - 1536; interior frames see only real samples.
    for (const t of [2, 10, 20]) {
      const start = t * HOP - 1536;
      const angle = phase + (2 * Math.PI * f0 * start) / N_FFT;
      const peak = N_FFT / 4 / Math.sqrt(N_FFT); // periodic Hann: N/4 at the bin, -N/8 beside it
      expect(at(0, f0, t)).toBeCloseTo(peak * Math.cos(angle), 3);
      expect(at(1, f0, t)).toBeCloseTo(peak * Math.sin(angle), 3);
      expect(at(0, f0 + 1, t)).toBeCloseTo((-peak / 2) * Math.cos(angle), 3);
      expect(at(1, f0 - 1, t)).toBeCloseTo((-peak / 2) * Math.sin(angle), 3);
      expect(Math.abs(at(0, f0 + 5, t))).toBeLessThan(1e-4);
    }
  });

  it("matches a direct-DFT transcription of htdemucs' _spec and _ispec", () => {
    const S = 8192;
    const x = [noise(S, 3), noise(S, 4)];
    const spec = spectrogram(x);
    const le = specFrames(S);
    x.forEach((ch, c) => {
      const ref = naiveSpec(Array.from(ch));
      for (const k of [0, 1, 777, 2047]) {
        for (let t = 0; t < le; t++) {
          expect(spec[(2 * c * SPEC_BINS + k) * le + t]).toBeCloseTo(ref.re[k]![t] as number, 4);
          expect(spec[((2 * c + 1) * SPEC_BINS + k) * le + t]).toBeCloseTo(ref.im[k]![t] as number, 4);
        }
      }
    });
    const back = [new Float32Array(S), new Float32Array(S)];
    addInverseSpectrogram(spec, S, back);
    const bins = (c: number, part: 0 | 1): number[][] =>
      Array.from({ length: SPEC_BINS }, (_, k) => Array.from(spec.subarray(((2 * c + part) * SPEC_BINS + k) * le, ((2 * c + part) * SPEC_BINS + k + 1) * le)));
    const expected = naiveIspec(bins(0, 0), bins(0, 1), S);
    expect(maxAbsDiff(back[0] as Float32Array, expected)).toBeLessThan(1e-5);
  });

  it('round-trips away from the dropped edge frames for band-limited audio', () => {
    const S = 16_384;
    const x = Float32Array.from({ length: S }, (_, n) => Math.sin(n * 0.01) + 0.5 * Math.cos(n * 0.3 + 1));
    const back = [new Float32Array(S), new Float32Array(S)];
    addInverseSpectrogram(spectrogram([x, x]), S, back);
    // The two dropped frames on each side reach 1.5 hops into the signal; the tolerance is the
    // float32 spectrogram the model is fed.
    const edge = (HOP * 3) / 2;
    expect(maxAbsDiff((back[0] as Float32Array).subarray(edge, S - edge), x.subarray(edge, S - edge))).toBeLessThan(2e-5);
    expect(maxAbsDiff(back[0] as Float32Array, x)).toBeGreaterThan(1e-3); // demucs' own edge loss
  });
});
