import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { drawShiftOffsets, separate, type SeparateOptions } from '../../../worker/engine/apply.js';
import { ReferenceStats, TrackSpool, type SpoolFiller, type SpoolWriter } from '../../../worker/engine/spool.js';
import { fractionsModel, rampModel, separateReference, splitModel, type Wave } from '../../support/demucs-reference.js';
import { blocks, loadTestModel, MemoryWriter, relativeError, runSeparation, testTrack } from '../../support/engine-harness.js';
import { CUMSUM_GAIN, FRACTIONS, FREQ_FRACTIONS, TIME_FRACTIONS } from '../../support/onnx-models.js';

const TOLERANCE = 1e-5; // relative
const RATE = 8000; // Hz, set in the models' metadata so max_shift (4000 samples) stays small
const metadata = { 'stembot.sample_rate': String(RATE) };

describe('separate, waveform contract, against a transcription of demucs apply_model', () => {
  const S = 4096;
  const cases = [
    { name: 'shorter than a segment', length: 2500, dc: 0 },
    { name: 'exactly a segment', length: S, dc: 0 },
    { name: 'several segments', length: 5 * S + 123, dc: 0 },
    { name: 'several segments with a DC offset', length: 3 * S + 7, dc: 0.4 },
  ];
  for (const c of cases) {
    it(`ramp model, ${c.name}`, async () => {
      const model = await loadTestModel({ contract: 'waveform', kind: 'ramp', segment: S, metadata });
      const wav = testTrack(c.length, 7, c.dc);
      const { result, stems } = await runSeparation(wav, { model, shifts: 0, overlap: 0.25 });
      const expected = separateReference(wav, rampModel(4, CUMSUM_GAIN), { segment: S, overlap: 0.25, sampleRate: RATE, shiftOffsets: [], sources: 4 });
      expect(result.stems).toEqual(['drums', 'bass', 'other', 'vocals']);
      result.stems.forEach((name, k) => expect(relativeError(stems.get(name)!.channels, expected[k]!)).toBeLessThan(TOLERANCE));
    });
  }

  it('chunks overlapping three deep (overlap 0.75), twice in a row on the memory the first run left', async () => {
    const model = await loadTestModel({ contract: 'waveform', kind: 'ramp', segment: S, metadata });
    // The second track is quieter and offset: sums the first left behind would show in it.
    for (const wav of [testTrack(4 * S + 321, 5, 0.3), testTrack(3 * S + 5, 11, -0.2)]) {
      const { result, stems } = await runSeparation(wav, { model, shifts: 0, overlap: 0.75 });
      const expected = separateReference(wav, rampModel(4, CUMSUM_GAIN), { segment: S, overlap: 0.75, sampleRate: RATE, shiftOffsets: [], sources: 4 });
      result.stems.forEach((name, k) => expect(relativeError(stems.get(name)!.channels, expected[k]!)).toBeLessThan(TOLERANCE));
    }
  });

  it('refuses an unknown stem or an overlap with no stride before reading any of the track', async () => {
    const model = await loadTestModel({ contract: 'waveform', kind: 'ramp', segment: S, metadata });
    let filled = 0;
    const filler: SpoolFiller = {
      fill: () => {
        filled++;
        throw new Error('the track was read');
      },
    };
    const unknown = await separateFilled(filler, { model, twoStems: 'kazoo' });
    expect(unknown.error).toMatchObject({ code: 'unknown_stem' });
    const strideless = await separateFilled(filler, { model, overlap: 0.99999 });
    expect(strideless.error).toMatchObject({ code: 'bad_overlap' });
    expect(filled).toBe(0);
    for (const { tempDir } of [unknown, strideless]) await rm(tempDir, { recursive: true });
  });

  it('fractions model: stems sum to the input plus (K - 1) times its mean, as demucs adds the mean to every source', async () => {
    const model = await loadTestModel({ contract: 'waveform', kind: 'fractions', segment: S, metadata });
    const wav = testTrack(3 * S, 3, 0.25);
    const { stems } = await runSeparation(wav, { model, shifts: 0, overlap: 0.25 });
    const ref = wav[0]!.map((l, i) => (l + wav[1]![i]!) / 2);
    const mean = ref.reduce((a, b) => a + b, 0) / ref.length;
    const outputs = [...stems.values()].map((w) => w.channels);
    const sum = [0, 1].map((c) => wav[c]!.map((_, i) => outputs.reduce((a, o) => a + o[c]![i]!, 0) - 3 * mean));
    expect(relativeError(sum, wav)).toBeLessThan(TOLERANCE);
    const expected = separateReference(wav, fractionsModel(FRACTIONS), { segment: S, overlap: 0.25, sampleRate: RATE, shiftOffsets: [], sources: 4 });
    expect(relativeError(stems.get('vocals')!.channels, expected[3]!)).toBeLessThan(TOLERANCE);
  });

  it('shifts with a seed: reproducible offsets and the averaged passes demucs computes', async () => {
    const model = await loadTestModel({ contract: 'waveform', kind: 'ramp', segment: S, metadata });
    const wav = testTrack(4 * S + 500, 11, 0.1);
    const { result, stems } = await runSeparation(wav, { model, shifts: 3, overlap: 0.25, seed: 42 });
    expect(result.shiftOffsets).toEqual(drawShiftOffsets(3, RATE / 2, 42));
    expect(new Set(result.shiftOffsets).size).toBe(3);
    const expected = separateReference(wav, rampModel(4, CUMSUM_GAIN), { segment: S, overlap: 0.25, sampleRate: RATE, shiftOffsets: result.shiftOffsets, sources: 4 });
    result.stems.forEach((name, k) => expect(relativeError(stems.get(name)!.channels, expected[k]!)).toBeLessThan(TOLERANCE));
  });

  it('batches chunks when the batch dimension is dynamic, with the same result', async () => {
    const model = await loadTestModel({ contract: 'waveform', kind: 'ramp', segment: S, metadata, batch: 'batch' });
    expect(model.contract.dynamicBatch).toBe(true);
    const wav = testTrack(6 * S, 5);
    const { result, stems } = await runSeparation(wav, { model, shifts: 2, seed: 1, overlap: 0.5, batchSize: 3 });
    const expected = separateReference(wav, rampModel(4, CUMSUM_GAIN), { segment: S, overlap: 0.5, sampleRate: RATE, shiftOffsets: result.shiftOffsets, sources: 4 });
    result.stems.forEach((name, k) => expect(relativeError(stems.get(name)!.channels, expected[k]!)).toBeLessThan(TOLERANCE));
  });

  it('two stems: X and no_X, the sum of the other de-normalised sources', async () => {
    const model = await loadTestModel({ contract: 'waveform', kind: 'ramp', segment: S, metadata });
    const wav = testTrack(2 * S + 99, 13, -0.2);
    const { result, stems } = await runSeparation(wav, { model, shifts: 0, twoStems: 'bass' });
    expect(result.stems).toEqual(['bass', 'no_bass']);
    const expected = separateReference(wav, rampModel(4, CUMSUM_GAIN), { segment: S, overlap: 0.25, sampleRate: RATE, shiftOffsets: [], sources: 4 });
    const rest = [0, 1].map((c) => wav[c]!.map((_, i) => [0, 2, 3].reduce((a, k) => a + expected[k]![c]![i]!, 0)));
    expect(relativeError(stems.get('bass')!.channels, expected[1]!)).toBeLessThan(TOLERANCE);
    expect(relativeError(stems.get('no_bass')!.channels, rest)).toBeLessThan(TOLERANCE);
  });

  it('clip rescale divides each stem by max(1.01 * peak, 1); clamp limits to 0.99', async () => {
    const model = await loadTestModel({ contract: 'waveform', kind: 'ramp', segment: S, metadata });
    const wav = testTrack(2 * S, 17);
    const plain = await runSeparation(wav, { model, shifts: 0, clip: 'none' });
    const rescaled = await runSeparation(wav, { model, shifts: 0, clip: 'rescale' });
    const clamped = await runSeparation(wav, { model, shifts: 0, clip: 'clamp' });
    const peaks = plain.result.levels.map((l) => l.peak);
    expect(Math.max(...peaks)).toBeGreaterThan(1); // the ramp model's louder sources do clip
    expect(Math.min(...peaks)).toBeLessThan(1);
    for (const name of plain.result.stems) {
      const raw = plain.stems.get(name)!.channels;
      const peak = Math.max(...raw.flat().map(Math.abs));
      const gain = 1 / Math.max(1.01 * peak, 1);
      expect(relativeError(rescaled.stems.get(name)!.channels, raw.map((ch) => ch.map((v) => v * gain)))).toBeLessThan(TOLERANCE);
      expect(relativeError(clamped.stems.get(name)!.channels, raw.map((ch) => ch.map((v) => Math.min(0.99, Math.max(-0.99, v)))))).toBeLessThan(TOLERANCE);
      expect(rescaled.stems.get(name)!.ended).toBe(true);
    }
  });
});

