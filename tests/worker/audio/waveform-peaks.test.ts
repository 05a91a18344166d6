import { describe, expect, it } from 'vitest';
import type { PlanarBlock } from '../../../worker/audio/decode.js';
import { PeakAccumulator, peaksJsonSchema, peaksToJson, type Peaks, type PeaksJson } from '../../../worker/audio/waveform-peaks.js';

const RATE = 44100;
const BINS = 1000;

/** A stereo signal from a function of the frame index (left, right). */
function signal(frames: number, at: (frame: number) => [number, number]): PlanarBlock {
  const left = new Float32Array(frames);
  const right = new Float32Array(frames);
  for (let i = 0; i < frames; i += 1) [left[i], right[i]] = at(i);
  return [left, right];
}

/** The same signal cut into blocks of the given sizes, cycled until it is used up. */
function cut(block: PlanarBlock, sizes: number[]): PlanarBlock[] {
  const [left, right] = block as [Float32Array, Float32Array];
  const blocks: PlanarBlock[] = [];
  for (let at = 0, k = 0; at < left.length; k += 1) {
    const end = Math.min(left.length, at + sizes[k % sizes.length]!);
    blocks.push([left.subarray(at, end), right.subarray(at, end)]);
    at = end;
  }
  return blocks;
}

function peaksOf(blocks: PlanarBlock[], totalFrames?: number): Peaks {
  const accumulator = new PeakAccumulator({ bins: BINS, totalFrames });
  for (const block of blocks) accumulator.add(block);
  return accumulator.finish();
}

/** Both ways of knowing the length: told up front, and found out at the end. */
const paths = [
  { name: 'known length', total: (frames: number): number | undefined => frames },
  { name: 'unknown length', total: (): number | undefined => undefined },
];

/** A deterministic pseudo-random sequence in [-1, 1), so a failure can be reproduced. */
function noise(seed: number): () => number {
  let state = seed;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 31 - 1;
  };
}

describe.each(paths)('PeakAccumulator ($name)', ({ total }) => {
  it('gives zeros for silence', () => {
    const frames = 10 * RATE;
    const peaks = peaksOf(cut(signal(frames, () => [0, 0]), [65536]), total(frames));
    expect(peaks).toMatchObject({ sampleRate: RATE, frames, bins: BINS });
    expect(peaks.min.every((v) => v === 0)).toBe(true);
    expect(peaks.max.every((v) => v === 0)).toBe(true);
    const json = peaksToJson(peaks);
    expect(new Set([...json.min, ...json.max])).toEqual(new Set([0]));
  });

  it('finds ±0.5 in every bin of a sine of amplitude 0.5', () => {
    const frames = 10 * RATE; // 441 frames a bin, 4.41 periods of 441 Hz
    const peaks = peaksOf(cut(signal(frames, (i) => [0.5 * Math.sin((2 * Math.PI * 441 * i) / RATE), 0.5 * Math.cos((2 * Math.PI * 441 * i) / RATE)]), [65536]), total(frames));
    for (let i = 0; i < BINS; i += 1) {
      expect(peaks.max[i]).toBeCloseTo(0.5, 3);
      expect(peaks.min[i]).toBeCloseTo(-0.5, 3);
    }
    const json = peaksToJson(peaks);
    expect(Math.min(...json.max)).toBeGreaterThanOrEqual(63);
    expect(Math.max(...json.max)).toBeLessThanOrEqual(64);
    expect(Math.max(...json.min)).toBeLessThanOrEqual(-63);
    expect(Math.min(...json.min)).toBeGreaterThanOrEqual(-64);
  });

  it('puts a click in the bin that holds its time, on either channel', () => {
    const frames = 10 * RATE; // 441 frames a bin
    const middleOf = (bin: number): number => bin * 441 + 220;
    // Each channel gets a rise and a dip, so that every comparison on every channel is needed.
    const left = new Map([[middleOf(250), 0.9], [middleOf(900), -0.4]]);
    const right = new Map([[middleOf(100), 0.6], [middleOf(777), -0.75]]);
    const peaks = peaksOf(cut(signal(frames, (i) => [left.get(i) ?? 0, right.get(i) ?? 0]), [65536]), total(frames));
    const loud = (values: Float32Array): [number, number][] => [...values.keys()].filter((i) => values[i] !== 0).map((i) => [i, Number(values[i]!.toFixed(6))]);
    expect(loud(peaks.max)).toEqual([[100, 0.6], [250, 0.9]]);
    expect(loud(peaks.min)).toEqual([[777, -0.75], [900, -0.4]]);
  });

  it('gives the same peaks for blocks of any size as for one block', () => {
    const frames = 12 * RATE + 17;
    const next = noise(7);
    const whole = signal(frames, () => [next(), next()]);
    const expected = peaksOf([whole], total(frames));
    for (const sizes of [[1, 7, 4096, 3, 65536, 1000], [441], [65536]]) {
      const actual = peaksOf(cut(whole, sizes), total(frames));
      expect(actual.min).toEqual(expected.min);
      expect(actual.max).toEqual(expected.max);
    }
  });
});

