import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fractionsModel, rampModel, separateReference, splitModel, type Wave } from '../../support/demucs-reference.js';
import { testTrack } from '../../support/engine-harness.js';
import { CUMSUM_GAIN, FREQ_FRACTIONS, TIME_FRACTIONS, writeModel } from '../../support/onnx-models.js';
import { runStembot } from '../../support/cli.js';
import { makeTempDir } from '../../support/services.js';
import { ffprobeJson, findTools, rawSamples } from '../audio/fixtures.js';

const exec = promisify(execFile);
const RATE = 44100;
const SOURCES = ['drums', 'bass', 'other', 'vocals'];
const TOLERANCE = 1e-5;

let ffmpeg: string;
let ffprobe: string;
let work: { dir: string; remove(): Promise<void> };

beforeAll(async () => {
  ({ ffmpeg, ffprobe } = await findTools());
  work = await makeTempDir('stembot-separate-cli-');
});
afterAll(async () => work.remove());

/** Writes `wav` as a 32-bit float WAV, so decoding gives back exactly these samples. */
async function writeFloatWav(wav: Wave, file: string): Promise<void> {
  const n = (wav[0] as number[]).length;
  const interleaved = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    interleaved[2 * i] = wav[0]![i] as number;
    interleaved[2 * i + 1] = wav[1]![i] as number;
  }
  const raw = `${file}.raw`;
  await writeFile(raw, Buffer.from(interleaved.buffer));
  await exec(ffmpeg, ['-v', 'error', '-y', '-f', 'f32le', '-ar', String(RATE), '-ac', '2', '-i', raw, '-c:a', 'pcm_f32le', file]);
}

async function readStem(file: string): Promise<number[][]> {
  const bytes = await rawSamples(ffmpeg, file, 'f32le');
  const samples = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  return [0, 1].map((c) => Array.from(samples.filter((_, i) => i % 2 === c)));
}

/** demucs' default `--clip-mode rescale`, applied to the expected stem. */
function rescaled(stem: number[][]): number[][] {
  const peak = Math.max(...stem.flatMap((ch) => ch.map(Math.abs)));
  const gain = 1 / Math.max(1.01 * peak, 1);
  return stem.map((ch) => ch.map((v) => Math.fround(v * gain)));
}

function relativeError(actual: number[][], expected: number[][]): number {
  expect(actual.map((ch) => ch.length)).toEqual(expected.map((ch) => ch.length));
  let diff = 0;
  let scale = 0;
  expected.forEach((ch, c) =>
    ch.forEach((v, i) => {
      diff = Math.max(diff, Math.abs((actual[c]![i] as number) - v));
      scale = Math.max(scale, Math.abs(v));
    }),
  );
  return diff / scale;
}

async function separateCli(args: string[], env: Record<string, string> = {}) {
  const run = runStembot(['separate', ...args], { cwd: work.dir, env: { MODELS_DIR: path.join(work.dir, 'models'), ONNX_DEVICE: 'cpu', LOG_LEVEL: 'warn', ...env } });
  const exit = await run.exited;
  return { code: exit.code, stdout: run.stdout(), stderr: run.stderr() };
}