describe('separate with an excerpt first (the preview)', () => {
  const S = 4096;
  const excerptRun = async (length: number, start: number | undefined) => {
    const model = await loadTestModel({ contract: 'waveform', kind: 'ramp', segment: S, metadata });
    const wav = testTrack(length, 29, 0.1);
    const excerpt = new Map<string, MemoryWriter>();
    const full = new Map<string, MemoryWriter>();
    const events: string[] = [];
    let placedAt = -1;
    const { result, stems } = await runSeparation(wav, {
      model,
      shifts: 0,
      excerpt: {
        start,
        length: 2 * S,
        openStem: (name) => {
          const writer = new MemoryWriter();
          excerpt.set(name, writer);
          return writer;
        },
        onDone: (_result, at) => {
          placedAt = at;
          events.push(`excerpt done, full stems written: ${[...full.values()].filter((w) => w.chunks.length > 0).length}`);
        },
      },
    }, full);
    return { wav, model, excerpt, placedAt, events, result, stems };
  };

  it('is the excerpt separated on its own, as demucs would separate that clip, and comes before any of the full result', async () => {
    const { wav, excerpt, placedAt, events, result, stems } = await excerptRun(7 * S, 1000);
    expect(placedAt).toBe(1000);
    expect(events).toEqual(['excerpt done, full stems written: 0']);
    const clip = wav.map((ch) => ch.slice(1000, 1000 + 2 * S));
    const expected = separateReference(clip, rampModel(4, CUMSUM_GAIN), { segment: S, overlap: 0.25, sampleRate: RATE, shiftOffsets: [], sources: 4 });
    result.stems.forEach((name, k) => {
      expect(excerpt.get(name)!.ended).toBe(true);
      expect(relativeError(excerpt.get(name)!.channels, expected[k]!)).toBeLessThan(TOLERANCE);
    });
    const whole = separateReference(wav, rampModel(4, CUMSUM_GAIN), { segment: S, overlap: 0.25, sampleRate: RATE, shiftOffsets: [], sources: 4 });
    result.stems.forEach((name, k) => expect(relativeError(stems.get(name)!.channels, whole[k]!)).toBeLessThan(TOLERANCE));
  });

  it('starts a third of the way in by default, is pulled back to fit the end, and is skipped for a short track', async () => {
    expect((await excerptRun(9 * S, undefined)).placedAt).toBe(3 * S);
    expect((await excerptRun(7 * S, 6 * S)).placedAt).toBe(5 * S);
    const short = await excerptRun(4 * S - 1, 0);
    expect(short.placedAt).toBe(-1);
    expect(short.excerpt.size).toBe(0);
  });
});

