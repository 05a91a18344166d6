import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { locateFfmpeg, type FfmpegTools } from '../../../worker/audio/ffmpeg.js';

const exec = promisify(execFile);

export function findTools(): Promise<FfmpegTools> {
  return locateFfmpeg({ searchPath: process.env.PATH });
}

export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `stembot-${prefix}-`));
}

/** A sine made by ffmpeg itself, so every codec under test is produced by the tool that decodes it. */
export async function makeSine(
  ffmpeg: string,
  file: string,
  opts: { seconds: number; rate: number; channels: 1 | 2; codecArgs: string[]; frequency?: number; amplitude?: number },
): Promise<void> {
  const amplitude = opts.amplitude ?? 0.5;
  const expr = `${amplitude}*sin(2*PI*${opts.frequency ?? 440}*t)`;
  const layout = opts.channels === 1 ? 'mono' : 'stereo';
  await exec(ffmpeg, [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `aevalsrc=${expr}|${expr}:s=${opts.rate}:d=${opts.seconds}`,
    '-ac', String(opts.channels), '-channel_layout', layout,
    ...opts.codecArgs, file,
  ]);
}

export async function ffprobeJson(ffprobe: string, file: string): Promise<{ streams: Record<string, unknown>[]; format: Record<string, unknown> }> {
  const { stdout } = await exec(ffprobe, ['-v', 'error', '-print_format', 'json', '-show_streams', '-show_format', file]);
  return JSON.parse(stdout) as { streams: Record<string, unknown>[]; format: Record<string, unknown> };
}

/** Raw samples of a file, as ffmpeg decodes them, with no conversion beyond the container. */
export async function rawSamples(ffmpeg: string, file: string, format: 's16le' | 's32le' | 'f32le'): Promise<Buffer> {
  const { stdout } = await exec(ffmpeg, ['-v', 'error', '-i', file, '-f', format, 'pipe:1'], { encoding: 'buffer', maxBuffer: 64 << 20 });
  return stdout;
}

export function rms(samples: Float32Array): number {
  let sum = 0;
  for (const s of samples) sum += s * s;
  return Math.sqrt(sum / samples.length);
}