describe('stembot separate, waveform contract', () => {
  const S = 4096;
  let model: string;
  let wav: Wave;
  beforeAll(async () => {
    model = path.join(work.dir, 'm.onnx');
    await copyFile(await writeModel({ contract: 'waveform', kind: 'ramp', segment: S }), model);
    wav = testTrack(3 * S + 777, 5, 0.1);
    await writeFloatWav(wav, path.join(work.dir, 'track.wav'));
  });

  it('writes out/m/track/{drums,bass,other,vocals}.wav as float WAV equal to the demucs semantics', async () => {
    const result = await separateCli(['--model-file', model, '-o', 'out', '--float32', '--shifts', '0', 'track.wav']);
    expect(result.code, result.stderr).toBe(0);
    const expected = separateReference(wav, rampModel(4, CUMSUM_GAIN), { segment: S, overlap: 0.25, sampleRate: RATE, shiftOffsets: [], sources: 4 });
    for (const [k, stem] of SOURCES.entries()) {
      const file = path.join(work.dir, 'out', 'm', 'track', `${stem}.wav`);
      const probe = await ffprobeJson(ffprobe, file);
      expect(probe.streams[0]).toMatchObject({ codec_name: 'pcm_f32le', sample_rate: '44100', channels: 2 });
      expect(relativeError(await readStem(file), rescaled(expected[k]!))).toBeLessThan(TOLERANCE);
    }
  });

  it('rescales from stem spools kept in TEMP_DIR by an earlier run, whatever they held, and keeps them again', async () => {
    const temp = path.join(work.dir, 'kept-temp');
    const kept = path.join(temp, 'spool-files');
    await mkdir(kept, { recursive: true });
    // Left by a longer track: 20 MiB each, starting with samples this track's stems never have.
    for (const i of SOURCES.keys()) {
      await writeFile(path.join(kept, `earlier-${i}.f32`), Buffer.from(new Float32Array(2 ** 20).fill(1e30).buffer));
      await truncate(path.join(kept, `earlier-${i}.f32`), 20 * 2 ** 20);
    }
    const result = await separateCli(['--model-file', model, '-o', 'kept', '--float32', '--shifts', '0', 'track.wav'], { TEMP_DIR: temp });
    expect(result.code, result.stderr).toBe(0);
    const expected = separateReference(wav, rampModel(4, CUMSUM_GAIN), { segment: S, overlap: 0.25, sampleRate: RATE, shiftOffsets: [], sources: 4 });
    for (const [k, stem] of SOURCES.entries()) {
      expect(relativeError(await readStem(path.join(work.dir, 'kept', 'm', 'track', `${stem}.wav`)), rescaled(expected[k]!))).toBeLessThan(TOLERANCE);
    }
    expect(await readdir(kept)).toHaveLength(SOURCES.length);
    expect((await readdir(kept)).filter((name) => name.startsWith('earlier-'))).toEqual([]);
  });

  it('--two-stems vocals writes vocals.wav and no_vocals.wav, the sum of the others', async () => {
    const result = await separateCli(['--model-file', model, '-o', 'two', '--float32', '--shifts', '0', '--two-stems', 'vocals', 'track.wav']);
    expect(result.code, result.stderr).toBe(0);
    expect((await readdir(path.join(work.dir, 'two', 'm', 'track'))).sort()).toEqual(['no_vocals.wav', 'vocals.wav']);
    const expected = separateReference(wav, rampModel(4, CUMSUM_GAIN), { segment: S, overlap: 0.25, sampleRate: RATE, shiftOffsets: [], sources: 4 });
    const rest = [0, 1].map((c) => expected[0]![c]!.map((_, i) => [0, 1, 2].reduce((sum, k) => sum + (expected[k]![c]![i] as number), 0)));
    expect(relativeError(await readStem(path.join(work.dir, 'two', 'm', 'track', 'vocals.wav')), rescaled(expected[3]!))).toBeLessThan(TOLERANCE);
    expect(relativeError(await readStem(path.join(work.dir, 'two', 'm', 'track', 'no_vocals.wav')), rescaled(rest))).toBeLessThan(TOLERANCE);
  });

  it('encodes mp3, flac 24-bit and 16-bit wav from mp3 and flac input, with the demucs layout and --json', async () => {
    await exec(ffmpeg, ['-v', 'error', '-y', '-i', path.join(work.dir, 'track.wav'), '-c:a', 'libmp3lame', '-b:a', '192k', path.join(work.dir, 'song.mp3')]);
    await exec(ffmpeg, ['-v', 'error', '-y', '-i', path.join(work.dir, 'track.wav'), '-c:a', 'flac', path.join(work.dir, 'other take.flac')]);
    const cases: [string[], string, Record<string, unknown>][] = [
      [['--mp3', '--mp3-bitrate', '256'], 'mp3', { codec_name: 'mp3', sample_rate: '44100', channels: 2 }],
      [['--flac', '--int24'], 'flac', { codec_name: 'flac', bits_per_raw_sample: '24' }],
      [[], 'wav', { codec_name: 'pcm_s16le' }],
    ];
    for (const [flags, ext, expected] of cases) {
      const result = await separateCli(['--model-file', model, '-o', `fmt-${ext}`, '--json', ...flags, 'song.mp3', 'other take.flac']);
      expect(result.code, result.stderr).toBe(0);
      const summary = JSON.parse(result.stdout) as { model: string; tracks: { track: string; stems: Record<string, string> }[] };
      expect(summary.model).toBe('m');
      expect(summary.tracks.map((t) => t.track)).toEqual(['song.mp3', 'other take.flac']);
      for (const track of ['song', 'other take']) {
        for (const stem of SOURCES) {
          const file = path.join(work.dir, `fmt-${ext}`, 'm', track, `${stem}.${ext}`);
          expect((await ffprobeJson(ffprobe, file)).streams[0]).toMatchObject(expected);
        }
      }
    }
  });
});

