import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../../core/errors.js';
import { decodeAudio, type PlanarBlock } from '../../../worker/audio/decode.js';
import type { FfmpegTools } from '../../../worker/audio/ffmpeg.js';
import { probeAudio } from '../../../worker/audio/probe.js';
import { findTools, makeSine, rms, tempDir } from './fixtures.js';

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
