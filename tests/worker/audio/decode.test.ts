import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../../core/errors.js';
import { decodeAudio, decodeInterleaved, decodeToFile, type DecodeToFileOptions, type PlanarBlock } from '../../../worker/audio/decode.js';
import type { FfmpegTools } from '../../../worker/audio/ffmpeg.js';
import { probeAudio } from '../../../worker/audio/probe.js';
import { TrackSpool, type SpoolOptions } from '../../../worker/engine/spool.js';
import { childProcesses } from '../../support/child-processes.js';
import { findTools, makeSine, rms, tempDir } from './fixtures.js';
import { trickle } from '../../support/slow-upload.js';

let tools: FfmpegTools;
let dir: string;

beforeAll(async () => {
  tools = await findTools();
  dir = await tempDir('decode');
});

async function collect(blocks: AsyncIterable<PlanarBlock>): Promise<{ left: Float32Array; right: Float32Array; sizes: number[] }> {
  const lefts: Float32Array[] = [];
  const rights: Float32Array[] = [];
  const sizes: number[] = [];
  for await (const block of blocks) {
    expect(block).toHaveLength(2);
    expect(block[0]!.length).toBe(block[1]!.length);
    sizes.push(block[0]!.length);
    lefts.push(block[0]!);
    rights.push(block[1]!);
  }
  const join = (parts: Float32Array[]): Float32Array => {
    const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };
  return { left: join(lefts), right: join(rights), sizes };
}

async function decodeError(input: string | Readable): Promise<unknown> {
  try {
    for await (const _block of decodeAudio(input, { ffmpeg: tools.ffmpeg })) {
      // draining
    }
  } catch (error) {
    return error;
  }
  return undefined;
}

const SECONDS = 2;
const formats: { name: string; ext: string; codecArgs: string[]; rate: number; channels: 1 | 2; codec: string }[] = [
  { name: 'mp3', ext: 'mp3', codecArgs: ['-c:a', 'libmp3lame', '-b:a', '192k'], rate: 44100, channels: 2, codec: 'mp3' },
  { name: 'm4a/aac', ext: 'm4a', codecArgs: ['-c:a', 'aac', '-b:a', '192k'], rate: 44100, channels: 2, codec: 'aac' },
  { name: 'webm/opus', ext: 'webm', codecArgs: ['-c:a', 'libopus', '-b:a', '128k'], rate: 48000, channels: 2, codec: 'opus' },
  { name: 'ogg/vorbis', ext: 'ogg', codecArgs: ['-c:a', 'libvorbis', '-q:a', '5'], rate: 44100, channels: 2, codec: 'vorbis' },
  { name: 'wav', ext: 'wav', codecArgs: ['-c:a', 'pcm_s16le'], rate: 44100, channels: 2, codec: 'pcm_s16le' },
  { name: 'flac', ext: 'flac', codecArgs: ['-c:a', 'flac'], rate: 44100, channels: 2, codec: 'flac' },
  { name: 'mono 22050 Hz wav', ext: 'wav', codecArgs: ['-c:a', 'pcm_s16le'], rate: 22050, channels: 1, codec: 'pcm_s16le' },
];