describe('separate, split contract (host STFT), against a direct-DFT transcription', () => {
  const S = 8192;
  const frames = S / 1024;
  it('ramp model over several segments with shifts and a DC offset', async () => {
    const model = await loadTestModel({ contract: 'split', kind: 'ramp', segment: S, sources: 2, metadata: { ...metadata, 'stembot.sources': 'voice,rest' }, timeFirst: true });
    expect(model.contract.kind).toBe('split');
    const wav = testTrack(2 * S + 1000, 19, 0.3);
    const { result, stems } = await runSeparation(wav, { model, shifts: 1, seed: 9, overlap: 0.25 });
    const reference = splitModel(rampModel(2, CUMSUM_GAIN), 2, (k, f, t) => (k + 1) * (1 + t / frames) * (1 + f / 2048));
    const expected = separateReference(wav, reference, { segment: S, overlap: 0.25, sampleRate: RATE, shiftOffsets: result.shiftOffsets, sources: 2 });
    expect(result.stems).toEqual(['voice', 'rest']);
    result.stems.forEach((name, k) => expect(relativeError(stems.get(name)!.channels, expected[k]!)).toBeLessThan(TOLERANCE));
  });

  it('fractions model, shorter than a segment', async () => {
    const model = await loadTestModel({ contract: 'split', kind: 'fractions', segment: S, metadata });
    const wav = testTrack(5000, 23);
    const { result, stems } = await runSeparation(wav, { model, shifts: 0 });
    const reference = splitModel(fractionsModel(TIME_FRACTIONS), 4, (k) => FREQ_FRACTIONS[k]!);
    const expected = separateReference(wav, reference, { segment: S, overlap: 0.25, sampleRate: RATE, shiftOffsets: [], sources: 4 });
    result.stems.forEach((name, k) => expect(relativeError(stems.get(name)!.channels, expected[k]!)).toBeLessThan(TOLERANCE));
  });
});

