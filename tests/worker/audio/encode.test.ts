import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../../core/errors.js';
import { decodeAudio } from '../../../worker/audio/decode.js';
import { createEncoder, type EncodeFormatInput } from '../../../worker/audio/encode.js';
import type { FfmpegTools } from '../../../worker/audio/ffmpeg.js';
import { ffprobeJson, findTools, rawSamples, rms, tempDir } from './fixtures.js';

let tools: FfmpegTools;
let dir: string;

beforeAll(async () => {
  tools = await findTools();
  dir = await tempDir('encode');
});

/** A 440 Hz sine on the left, 660 Hz on the right, with the given number of frames. */
function sine(frames: number, offset = 0, amplitude = 0.5): Float32Array[] {
  const left = new Float32Array(frames);
  const right = new Float32Array(frames);
  for (let i = 0; i < frames; i++) {
    const t = (i + offset) / 44100;
    left[i] = amplitude * Math.sin(2 * Math.PI * 440 * t);
    right[i] = amplitude * Math.sin(2 * Math.PI * 660 * t);
  }
  return [left, right];
}

async function encode(file: string, format: EncodeFormatInput, blocks: Float32Array[][]): Promise<void> {
  const encoder = await createEncoder({ ffmpeg: tools.ffmpeg, outputPath: file, format });
  for (const block of blocks) await encoder.write(block);
  await encoder.end();
}

const cases: { format: EncodeFormatInput; codec: string; rate: number; sampleFmt?: string; bits?: string; bitrate?: number }[] = [
  { format: { format: 'mp3' }, codec: 'mp3', rate: 44100, bitrate: 320000 },
  { format: { format: 'mp3', bitrateKbps: 128 }, codec: 'mp3', rate: 44100, bitrate: 128000 },
  { format: { format: 'flac' }, codec: 'flac', rate: 44100, sampleFmt: 's16', bits: '16' },
  { format: { format: 'flac', bitDepth: 24 }, codec: 'flac', rate: 44100, sampleFmt: 's32', bits: '24' },
  { format: { format: 'wav' }, codec: 'pcm_s16le', rate: 44100, bits: '16' },
  { format: { format: 'wav', bitDepth: 24 }, codec: 'pcm_s24le', rate: 44100, bits: '24' },
  { format: { format: 'wav', bitDepth: 32 }, codec: 'pcm_f32le', rate: 44100, bits: '32' },
  { format: { format: 'opus' }, codec: 'opus', rate: 48000 },
];