describe('decodeAudio', () => {
  it.each(formats)('decodes $name to 44.1 kHz stereo float at the right length and level', async (f) => {
    const file = path.join(dir, `sine-${f.name.replace(/\W/g, '_')}.${f.ext}`);
    await makeSine(tools.ffmpeg, file, { seconds: SECONDS, rate: f.rate, channels: f.channels, codecArgs: f.codecArgs });

    const probe = await probeAudio(tools.ffprobe, file);
    expect(probe).toMatchObject({ codec: f.codec, channels: f.channels, sampleRate: f.rate });
    expect(probe.durationSeconds).toBeCloseTo(SECONDS, 1);

    const { left, right } = await collect(decodeAudio(file, { ffmpeg: tools.ffmpeg }));
    // Lossy codecs add encoder delay/padding (a few thousand frames at most).
    expect(Math.abs(left.length - SECONDS * 44100)).toBeLessThan(4096);
    // A 0.5-amplitude sine has RMS 0.5/sqrt(2). Mono is upmixed by ffmpeg's `-ac 2` exactly as demucs'
    // own loader does it: the same signal on both sides at -3 dB (swresample's centre gain, sqrt(1/2)).
    const expected = (0.5 / Math.SQRT2) * (f.channels === 1 ? Math.SQRT1_2 : 1);
    expect(rms(left)).toBeCloseTo(expected, 1);
    expect(rms(right)).toBeCloseTo(expected, 1);
    if (f.channels === 1) expect(right).toEqual(left);
  });

  it('yields bounded blocks, full-size until the last', async () => {
    const file = path.join(dir, 'blocks.flac');
    await makeSine(tools.ffmpeg, file, { seconds: 1, rate: 44100, channels: 2, codecArgs: ['-c:a', 'flac'] });
    const { sizes } = await collect(decodeAudio(file, { ffmpeg: tools.ffmpeg, blockFrames: 10000 }));
    expect(sizes.slice(0, -1).every((n) => n === 10000)).toBe(true);
    expect(sizes.at(-1)).toBe(44100 - 4 * 10000);
    expect(sizes.reduce((a, b) => a + b)).toBe(44100);
  });

  it('decodes a stream piped to stdin the same as the file', async () => {
    const file = path.join(dir, 'stream.ogg');
    await makeSine(tools.ffmpeg, file, { seconds: 1, rate: 44100, channels: 2, codecArgs: ['-c:a', 'libvorbis'] });
    const fromFile = await collect(decodeAudio(file, { ffmpeg: tools.ffmpeg }));
    const fromStream = await collect(decodeAudio(createReadStream(file, { highWaterMark: 1000 }), { ffmpeg: tools.ffmpeg }));
    expect(fromStream.left).toEqual(fromFile.left);
    expect(fromStream.right).toEqual(fromFile.right);
  });

  it('refuses a text file as undecodable', async () => {
    const file = path.join(dir, 'notes.mp3');
    await writeFile(file, 'these are not the samples you are looking for\n'.repeat(200));
    const error = await decodeError(file);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).code).toBe('audio_undecodable');
  });

  it('refuses a truncated stream of garbage bytes as undecodable', async () => {
    const error = await decodeError(Readable.from([Buffer.from([0xff, 0xfb, 0x00, 0x13, 0x37, 0x42])]));
    expect((error as UserError).code).toBe('audio_undecodable');
  });

  it('refuses a streamed non-audio file as undecodable even when ffmpeg gives up before reading all of it', async () => {
    const text = Buffer.from('these are not the samples you are looking for\n'.repeat(1000));
    const error = await decodeError(Readable.from((function* () {
      for (let i = 0; i < 400; i++) yield text;
    })()));
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).code).toBe('audio_undecodable');
  });

  it("fails with the input stream's own error when the input fails mid-way", async () => {
    const file = path.join(dir, 'input-fails.flac');
    await makeSine(tools.ffmpeg, file, { seconds: 20, rate: 44100, channels: 2, codecArgs: ['-c:a', 'flac'] });
    const dropped = new UserError('attachment_unreachable', 'The uploaded file could not be downloaded; try again later.');
    const input = createReadStream(file, { highWaterMark: 16 * 1024 });
    let sent = 0;
    input.on('data', (chunk) => {
      sent += chunk.length;
      if (sent > 64 * 1024) input.destroy(dropped);
    });
    expect(await decodeError(input)).toBe(dropped);
  });

  it('refuses a video with no audio track as not audio, and a picture as not an audio format', async () => {
    const { execFile } = await import('node:child_process');
    const make = (file: string, args: string[]) => new Promise<void>((resolve, reject) => execFile(tools.ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', ...args, file], (e) => (e ? reject(e) : resolve())));
    const video = path.join(dir, 'silent-video.mp4');
    await make(video, ['-i', 'testsrc=s=32x32:d=1', '-an']);
    expect(((await decodeError(video)) as UserError).code).toBe('audio_not_audio');
    await expect(probeAudio(tools.ffprobe, video)).rejects.toMatchObject({ code: 'audio_not_audio' });
    const picture = path.join(dir, 'picture.png');
    await make(picture, ['-i', 'color=c=red:s=32x32:d=1', '-frames:v', '1']);
    expect(((await decodeError(picture)) as UserError).code).toBe('audio_container');
    await expect(probeAudio(tools.ffprobe, picture)).rejects.toMatchObject({ code: 'audio_container' });
  });

  it('refuses zero-length input as empty, from a file and from a stream', async () => {
    const file = path.join(dir, 'empty.wav');
    await writeFile(file, '');
    expect((await decodeError(file)) as UserError).toMatchObject({ code: 'audio_empty' });
    expect((await decodeError(Readable.from([]))) as UserError).toMatchObject({ code: 'audio_empty' });
  });

  it('refuses a valid container holding zero samples as empty', async () => {
    const file = path.join(dir, 'zero-samples.wav');
    await makeSine(tools.ffmpeg, file, { seconds: 0, rate: 44100, channels: 2, codecArgs: ['-c:a', 'pcm_s16le'] });
    expect((await decodeError(file)) as UserError).toMatchObject({ code: 'audio_empty' });
  });

  it('stops ffmpeg and throws the reason when aborted mid-stream', async () => {
    const file = path.join(dir, 'long.flac');
    await makeSine(tools.ffmpeg, file, { seconds: 20, rate: 44100, channels: 2, codecArgs: ['-c:a', 'flac'] });
    const controller = new AbortController();
    const reason = new Error('cancelled by user');
    let blocks = 0;
    const run = async (): Promise<void> => {
      for await (const _block of decodeAudio(file, { ffmpeg: tools.ffmpeg, blockFrames: 4096, signal: controller.signal })) {
        if (++blocks === 2) controller.abort(reason);
      }
    };
    await expect(run()).rejects.toBe(reason);
    expect(blocks).toBeLessThan(20 * 44100 / 4096);
  });
});

