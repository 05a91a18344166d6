import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../../core/errors.js';
import { decodeAudio } from '../../../worker/audio/decode.js';
import { createEncoder, type EncodeFormatInput } from '../../../worker/audio/encode.js';
import type { FfmpegTools } from '../../../worker/audio/ffmpeg.js';
import { packSamples, type SampleKind } from '../../../worker/audio/pcm.js';
import { ffprobeJson, findTools, rawSamples, rms, tempDir } from './fixtures.js';

const exec = promisify(execFile);

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

/** How each wav depth went through ffmpeg before stembot wrote wav itself: packed PCM in, this codec out. */
const FFMPEG_WAV = [
  { bitDepth: 16, kind: 'pcm16', input: 's16le', codec: 'pcm_s16le', decodeAs: 's16le' },
  { bitDepth: 24, kind: 'pcm24', input: 's32le', codec: 'pcm_s24le', decodeAs: 's32le' },
  { bitDepth: 32, kind: 'f32', input: 'f32le', codec: 'pcm_f32le', decodeAs: 'f32le' },
] as const satisfies readonly { bitDepth: 16 | 24 | 32; kind: SampleKind; input: string; codec: string; decodeAs: 's16le' | 's32le' | 'f32le' }[];

/** The old path, as the reference: the same packed bytes, muxed by ffmpeg. */
async function ffmpegWav(file: string, depth: (typeof FFMPEG_WAV)[number], rate: number, blocks: Float32Array[][]): Promise<void> {
  const raw = `${file}.raw`;
  await writeFile(raw, Buffer.concat(blocks.map((block) => packSamples(block, depth.kind))));
  await exec(tools.ffmpeg, ['-v', 'error', '-y', '-f', depth.input, '-ar', String(rate), '-ac', '2', '-i', raw, '-c:a', depth.codec, '-f', 'wav', file]);
}

/** A RIFF file's top-level chunks by id (the last of each id). */
function riffChunks(file: Buffer): Map<string, Buffer> {
  expect(file.toString('latin1', 0, 4)).toBe('RIFF');
  expect(file.toString('latin1', 8, 12)).toBe('WAVE');
  expect(file.readUInt32LE(4)).toBe(file.length - 8);
  const chunks = new Map<string, Buffer>();
  for (let at = 12; at < file.length; ) {
    const size = file.readUInt32LE(at + 4);
    chunks.set(file.toString('latin1', at, at + 4), file.subarray(at + 8, at + 8 + size));
    at += 8 + size + (size % 2);
  }
  return chunks;
}

/** Blocks of odd lengths whose samples include what a conversion can get wrong: clipping, NaN, ties, tiny values. */
function awkwardBlocks(): Float32Array[][] {
  const blocks = [sine(30001, 0, 0.9), sine(1, 30001, 0.9), sine(29999, 30002, 0.9)];
  blocks[0]![0]!.set([1, -1, 1.5, -1.5, Number.NaN, -0, 1e-30, 2 ** -24, 3 * 2 ** -24, -(2 ** -16), 32766.5 / 32768, 1 - 2 ** -24], 0);
  return blocks;
}

