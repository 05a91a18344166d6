import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { UserError } from '../../../core/errors.js';
import { packSamples } from '../../../worker/audio/pcm.js';
import { openWavEncoder } from '../../../worker/audio/wav-encoder.js';
import type * as wavHeaderModule from '../../../worker/audio/wav-header.js';
import { wavHeaderBytes } from '../../../worker/audio/wav-header.js';
import { tempDir } from './fixtures.js';

let dir: string;

beforeAll(async () => {
  dir = await tempDir('wav-encoder');
});

afterEach(() => {
  vi.doUnmock('../../../worker/audio/wav-header.js');
  vi.resetModules();
});

describe('openWavEncoder', () => {
  it('keeps every block in order while the caller refills the same arrays and writes run ahead of the disk', async () => {
    const file = path.join(dir, 'reused.wav');
    const encoder = await openWavEncoder({ outputPath: file, sampleRate: 44100, bitDepth: 32 });
    const planar = [new Float32Array(65536), new Float32Array(65536)];
    const expected: Buffer[] = [];
    // 40 blocks of 512 KB: several times the backlog, so spare buffers are reused and writes wait.
    for (let block = 0; block < 40; block++) {
      for (let i = 0; i < 65536; i++) {
        planar[0]![i] = block + i / 65536;
        planar[1]![i] = -block - i / 65536;
      }
      expected.push(Buffer.from(packSamples(planar, 'f32')));
      await encoder.write(planar);
    }
    await encoder.end();
    const bytes = await readFile(file);
    expect(bytes.subarray(wavHeaderBytes({ sampleRate: 44100, bitDepth: 32 })).equals(Buffer.concat(expected))).toBe(true);
  });

  it('removes the partial file when its signal aborts, without an abort() call', async () => {
    const out = path.join(dir, 'signalled');
    await mkdir(out);
    const controller = new AbortController();
    const encoder = await openWavEncoder({ outputPath: path.join(out, 'drums.wav'), sampleRate: 44100, bitDepth: 16, signal: controller.signal });
    await encoder.write([new Float32Array(44100), new Float32Array(44100)]);
    controller.abort(new Error('job cancelled'));
    await expect.poll(() => readdir(out)).toEqual([]);
    await expect(encoder.end()).rejects.toThrow('job cancelled');
  });

  it('refuses a stem past the RIFF size limit instead of writing a wrong header', async () => {
    // The real limit is 4 GiB; a smaller one shows the encoder's handling of it.
    vi.doMock('../../../worker/audio/wav-header.js', async (importOriginal) => ({
      ...(await importOriginal<typeof wavHeaderModule>()),
      maxWavDataBytes: () => 4 * 1000,
    }));
    const { openWavEncoder: openLimited } = await import('../../../worker/audio/wav-encoder.js');
    const out = path.join(dir, 'too-long');
    await mkdir(out);
    const encoder = await openLimited({ outputPath: path.join(out, 'vocals.wav'), sampleRate: 44100, bitDepth: 16 });
    await encoder.write([new Float32Array(600), new Float32Array(600)]);
    await encoder.write([new Float32Array(400), new Float32Array(400)]);
    const error = await encoder.write([new Float32Array(1), new Float32Array(1)]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'track_too_long' });
    expect((error as Error).name).toBe('UserError');
    expect(await readdir(out)).toEqual([]);
  });

  it('maps only disk and permission errors to output_unwritable', async () => {
    // A folder where the partial file would go: EISDIR is stembot's problem to report, not the disk's.
    const out = path.join(dir, 'blocked');
    await mkdir(path.join(out, 'vocals.wav.part'), { recursive: true });
    const error = await openWavEncoder({ outputPath: path.join(out, 'vocals.wav'), sampleRate: 44100, bitDepth: 16 }).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(UserError);
    expect(error).toMatchObject({ code: 'EISDIR' });
  });
});