/**
 * A writer that fills the spool itself, as ffmpeg does: blocks appended with pauses between them,
 * so the spool is followed while it grows; `failAfter` blocks it fails with `failure`.
 */
function fileWriter(wav: Wave, options: { failAfter?: number; failure?: Error } = {}): { start: (path: string) => Promise<SpoolWriter>; stopped: () => boolean } {
  let stopped = false;
  const start = async (path: string): Promise<SpoolWriter> => {
    const done = (async () => {
      const file = await open(path, 'a');
      try {
        let written = 0;
        for await (const block of blocks(wav, 777)) {
          if (stopped) throw new Error('stopped');
          if (written++ === options.failAfter) throw options.failure;
          await file.write(new Uint8Array(block.buffer, block.byteOffset, block.byteLength));
          await sleep(1);
        }
      } finally {
        await file.close();
      }
    })();
    return {
      done,
      stop: () => {
        stopped = true;
      },
    };
  };
  return { start, stopped: () => stopped };
}

async function separateFilled(filler: SpoolFiller, options: Omit<SeparateOptions, 'openStem' | 'tempDir'>): Promise<{ stems: Map<string, MemoryWriter>; tempDir: string; error?: unknown }> {
  const tempDir = await mkdtemp(join(tmpdir(), 'stembot-sep-test-'));
  const stems = new Map<string, MemoryWriter>();
  const openStem = (name: string): MemoryWriter => {
    const writer = new MemoryWriter();
    stems.set(name, writer);
    return writer;
  };
  const error = await separate(filler, { clip: 'none', ...options, tempDir, openStem }).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { stems, tempDir, error };
}