describe('PeakAccumulator, known against unknown length', () => {
  it('agrees within one quantisation step on a slowly changing sound', () => {
    const frames = 30 * RATE + 123;
    const envelope = (i: number): number => 0.1 + 0.8 * Math.abs(Math.sin((Math.PI * i) / (20 * RATE)));
    const sound = signal(frames, (i) => {
      const v = envelope(i) * Math.sin((2 * Math.PI * 441 * i) / RATE);
      return [v, -v];
    });
    const known = peaksToJson(peaksOf(cut(sound, [65536]), frames));
    const unknown = peaksToJson(peaksOf(cut(sound, [65536]), undefined));
    expect(unknown.frames).toBe(known.frames);
    const worst = Math.max(...known.max.map((v, i) => Math.abs(v - unknown.max[i]!)), ...known.min.map((v, i) => Math.abs(v - unknown.min[i]!)));
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('is exact for a track shorter than the fine bins', () => {
    const frames = 5000;
    const next = noise(11);
    const sound = signal(frames, () => [next(), next()]);
    expect(peaksOf([sound], undefined)).toEqual(peaksOf([sound], frames));
  });

  it('re-bins over the frames seen when the stream outruns the length it was told', () => {
    const frames = 10 * RATE;
    const clickFrame = 250 * 441 + 220;
    const sound = signal(frames, (i) => [i === clickFrame ? 0.9 : 0, 0]);
    const peaks = peaksOf(cut(sound, [65536]), frames / 2);
    expect(peaks.frames).toBe(frames);
    // Over the real 10 s, 2.5 s is a quarter of the way in, not half.
    expect([...peaks.max.keys()].filter((i) => peaks.max[i] !== 0)).toEqual([250]);
  });
});

describe('PeakAccumulator memory', () => {
  /** Everything the accumulator holds in arrays, found by looking at its own fields. */
  function heldValues(accumulator: PeakAccumulator): number {
    return Object.values(accumulator as object).reduce<number>((sum, field) => sum + (ArrayBuffer.isView(field) || Array.isArray(field) ? (field as ArrayLike<unknown>).length : 0), 0);
  }

  it.each(paths)('keeps a fixed number of values through a 60-minute stream ($name)', ({ total }) => {
    const frames = 60 * 60 * RATE;
    const blockFrames = 65536;
    const block = signal(blockFrames, (i) => [0.25 * Math.sin(i / 10), 0.25 * Math.cos(i / 10)]);
    const binFrames = frames / BINS;
    const clickAt = 500 * binFrames + binFrames / 2; // the middle of bin 500
    const accumulator = new PeakAccumulator({ bins: BINS, totalFrames: total(frames) });
    const atStart = heldValues(accumulator);
    expect(atStart).toBeGreaterThan(0);
    let most = atStart;
    for (let at = 0; at < frames; at += blockFrames) {
      const n = Math.min(blockFrames, frames - at);
      if (clickAt >= at && clickAt < at + n) {
        const withClick = signal(n, (i) => [i === clickAt - at ? 1 : block[0]![i]!, block[1]![i]!]);
        accumulator.add(withClick);
      } else {
        accumulator.add(n === blockFrames ? block : [block[0]!.subarray(0, n), block[1]!.subarray(0, n)]);
      }
      most = Math.max(most, heldValues(accumulator));
    }
    expect(most).toBe(atStart);
    expect(most).toBeLessThanOrEqual(2 * 8 * BINS);
    const peaks = accumulator.finish();
    expect(peaks.frames).toBe(frames);
    expect(peaks.max[500]).toBe(1);
    expect(peaks.max[499]).toBeCloseTo(0.25, 3);
    expect(peaks.max[501]).toBeCloseTo(0.25, 3);
    expect(peaks.min.every((v) => Math.abs(v + 0.25) < 1e-3)).toBe(true);
  }, 60_000);
});

describe('peaks JSON', () => {
  function sample(): PeaksJson {
    const next = noise(3);
    const frames = 3 * RATE;
    return peaksToJson(peaksOf([signal(frames, () => [next() * 0.6, next() * 1.5])], frames));
  }

  it('round-trips through JSON text and the schema', () => {
    const json = sample();
    expect(json.version).toBe(1);
    expect(json.min).toHaveLength(BINS);
    const read = peaksJsonSchema.parse(JSON.parse(JSON.stringify(json)));
    expect(read).toEqual(json);
    // Samples past full scale are clipped, not wrapped.
    expect(Math.max(...read.max)).toBe(127);
    expect(Math.min(...read.min)).toBe(-127);
  });

  it('rounds outwards so that a faint sound stays visible', () => {
    const json = peaksToJson(peaksOf([signal(RATE, (i) => [i % 2 ? 0.001 : -0.001, 0])], RATE));
    expect(new Set(json.max)).toEqual(new Set([1]));
    expect(new Set(json.min)).toEqual(new Set([-1]));
  });

  const hostile: [string, (json: PeaksJson) => unknown][] = [
    ['min shorter than bins', (json) => ({ ...json, min: json.min.slice(1) })],
    ['max longer than bins', (json) => ({ ...json, max: [...json.max, 0] })],
    ['bins that do not match the arrays', (json) => ({ ...json, bins: 999 })],
    ['huge arrays', (json) => ({ ...json, bins: 1_000_000, min: new Array<number>(1_000_000).fill(0), max: new Array<number>(1_000_000).fill(0) })],
    ['NaN', (json) => ({ ...json, max: json.max.map((v, i) => (i === 5 ? Number.NaN : v)) })],
    ['NaN written as JSON (null)', (json) => JSON.parse(JSON.stringify({ ...json, min: json.min.map((v, i) => (i === 5 ? Number.NaN : v)) }))],
    ['Infinity', (json) => ({ ...json, frames: Number.POSITIVE_INFINITY })],
    ['a value past full scale', (json) => ({ ...json, max: json.max.map((v, i) => (i === 0 ? 128 : v)) })],
    ['a fractional value', (json) => ({ ...json, min: json.min.map((v, i) => (i === 0 ? -0.5 : v)) })],
    ['a string for a number', (json) => ({ ...json, max: json.max.map((v, i) => (i === 0 ? '12' : v)) })],
    ['min above max', (json) => ({ ...json, min: json.min.map((v, i) => (i === 9 ? 100 : v)), max: json.max.map((v, i) => (i === 9 ? 10 : v)) })],
    ['an unknown version', (json) => ({ ...json, version: 2 })],
    ['no version', ({ version: _version, ...json }) => json],
    ['zero bins', (json) => ({ ...json, bins: 0, min: [], max: [] })],
    ['negative frames', (json) => ({ ...json, frames: -1 })],
    ['not an object', () => [1, 2, 3]],
  ];

  it.each(hostile)('refuses %s', (_name, spoil) => {
    const json = sample();
    expect(peaksJsonSchema.safeParse(json).success).toBe(true);
    expect(peaksJsonSchema.safeParse(spoil(json)).success).toBe(false);
  });
});

describe('PeakAccumulator options', () => {
  it.each([
    ['zero bins', { bins: 0 }],
    ['fractional bins', { bins: 10.5 }],
    ['too many bins', { bins: 1_000_000 }],
    ['a zero length', { totalFrames: 0 }],
    ['a NaN length', { totalFrames: Number.NaN }],
  ])('refuses %s', (_name, options) => {
    expect(() => new PeakAccumulator(options)).toThrow(RangeError);
  });

  it('refuses a block whose channels differ in length', () => {
    expect(() => new PeakAccumulator().add([new Float32Array(4), new Float32Array(3)])).toThrow(RangeError);
  });
});