describe('stembot separate, split contract', () => {
  it('writes stems equal to the demucs semantics with the host STFT', async () => {
    const S = 8192;
    const model = path.join(work.dir, 'splitm.onnx');
    await copyFile(await writeModel({ contract: 'split', kind: 'fractions', segment: S }), model);
    const wav = testTrack(2 * S + 1234, 11, -0.05);
    await writeFloatWav(wav, path.join(work.dir, 'split.wav'));
    const result = await separateCli(['--model-file', model, '-o', 'out', '--float32', '--shifts', '0', 'split.wav']);
    expect(result.code, result.stderr).toBe(0);
    const reference = splitModel(fractionsModel(TIME_FRACTIONS), 4, (k) => FREQ_FRACTIONS[k]!);
    const expected = separateReference(wav, reference, { segment: S, overlap: 0.25, sampleRate: RATE, shiftOffsets: [], sources: 4 });
    for (const [k, stem] of SOURCES.entries()) {
      expect(relativeError(await readStem(path.join(work.dir, 'out', 'splitm', 'split', `${stem}.wav`)), rescaled(expected[k]!))).toBeLessThan(TOLERANCE);
    }
  });
});

describe('stembot separate, bad input', () => {
  let model: string;
  beforeAll(async () => {
    model = path.join(work.dir, 'good.onnx');
    await copyFile(await writeModel({ contract: 'waveform', kind: 'fractions', segment: 4096 }), model);
    await writeFloatWav(testTrack(5000, 3), path.join(work.dir, 'fine.wav'));
  });

  const noStack = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at /);

  it('a model that is not downloaded names the command that fetches it', async () => {
    const result = await separateCli(['-n', 'htdemucs', 'fine.wav']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('stembot models fetch htdemucs');
    noStack(result.stderr);
  });

  it('a corrupt model file', async () => {
    await writeFile(path.join(work.dir, 'corrupt.onnx'), 'this is not a model');
    const result = await separateCli(['--model-file', 'corrupt.onnx', 'fine.wav']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^stembot: .*corrupt\.onnx.*(not a|readable|valid) .*ONNX/im);
    noStack(result.stderr);
  });

  it('a model with the wrong shapes', async () => {
    const wrong = path.join(work.dir, 'wrong.onnx');
    await copyFile(await writeModel({ contract: 'waveform', kind: 'fractions', segment: 4096, inputShapes: [[1, 3, 4096]] }), wrong);
    const result = await separateCli(['--model-file', wrong, 'fine.wav']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^stembot: This model does not look like a Demucs ONNX export .*got inputs mix \[1, 3, 4096\]/m);
    expect(result.stderr.split('\n').filter((line) => line.trim() !== '')).toHaveLength(1);
    noStack(result.stderr);
  });

  it('a file that is not audio, and a zero-length file, fail alone while good tracks still separate', async () => {
    await writeFile(path.join(work.dir, 'notes.txt'), 'not audio at all\n'.repeat(100));
    await writeFile(path.join(work.dir, 'empty.wav'), '');
    const result = await separateCli(['--model-file', model, '-o', 'mixed', 'notes.txt', 'empty.wav', 'fine.wav']);
    expect(result.code).toBe(1);
    const lines = result.stderr.split('\n').filter((line) => line.startsWith('stembot:'));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^stembot: notes\.txt: /);
    expect(lines[1]).toMatch(/^stembot: empty\.wav: .*empty/i);
    expect(existsSync(path.join(work.dir, 'mixed', 'good', 'fine', 'vocals.wav'))).toBe(true);
    noStack(result.stderr);
  });

  it('an output folder that cannot be written', async () => {
    const locked = path.join(work.dir, 'locked');
    await mkdir(locked);
    await chmod(locked, 0o500);
    // root ignores permission bits; a file where the folder should be fails for everyone.
    await writeFile(path.join(work.dir, 'blocked'), 'a file, not a folder');
    const result = await separateCli(['--model-file', model, '-o', process.getuid?.() === 0 ? 'blocked' : 'locked', 'fine.wav']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^stembot: .*(output folder|cannot be written|Cannot create)/im);
    noStack(result.stderr);
  });

  it('a disk without room for the track beside DISK_MIN_FREE_MB: refused for the length the file states, before anything is written, naming the folders', async () => {
    await exec(ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=10', '-ac', '2', '-ar', String(RATE), path.join(work.dir, 'ten.wav')]);
    const temp = path.join(work.dir, 'cli-temp');
    // 10^12 MB is more than any disk holds, so no track can leave that much free.
    const run = runStembot(['separate', '--model-file', model, '-o', 'roomless', 'ten.wav'], {
      cwd: work.dir,
      env: { MODELS_DIR: path.join(work.dir, 'models'), ONNX_DEVICE: 'cpu', LOG_LEVEL: 'warn', TEMP_DIR: temp, DISK_MIN_FREE_MB: '1000000000000' },
    });
    expect((await run.exited).code).toBe(1);
    const stderr = run.stderr().split('\n').filter((line) => line.startsWith('stembot:'));
    expect(stderr).toHaveLength(1);
    expect(stderr[0]).toMatch(new RegExp(`^stembot: ten\\.wav: Not enough disk space in ${temp}/[^ ]+ and ${path.join(work.dir, 'roomless', 'good', 'ten')}: this track needs about \\d+ MB there`));
    // Checked for the 10 s ffprobe reads from the file, before the decoder's first block.
    const warnings = run.stdout().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { msg: string; frames: number });
    expect(warnings.map((line) => [line.msg, line.frames])).toEqual([['not enough disk space for the track', 10 * RATE]]);
    expect(await readdir(path.join(work.dir, 'roomless', 'good'))).toEqual([]);
    // The run's own temp folder went with it.
    expect(await readdir(temp)).toEqual([]);
  });
});