describe('createEncoder for wav', () => {
  const rates = [44100, 96000];
  it.each(FFMPEG_WAV.flatMap((depth) => rates.map((rate) => ({ depth, rate }))))(
    'writes $depth.bitDepth-bit wav at $rate Hz that matches what ffmpeg wrote from the same PCM',
    async ({ depth, rate }) => {
      const blocks = awkwardBlocks();
      const ours = path.join(dir, `direct-${depth.bitDepth}-${rate}.wav`);
      const theirs = path.join(dir, `ffmpeg-${depth.bitDepth}-${rate}.wav`);
      const encoder = await createEncoder({ ffmpeg: tools.ffmpeg, outputPath: ours, format: { format: 'wav', bitDepth: depth.bitDepth }, sampleRate: rate });
      for (const block of blocks) await encoder.write(block);
      await encoder.end();
      await ffmpegWav(theirs, depth, rate, blocks);

      // Same header fields (fmt and, for float, fact) and the same sample bytes; only ffmpeg's LIST/INFO tag differs.
      const [ourChunks, theirChunks] = [riffChunks(await readFile(ours)), riffChunks(await readFile(theirs))];
      expect([...ourChunks.keys()]).toEqual([...theirChunks.keys()].filter((id) => id !== 'LIST'));
      for (const [id, bytes] of ourChunks) expect(bytes.equals(theirChunks.get(id)!), id).toBe(true);

      // The data chunk is the packed PCM (24-bit: the top three bytes of each s32).
      const data = ourChunks.get('data')!;
      const packed = Buffer.concat(blocks.map((block) => packSamples(block, depth.kind)));
      const frames = 60001;
      if (depth.bitDepth === 24) {
        expect(data.length).toBe(frames * 6);
        for (let i = 0; i < 2 * frames; i++) if (data.readIntLE(3 * i, 3) !== packed.readInt32LE(4 * i) >> 8) expect.fail(`sample ${i}`);
      } else {
        expect(data.equals(packed)).toBe(true);
      }

      // ffmpeg decodes both to the same samples and reads the same stream.
      expect((await rawSamples(tools.ffmpeg, ours, depth.decodeAs)).equals(await rawSamples(tools.ffmpeg, theirs, depth.decodeAs))).toBe(true);
      const [ourProbe, theirProbe] = [await ffprobeJson(tools.ffprobe, ours), await ffprobeJson(tools.ffprobe, theirs)];
      const fields = ['codec_name', 'sample_fmt', 'sample_rate', 'channels', 'channel_layout', 'bits_per_sample', 'duration_ts'];
      const pick = (stream: Record<string, unknown>) => Object.fromEntries(fields.map((field) => [field, stream[field]]));
      expect(pick(ourProbe.streams[0]!)).toEqual(pick(theirProbe.streams[0]!));
      expect(ourProbe.streams[0]).toMatchObject({ codec_name: depth.codec, sample_rate: String(rate), channels: 2, duration_ts: frames });
      expect(Number(ourProbe.format.duration)).toBeCloseTo(frames / rate, 4);
    },
  );

  it.each([16, 24, 32] as const)('writes a zero-length %i-bit stem as a valid empty wav', async (bitDepth) => {
    const file = path.join(dir, `empty-${bitDepth}.wav`);
    const encoder = await createEncoder({ ffmpeg: tools.ffmpeg, outputPath: file, format: { format: 'wav', bitDepth } });
    await encoder.end();
    expect(riffChunks(await readFile(file)).get('data')!.length).toBe(0);
    const { streams } = await ffprobeJson(tools.ffprobe, file);
    expect(streams[0]).toMatchObject({ sample_rate: '44100', channels: 2 });
    expect((await rawSamples(tools.ffmpeg, file, 's16le')).length).toBe(0);
  });

  it('abort in the middle of writes leaves no file, and may be called twice', async () => {
    const out = path.join(dir, 'wav-aborted');
    await mkdir(out);
    const encoder = await createEncoder({ ffmpeg: tools.ffmpeg, outputPath: path.join(out, 'bass.wav'), format: { format: 'wav', bitDepth: 32 } });
    const block = sine(65536);
    // Past the backlog, so writes are still on their way to the file when abort comes.
    for (let i = 0; i < 12; i++) await encoder.write(block);
    const pending = encoder.write(block);
    await Promise.all([encoder.abort(), encoder.abort(), pending]);
    expect(await readdir(out)).toEqual([]);
    await expect(encoder.write(block)).rejects.toThrow(/already aborted/);
    await expect(encoder.end()).rejects.toThrow(/already aborted/);
  });

  it('throws on writes and ends after end, and leaves the finished file alone', async () => {
    const file = path.join(dir, 'ended.wav');
    const encoder = await createEncoder({ ffmpeg: tools.ffmpeg, outputPath: file, format: { format: 'wav' } });
    await encoder.write(sine(1000));
    await encoder.end();
    await expect(encoder.write(sine(1000))).rejects.toThrow(/already ended/);
    await expect(encoder.end()).rejects.toThrow(/already ended/);
    expect((await ffprobeJson(tools.ffprobe, file)).streams[0]).toMatchObject({ duration_ts: 1000 });
  });

  it('reports a full disk as output_unwritable and leaves nothing behind', async () => {
    const out = path.join(dir, 'wav-full');
    await mkdir(out);
    const file = path.join(out, 'other.wav');
    // The partial file is written through this link, so every write fails with ENOSPC.
    await symlink('/dev/full', `${file}.part`);
    const encoder = await createEncoder({ ffmpeg: tools.ffmpeg, outputPath: file, format: { format: 'wav' } });
    const error = await (async () => {
      for (let i = 0; i < 100; i++) await encoder.write(sine(65536));
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).code).toBe('output_unwritable');
    expect(await readdir(out)).toEqual([]);
  });

  it('reports a full disk found at end as output_unwritable', async () => {
    const out = path.join(dir, 'wav-full-at-end');
    await mkdir(out);
    const file = path.join(out, 'other.wav');
    await symlink('/dev/full', `${file}.part`);
    const encoder = await createEncoder({ ffmpeg: tools.ffmpeg, outputPath: file, format: { format: 'wav' } });
    const error = await encoder.end().catch((e: unknown) => e);
    expect((error as UserError).code).toBe('output_unwritable');
    expect(await readdir(out)).toEqual([]);
  });
});