/** The decode straight to a spool file, followed as it grows, as separateTrack runs it. */
function followDecode(input: string | Readable, spoolPath: string, options: SpoolOptions & Omit<DecodeToFileOptions, 'ffmpeg'> = {}): Promise<TrackSpool> {
  return TrackSpool.follow(spoolPath, (file) => decodeToFile(input, file, { ffmpeg: tools.ffmpeg, ...options }), options);
}

async function followError(input: string | Readable, options: SpoolOptions & Omit<DecodeToFileOptions, 'ffmpeg'> = {}): Promise<unknown> {
  const spoolPath = path.join(dir, `refused-${Math.random().toString(36).slice(2)}.f32`);
  return followDecode(input, spoolPath, options).then(
    async (spool) => {
      await spool.close();
      return undefined;
    },
    (error: unknown) => error,
  );
}

describe('decodeToFile, followed by TrackSpool.follow', () => {
  let song: string;
  beforeAll(async () => {
    // Noise, resampled: megabytes of flac, so a trickled upload of it lasts well past ffmpeg's start.
    song = path.join(dir, 'follow.flac');
    await promisify(execFile)(tools.ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'anoisesrc=c=pink:r=48000:a=0.1:d=20', '-ac', '2', '-c:a', 'flac', song]);
  });

  it('spools the samples and statistics the pipe does, from a file and from a stream', async () => {
    const piped = await TrackSpool.write(decodeInterleaved(song, { ffmpeg: tools.ffmpeg }), path.join(dir, 'piped.f32'));
    const reported: number[] = [];
    const followed = await followDecode(song, path.join(dir, 'followed.f32'), { onSamples: (n) => reported.push(n) });
    const streamed = await followDecode(createReadStream(song, { highWaterMark: 1000 }), path.join(dir, 'streamed.f32'));
    try {
      const expected = await readFile(path.join(dir, 'piped.f32'));
      for (const [spool, file] of [[followed, 'followed.f32'], [streamed, 'streamed.f32']] as const) {
        expect(spool.length).toBe(piped.length);
        expect(spool.mean).toBeCloseTo(piped.mean, 12);
        expect(spool.std).toBeCloseTo(piped.std, 12);
        expect((await readFile(path.join(dir, file))).equals(expected)).toBe(true);
      }
      expect(reported.at(-1)).toBe(followed.length);
      expect(reported).toEqual([...reported].sort((a, b) => a - b));
    } finally {
      await Promise.all([piped, followed, streamed].map((spool) => spool.close()));
    }
  });

  it('refuses what the pipe refuses, with the same errors', async () => {
    const text = path.join(dir, 'notes-follow.mp3');
    await writeFile(text, 'these are not the samples you are looking for\n'.repeat(200));
    expect(await followError(text)).toMatchObject({ code: 'audio_undecodable' });
    expect(await followError(Readable.from([Buffer.from([0xff, 0xfb, 0x00, 0x13, 0x37, 0x42])]))).toMatchObject({ code: 'audio_undecodable' });
    const empty = path.join(dir, 'empty-follow.wav');
    await writeFile(empty, '');
    expect(await followError(empty)).toMatchObject({ code: 'audio_empty' });
    expect(await followError(Readable.from([]))).toMatchObject({ code: 'audio_empty' });
    const zero = path.join(dir, 'zero-samples-follow.wav');
    await makeSine(tools.ffmpeg, zero, { seconds: 0, rate: 44100, channels: 2, codecArgs: ['-c:a', 'pcm_s16le'] });
    expect(await followError(zero)).toMatchObject({ code: 'audio_empty' });
    expect(await followError(path.join(dir, 'no-such-file.flac'))).toMatchObject({ code: 'audio_missing' });
    expect(await childProcesses('ffmpeg')).toEqual([]);
  });

  it("fails with the input stream's own error when the input fails mid-way, and ffmpeg is gone", async () => {
    const dropped = new UserError('attachment_unreachable', 'The uploaded file could not be downloaded; try again later.');
    const input = trickle(song, 2, { bytes: (await stat(song)).size / 2, error: dropped });
    let spooled = 0;
    expect(await followError(input, { onSamples: (n) => (spooled = n) })).toBe(dropped);
    expect(spooled).toBeGreaterThan(0); // it failed mid-decode, not before
    expect(await childProcesses('ffmpeg')).toEqual([]);
  });

  it('kills ffmpeg and throws the reason when aborted mid-decode', async () => {
    const controller = new AbortController();
    const reason = new Error('cancelled by user');
    let spooled = 0;
    const error = await followError(trickle(song, 2), {
      signal: controller.signal,
      onSamples: (n) => {
        spooled = n;
        controller.abort(reason);
      },
    });
    expect(error).toBe(reason);
    expect(spooled).toBeGreaterThan(0);
    expect(spooled).toBeLessThan(20 * 44100);
    expect(await childProcesses('ffmpeg')).toEqual([]);
  });

  it('stops ffmpeg once a growth check refuses, within a poll of the refused growth', async () => {
    const refusal = new UserError('disk_full', 'The server is short of disk space for a track this long right now; try again later or send a shorter one.');
    const spoolPath = path.join(dir, 'refused-growth.f32');
    let refusedAt = 0;
    const error = await followDecode(trickle(song, 2), spoolPath, {
      beforeGrowth: async (samples) => {
        if (samples <= 2 * 44100) return;
        refusedAt = samples;
        throw refusal;
      },
    }).catch((e: unknown) => e);
    expect(error).toBe(refusal);
    expect(await childProcesses('ffmpeg')).toEqual([]);
    // ffmpeg is killed as soon as the check refuses: the file ends about where it was refused, not at the song's end.
    const frames = (await stat(spoolPath)).size / 8;
    expect(frames).toBeGreaterThanOrEqual(refusedAt);
    expect(frames - refusedAt).toBeLessThan(44100);
  });

  it('decodes only a second past maxSeconds', async () => {
    const spool = await followDecode(song, path.join(dir, 'capped.f32'), { maxSeconds: 2 });
    await spool.close();
    expect(Math.abs(spool.length - 3 * 44100)).toBeLessThan(2048);
  });
});
