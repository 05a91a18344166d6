import { createRequire } from 'node:module';
import { createCanvas, GlobalFonts, type SKRSContext2D } from '@napi-rs/canvas';
import type { PeaksJson } from './waveform-peaks.js';

/**
 * The stems' waveforms as a small PNG for the result message: one lane per stem, its name on the
 * left, its min/max envelope on the right. Drawn with @napi-rs/canvas (Skia, prebuilt per platform
 * as npm packages). The label font ships as an npm package too (DejaVu Sans Bold, Latin subset):
 * Skia draws no text at all when it finds no font, and slim images have none.
 */

export interface WaveformPngOptions {
  /** Image width in px. Default 800: Discord shows it at full size in a message. */
  width?: number;
  /** Height of one lane in px. Default 60. */
  laneHeight?: number;
}

const DEFAULT_WIDTH = 800;
const DEFAULT_LANE_HEIGHT = 60;
const WIDTH_RANGE = { min: 200, max: 2000 } as const;
const LANE_HEIGHT_RANGE = { min: 24, max: 200 } as const;
/** A 6-stem model with `no_X` and friends stays well under this; more would not read in a chat. */
export const MAX_LANES = 16;
/** Stem names are at most 64 safe characters; a label longer than this would not fit anyway. */
const MAX_LABEL_CHARS = 32;

const LABEL_WIDTH = 128;
const PADDING = 8;
const FONT_SIZE = 14;
/** The stored peaks' full scale (see `peaksJsonSchema`). */
const FULL_SCALE = 127;

/**
 * An opaque dark card: it reads the same in Discord's and Slack's dark and light themes, and the
 * light lane colours below keep a contrast ratio of 5:1 or more against both lane backgrounds (WCAG AA
 * asks 4.5:1 of text).
 */
const BACKGROUNDS = ['#1e1f22', '#2b2d31'] as const;
const CENTRE_LINE = '#3f4147';
const PALETTE = ['#5eb3f6', '#f5a35c', '#7bd88f', '#f47fb0', '#b89cf5', '#f0d66b', '#5fd4c8', '#ef7a6e'] as const;

const FONT_FAMILY = 'StembotLabel';
const FONT_FILE = '@fontsource/dejavu-sans/files/dejavu-sans-latin-700-normal.woff2';
let fontRegistered = false;

export async function renderWaveformPng(lanes: { name: string; peaks: PeaksJson }[], options: WaveformPngOptions = {}): Promise<Buffer> {
  const width = checkedSize('width', options.width ?? DEFAULT_WIDTH, WIDTH_RANGE);
  const laneHeight = checkedSize('laneHeight', options.laneHeight ?? DEFAULT_LANE_HEIGHT, LANE_HEIGHT_RANGE);
  if (lanes.length < 1 || lanes.length > MAX_LANES) throw new RangeError(`a waveform picture takes 1..${MAX_LANES} lanes, got ${lanes.length}`);
  registerLabelFont();

  const canvas = createCanvas(width, laneHeight * lanes.length);
  const context = canvas.getContext('2d');
  for (const [index, lane] of lanes.entries()) {
    const top = index * laneHeight;
    const colour = laneColour(index);
    context.fillStyle = BACKGROUNDS[index % BACKGROUNDS.length]!;
    context.fillRect(0, top, width, laneHeight);
    drawLabel(context, lane.name, colour, top + laneHeight / 2);
    drawEnvelope(context, lane.peaks, colour, { left: LABEL_WIDTH, top: top + PADDING / 2, width: width - LABEL_WIDTH - PADDING, height: laneHeight - PADDING });
  }
  return canvas.encode('png');
}

function checkedSize(name: string, value: number, range: { min: number; max: number }): number {
  if (!Number.isInteger(value) || value < range.min || value > range.max) throw new RangeError(`${name} must be an integer in ${range.min}..${range.max}, got ${value}`);
  return value;
}

function registerLabelFont(): void {
  if (fontRegistered) return;
  const file = createRequire(import.meta.url).resolve(FONT_FILE);
  if (!GlobalFonts.registerFromPath(file, FONT_FAMILY)) throw new Error(`could not load the waveform label font ${file}`);
  fontRegistered = true;
}

/** Hand-picked colours first; past them, hues a golden angle apart stay distinct from their neighbours. */
function laneColour(index: number): string {
  return PALETTE[index] ?? `hsl(${Math.round((index * 137.508) % 360)}, 75%, 72%)`;
}

/** The name, printable ASCII only (the font's subset), cut to what fits the label column. */
function drawLabel(context: SKRSContext2D, name: string, colour: string, middle: number): void {
  context.font = `${FONT_SIZE}px ${FONT_FAMILY}`;
  context.fillStyle = colour;
  context.textBaseline = 'middle';
  const room = LABEL_WIDTH - 2 * PADDING;
  let label = name.replace(/[^\x20-\x7e]/g, '?').slice(0, MAX_LABEL_CHARS);
  if (label.length < name.length || context.measureText(label).width > room) {
    while (label.length > 1 && context.measureText(`${label}…`).width > room) label = label.slice(0, -1);
    label = `${label}…`;
  }
  context.fillText(label, PADDING, middle);
}

interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** One column per pixel: the lowest min and highest max of the bins under it, at least 1 px tall. */
function drawEnvelope(context: SKRSContext2D, peaks: PeaksJson, colour: string, box: Box): void {
  const middle = box.top + box.height / 2;
  const scale = box.height / 2 / FULL_SCALE;
  context.fillStyle = CENTRE_LINE;
  context.fillRect(box.left, Math.floor(middle), box.width, 1);
  context.fillStyle = colour;
  for (let x = 0; x < box.width; x += 1) {
    const first = Math.floor((x * peaks.bins) / box.width);
    const last = Math.max(first + 1, Math.floor(((x + 1) * peaks.bins) / box.width));
    let lo = Infinity;
    let hi = -Infinity;
    for (let bin = first; bin < last; bin += 1) {
      lo = Math.min(lo, peaks.min[bin] ?? 0);
      hi = Math.max(hi, peaks.max[bin] ?? 0);
    }
    const y = Math.floor(middle - hi * scale);
    context.fillRect(box.left + x, y, 1, Math.max(1, Math.ceil(middle - lo * scale) - y));
  }
}