describe('createEncoder', () => {
  it.each(cases)('writes $format as $codec at $rate Hz, stereo, with the right depth', async (c) => {
    const file = path.join(dir, `out-${JSON.stringify(c.format).replace(/\W+/g, '_')}.${c.format.format}`);
    await encode(file, c.format, [sine(30000), sine(30000, 30000), sine(28200, 60000)]);

    const { streams, format } = await ffprobeJson(tools.ffprobe, file);
    const stream = streams[0]!;
    expect(stream).toMatchObject({ codec_name: c.codec, sample_rate: String(c.rate), channels: 2 });
    if (c.sampleFmt) expect(stream.sample_fmt).toBe(c.sampleFmt);
    if (c.bits) expect(stream.bits_per_raw_sample ?? stream.bits_per_sample).toSatisfy((b: unknown) => String(b) === c.bits);
    if (c.bitrate) expect(Number(stream.bit_rate)).toBe(c.bitrate);
    expect(Number(format.duration)).toBeCloseTo(88200 / 44100, 1);

    // Decoded back, the content is still our sine at its level.
    const left: number[] = [];
    for await (const [l] of decodeAudio(file, { ffmpeg: tools.ffmpeg })) left.push(...l!);
    expect(rms(Float32Array.from(left))).toBeCloseTo(0.5 / Math.SQRT2, 1);
    expect((await readdir(dir)).some((name) => name.endsWith('.part'))).toBe(false);
  });

  it('writes 32-bit float wav bit-exactly, including values past full scale', async () => {
    const [left, right] = sine(50000, 0, 0.9);
    // Edge values a careless conversion would alter: denormal-ish, tiny, over 1, negative zero.
    left!.set([1.5, -1.25, 1e-30, -0, 0.333333343267, 2 ** -149], 0);
    const file = path.join(dir, 'exact.wav');
    await encode(file, { format: 'wav', bitDepth: 32 }, [[left!.subarray(0, 20000), right!.subarray(0, 20000)], [left!.subarray(20000), right!.subarray(20000)]]);

    const raw = await rawSamples(tools.ffmpeg, file, 'f32le');
    const interleaved = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
    expect(interleaved.length).toBe(100000);
    const expected = new Float32Array(100000);
    for (let i = 0; i < 50000; i++) {
      expected[2 * i] = left![i]!;
      expected[2 * i + 1] = right![i]!;
    }
    expect(Buffer.from(interleaved.buffer, interleaved.byteOffset, interleaved.byteLength).equals(Buffer.from(expected.buffer))).toBe(true);

    // And through our own decoder, too: pcm_f32le at 44.1 kHz is passed through untouched.
    const decoded: number[] = [];
    for await (const [l] of decodeAudio(file, { ffmpeg: tools.ffmpeg })) decoded.push(...l!);
    expect(Float32Array.from(decoded)).toEqual(left);
  });

  it('converts to 16-bit like torchaudio (x*2^15, round half to even, clip) for wav and flac', async () => {
    const values = [0, 1, -1, 1.5, -1.5, 0.5, -0.5, 1 / 65536, 3 / 65536, -3 / 65536, 32766.5 / 32768, Number.NaN];
    const expected = [0, 32767, -32768, 32767, -32768, 16384, -16384, 0, 2, -2, 32766, 0];
    for (const format of ['wav', 'flac'] as const) {
      const file = path.join(dir, `int16.${format}`);
      const block = Float32Array.from(values);
      await encode(file, { format, bitDepth: 16 }, [[block, block]]);
      const raw = await rawSamples(tools.ffmpeg, file, 's16le');
      const got = Array.from({ length: values.length }, (_, i) => raw.readInt16LE(4 * i));
      expect(got).toEqual(expected);
    }
  });

  it('converts to 24-bit with the same rule at 2^23 and keeps every bit through wav and flac', async () => {
    const values = [1, -1, 0.25, 1 / 2 ** 24, 3 / 2 ** 24, -(2 ** -23)];
    const expected = [8388607, -8388608, 2097152, 0, 2, -1];
    for (const format of ['wav', 'flac'] as const) {
      const file = path.join(dir, `int24.${format}`);
      const block = Float32Array.from(values);
      await encode(file, { format, bitDepth: 24 }, [[block, block]]);
      const raw = await rawSamples(tools.ffmpeg, file, 's32le');
      const got = Array.from({ length: values.length }, (_, i) => raw.readInt32LE(8 * i) / 256);
      expect(got).toEqual(expected);
    }
  });

  it('waits for ffmpeg to drain when written faster than it encodes', async () => {
    const file = path.join(dir, 'pressure.mp3');
    const encoder = await createEncoder({ ffmpeg: tools.ffmpeg, outputPath: file, format: { format: 'mp3' } });
    const block = sine(65536);
    // 60 s of audio in large blocks (10 MB): past the encoder's backlog, so drain waits must happen and work.
    for (let i = 0; i < 40; i++) await encoder.write(block);
    await encoder.end();
    const { format } = await ffprobeJson(tools.ffprobe, file);
    expect(Number(format.duration)).toBeCloseTo((40 * 65536) / 44100, 0);
  });

  it('refuses an output folder that cannot be created', async () => {
    const blocker = path.join(dir, 'a-file');
    await writeFile(blocker, 'x');
    const error = await createEncoder({ ffmpeg: tools.ffmpeg, outputPath: path.join(blocker, 'stems', 'vocals.wav'), format: { format: 'wav' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).code).toBe('output_unwritable');
  });

  it('abort removes the partial file and leaves no output', async () => {
    const out = path.join(dir, 'aborted');
    await mkdir(out);
    const file = path.join(out, 'drums.flac');
    const encoder = await createEncoder({ ffmpeg: tools.ffmpeg, outputPath: file, format: { format: 'flac' } });
    await encoder.write(sine(44100));
    await encoder.abort();
    expect(await readdir(out)).toEqual([]);
    await expect(stat(file)).rejects.toThrow();
  });

  it('an abort signal stops the encoder and its writes reject with the reason', async () => {
    const controller = new AbortController();
    const file = path.join(dir, 'signalled.wav');
    const encoder = await createEncoder({ ffmpeg: tools.ffmpeg, outputPath: file, format: { format: 'wav' }, signal: controller.signal });
    await encoder.write(sine(1000));
    const reason = new Error('job cancelled');
    controller.abort(reason);
    await expect(encoder.write(sine(1000))).rejects.toBe(reason);
    await encoder.abort();
    await expect(stat(file)).rejects.toThrow();
  });

  it('rejects blocks that are not planar stereo', async () => {
    const encoder = await createEncoder({ ffmpeg: tools.ffmpeg, outputPath: path.join(dir, 'bad.wav'), format: { format: 'wav' } });
    await expect(encoder.write([new Float32Array(4)])).rejects.toThrow(RangeError);
    await encoder.abort();
  });
});