describe('stembot separate, names are never paths', () => {
  beforeAll(async () => {
    await writeFloatWav(testTrack(5000, 3), path.join(work.dir, 'named.wav'));
  });

  /** Every file under `dir`, relative to it. */
  const filesUnder = async (dir: string) => (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));

  it('a model whose stembot.sources names a path is refused with a clear message, and nothing is written outside -o', async () => {
    const evil = path.join(work.dir, 'evil.onnx');
    await copyFile(await writeModel({ contract: 'waveform', kind: 'fractions', segment: 4096, metadata: { 'stembot.sources': '../../../tmp/x,bass,other,vocals' } }), evil);
    const result = await separateCli(['--model-file', evil, '-o', 'evil-out', 'named.wav']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^stembot: The model .*evil\.onnx names a source "\.\.\/\.\.\/\.\.\/tmp\/x": source names become file names, so they may hold letters, digits/m);
    // evil-out/evil/named/../../../tmp/x.wav is where the stem would have gone.
    expect(existsSync(path.join(work.dir, 'tmp'))).toBe(false);
  });

  it("--filename '../../{stem}.{ext}' is refused before anything is written, naming the output folder", async () => {
    await mkdir(path.join(work.dir, 'nest'));
    const result = await separateCli(['--model-file', await writeModel({ contract: 'waveform', kind: 'fractions', segment: 4096 }, 'plain.onnx'), '-o', 'nest/out', '--filename', '../../{stem}.{ext}', 'named.wav']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`stembot: --filename "../../{stem}.{ext}" puts the drums stem at ${path.join(work.dir, 'nest', 'drums.wav')}, outside the output folder ${path.join(work.dir, 'nest', 'out', 'plain')}`);
    expect(await filesUnder(path.join(work.dir, 'nest'))).toEqual([]);
  });
});
