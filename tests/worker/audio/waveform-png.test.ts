import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { peaksJsonSchema, type PeaksJson } from '../../../worker/audio/waveform-peaks.js';
import { MAX_LANES, renderWaveformPng } from '../../../worker/audio/waveform-png.js';

const WIDTH = 800;
const LANE_HEIGHT = 60;
/** The renderer's layout: labels in the left 128 px (8 px padding each side), waves from x = 128 to width - 8. */
const LABEL_WIDTH = 128;
const LABEL_PADDING = 8;
const WAVE_LEFT = LABEL_WIDTH;
const WAVE_WIDTH = WIDTH - LABEL_WIDTH - 8;
const BINS = 1000;

/** Peaks built bin by bin, and checked by the schema so that the renderer is fed what storage would hold. */
function peaks(level: (bin: number) => [min: number, max: number]): PeaksJson {
  const levels = Array.from({ length: BINS }, (_, bin) => level(bin));
  return peaksJsonSchema.parse({ version: 1, sampleRate: 44100, frames: 180 * 44100, bins: BINS, min: levels.map(([lo]) => lo), max: levels.map(([, hi]) => hi) });
}

/** Lane `k` of four is at full scale in the k-th quarter of the track and silent elsewhere. */
function quarterLanes(names = ['drums', 'bass', 'other', 'vocals']): { name: string; peaks: PeaksJson }[] {
  return names.map((name, k) => ({ name, peaks: peaks((bin) => (Math.floor(bin / (BINS / 4)) === k ? [-127, 127] : [0, 0])) }));
}

interface Image {
  width: number;
  height: number;
  data: Buffer;
}

function colourAt(image: Image, x: number, y: number): number {
  return image.data.readUInt32BE((y * image.width + x) * 4);
}

/** Pixels in a rectangle of one lane that differ from that lane's background (read in its right margin). */
function inkIn(image: Image, lane: number, x0: number, x1: number): number[] {
  const top = lane * LANE_HEIGHT;
  const background = colourAt(image, image.width - 1, top + 1);
  const ink = [];
  for (let y = top; y < top + LANE_HEIGHT; y += 1) {
    for (let x = x0; x < x1; x += 1) {
      const colour = colourAt(image, x, y);
      if (colour !== background) ink.push(colour);
    }
  }
  return ink;
}

function quarterColumn(quarter: number): number {
  return WAVE_LEFT + Math.floor(((quarter + 0.5) * WAVE_WIDTH) / 4);
}

describe('renderWaveformPng', () => {
  it('makes a PNG one lane high per stem, at the size asked', async () => {
    const image = PNG.sync.read(await renderWaveformPng(quarterLanes()));
    expect([image.width, image.height]).toEqual([WIDTH, 4 * LANE_HEIGHT]);
    const small = PNG.sync.read(await renderWaveformPng(quarterLanes().slice(0, 3), { width: 400, laneHeight: 40 }));
    expect([small.width, small.height]).toEqual([400, 3 * 40]);
  });

  it('draws each lane tall where its peaks are loud and flat where they are silent', async () => {
    const image = PNG.sync.read(await renderWaveformPng(quarterLanes()));
    for (let lane = 0; lane < 4; lane += 1) {
      for (let quarter = 0; quarter < 4; quarter += 1) {
        const x = quarterColumn(quarter);
        const ink = inkIn(image, lane, x, x + 1).length;
        // Loud: nearly the lane's whole height. Silent: the centre line and a 1 px trace.
        if (quarter === lane) expect(ink, `lane ${lane}, quarter ${quarter}`).toBeGreaterThan(0.8 * LANE_HEIGHT);
        else expect(ink, `lane ${lane}, quarter ${quarter}`).toBeLessThanOrEqual(2);
      }
    }
  });

  it('scales a lane to its peaks: half scale draws about half as tall', async () => {
    const half = [{ name: 'bass', peaks: peaks(() => [-64, 64]) }];
    const full = [{ name: 'bass', peaks: peaks(() => [-127, 127]) }];
    const x = quarterColumn(1);
    const halfInk = inkIn(PNG.sync.read(await renderWaveformPng(half)), 0, x, x + 1).length;
    const fullInk = inkIn(PNG.sync.read(await renderWaveformPng(full)), 0, x, x + 1).length;
    expect(halfInk / fullInk).toBeGreaterThan(0.4);
    expect(halfInk / fullInk).toBeLessThan(0.6);
  });

  it('gives each lane its own colour', async () => {
    const image = PNG.sync.read(await renderWaveformPng(quarterLanes()));
    const waveColours = [0, 1, 2, 3].map((lane) => {
      const x = quarterColumn(lane);
      const ink = inkIn(image, lane, x, x + 1);
      // The middle of a full-scale column is the wave's own colour, not an anti-aliased edge.
      return ink[Math.floor(ink.length / 2)];
    });
    expect(new Set(waveColours).size).toBe(4);
  });

  it('labels every lane with its name', async () => {
    const image = PNG.sync.read(await renderWaveformPng(quarterLanes()));
    const labels = [0, 1, 2, 3].map((lane) => inkIn(image, lane, 0, LABEL_WIDTH));
    for (const label of labels) expect(label.length).toBeGreaterThan(40);
    // Different names draw differently: the pixels are text, not a swatch.
    const renamed = PNG.sync.read(await renderWaveformPng(quarterLanes(['drums', 'drums', 'other', 'vocals'])));
    expect(inkIn(renamed, 1, 0, LABEL_WIDTH)).not.toEqual(labels[1]);
    expect(inkIn(renamed, 1, 0, LABEL_WIDTH).length).toBeCloseTo(labels[0]!.length, -1);
  });

  it('cuts a long name short of the waveform', async () => {
    const name = `${'W'.repeat(60)}_end`;
    const image = PNG.sync.read(await renderWaveformPng([{ name, peaks: peaks(() => [0, 0]) }]));
    expect(inkIn(image, 0, 0, LABEL_WIDTH - LABEL_PADDING).length).toBeGreaterThan(40);
    expect(inkIn(image, 0, LABEL_WIDTH - LABEL_PADDING, LABEL_WIDTH)).toEqual([]);
  });

  it('stays under 50 KB for four lanes of busy audio', async () => {
    let state = 1;
    const random = (): number => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state / 2 ** 32;
    };
    const lanes = ['drums', 'bass', 'other', 'vocals'].map((name) => ({
      name,
      peaks: peaks(() => {
        const hi = Math.round(random() * 127);
        return [-Math.round(random() * 127), hi];
      }),
    }));
    const png = await renderWaveformPng(lanes);
    expect(PNG.sync.read(png).height).toBe(4 * LANE_HEIGHT);
    expect(png.length).toBeLessThan(50 * 1024);
  });

  it.each([
    ['no lanes', [], {}],
    ['too many lanes', Array.from({ length: MAX_LANES + 1 }, () => quarterLanes()[0]!), {}],
    ['a tiny width', quarterLanes(), { width: 10 }],
    ['a fractional lane height', quarterLanes(), { laneHeight: 40.5 }],
  ])('refuses %s', async (_name, lanes, options) => {
    await expect(renderWaveformPng(lanes, options)).rejects.toThrow(RangeError);
  });
});
