import { describe, expect, it } from 'vitest';
import { maxWavDataBytes, wavHeader, wavHeaderBytes, type WavLayout } from '../../../worker/audio/wav-header.js';

const layouts: { layout: WavLayout; bytes: number; format: number }[] = [
  { layout: { sampleRate: 44100, bitDepth: 16 }, bytes: 44, format: 1 },
  { layout: { sampleRate: 96000, bitDepth: 16 }, bytes: 68, format: 0xfffe },
  { layout: { sampleRate: 44100, bitDepth: 24 }, bytes: 68, format: 0xfffe },
  { layout: { sampleRate: 44100, bitDepth: 32 }, bytes: 80, format: 0xfffe },
];

describe('wavHeader', () => {
  it.each(layouts)('is $bytes bytes for $layout.bitDepth-bit at $layout.sampleRate Hz', ({ layout, bytes, format }) => {
    const header = wavHeader(layout, 4 * 6 * 8);
    expect(header.length).toBe(bytes);
    expect(wavHeaderBytes(layout)).toBe(bytes);
    expect(header.readUInt16LE(20)).toBe(format);
    expect(header.readUInt32LE(4)).toBe(bytes - 8 + 192);
    expect(header.toString('latin1', bytes - 8, bytes - 4)).toBe('data');
    expect(header.readUInt32LE(bytes - 4)).toBe(192);
  });

  it('counts frames in the fact chunk of float files', () => {
    const header = wavHeader({ sampleRate: 48000, bitDepth: 32 }, 8 * 1000);
    expect(header.toString('latin1', 60, 64)).toBe('fact');
    expect(header.readUInt32LE(68)).toBe(1000);
  });

  it.each(layouts)('fits the largest $layout.bitDepth-bit data in the 32-bit RIFF size and refuses one frame more', ({ layout }) => {
    const max = maxWavDataBytes(layout);
    const frame = (2 * layout.bitDepth) / 8;
    expect(max % frame).toBe(0);
    const header = wavHeader(layout, max);
    expect(header.readUInt32LE(4)).toBeLessThanOrEqual(0xffff_ffff);
    expect(header.readUInt32LE(4)).toBeGreaterThan(0xffff_ffff - frame);
    expect(header.readUInt32LE(header.length - 4)).toBe(max);
    expect(() => wavHeader(layout, max + frame)).toThrow(RangeError);
  });

  it('refuses sizes that are not whole frames', () => {
    expect(() => wavHeader({ sampleRate: 44100, bitDepth: 24 }, 4)).toThrow(RangeError);
    expect(() => wavHeader({ sampleRate: 44100, bitDepth: 16 }, -4)).toThrow(RangeError);
  });
});