describe('separate, from a spool its writer fills (the decoder writing the file itself)', () => {
  const S = 4096;

  it('gives the result demucs would, as the blocks do', async () => {
    const model = await loadTestModel({ contract: 'waveform', kind: 'ramp', segment: S, metadata });
    const wav = testTrack(3 * S + 7, 7, 0.4);
    const writer = fileWriter(wav);
    const spooled: number[] = [];
    const { stems, tempDir, error } = await separateFilled(
      { fill: (path, options) => TrackSpool.follow(path, writer.start, options) },
      { model, shifts: 0, onProgress: (p) => p.stage === 'spool' && spooled.push(p.samples) },
    );
    expect(error).toBeUndefined();
    const expected = separateReference(wav, rampModel(4, CUMSUM_GAIN), { segment: S, overlap: 0.25, sampleRate: RATE, shiftOffsets: [], sources: 4 });
    ['drums', 'bass', 'other', 'vocals'].forEach((name, k) => expect(relativeError(stems.get(name)!.channels, expected[k]!)).toBeLessThan(TOLERANCE));
    expect(spooled.at(-1)).toBe(3 * S + 7);
    expect(await readdir(tempDir)).toEqual([]);
    await rm(tempDir, { recursive: true });
  });

  it("fails with the writer's own error when it fails mid-way, and leaves no spool", async () => {
    const model = await loadTestModel({ contract: 'waveform', kind: 'ramp', segment: S, metadata });
    const failure = new Error('the decoder fell over');
    const writer = fileWriter(testTrack(20 * S, 3), { failAfter: 30, failure });
    let spooled = 0;
    const { stems, tempDir, error } = await separateFilled(
      { fill: (path, options) => TrackSpool.follow(path, writer.start, options) },
      { model, shifts: 0, onProgress: (p) => p.stage === 'spool' && (spooled = p.samples) },
    );
    expect(error).toBe(failure);
    expect(spooled).toBeGreaterThan(0);
    expect(stems.size).toBe(0);
    expect(await readdir(tempDir)).toEqual([]);
    await rm(tempDir, { recursive: true });
  });

  it('stops the writer when a growth check refuses, and surfaces the refusal', async () => {
    const model = await loadTestModel({ contract: 'waveform', kind: 'ramp', segment: S, metadata });
    const refusal = new Error('no room');
    const writer = fileWriter(testTrack(20 * S, 5));
    const checks: Array<[number, number]> = [];
    const { tempDir, error } = await separateFilled(
      { fill: (path, options) => TrackSpool.follow(path, writer.start, options) },
      {
        model,
        shifts: 0,
        beforeSpoolGrowth: async (samples, spooled) => {
          checks.push([samples, spooled]);
          if (samples > 5 * S) throw refusal;
        },
      },
    );
    expect(error).toBe(refusal);
    expect(writer.stopped()).toBe(true);
    // Growth is reported once it is on disk: what is checked is what the file holds already.
    expect(checks.every(([samples, spooled]) => samples === spooled)).toBe(true);
    expect(checks.every(([samples], i) => i === 0 || samples > checks[i - 1]![0])).toBe(true);
    expect(await readdir(tempDir)).toEqual([]);
    await rm(tempDir, { recursive: true });
  });
});

describe('the reference statistics', () => {
  it('keep the std of a quiet track on a large DC offset, however the track is cut into blocks', () => {
    // ref = 0.4 + 1e-4 * noise: a plain float64 sum of squares would lose about half its digits to cancellation.
    const wav = testTrack(100_000, 31).map((ch) => ch.map((v) => 0.4 + 1e-4 * v));
    const ref = wav[0]!.map((l, i) => (Math.fround(l) + Math.fround(wav[1]![i]!)) / 2);
    const mean = ref.reduce((a, b) => a + b, 0) / ref.length;
    const std = Math.sqrt(ref.reduce((a, v) => a + (v - mean) ** 2, 0) / (ref.length - 1));
    for (const sizes of [[100_000], [1, 7, 3001, 96_991], [50_000, 1, 49_999]]) {
      const stats = new ReferenceStats();
      let at = 0;
      for (const size of sizes) {
        stats.add(Float32Array.from({ length: 2 * size }, (_, i) => wav[i % 2]![at + (i >> 1)]!));
        at += size;
      }
      expect(stats.count).toBe(100_000);
      expect(Math.abs(stats.mean - mean) / mean).toBeLessThan(1e-12);
      expect(Math.abs(stats.std - std) / std).toBeLessThan(1e-9);
    }
  });
});
