/**
 * `npm run bench`: the separation path against its floor, measured in the same run.
 *
 * - ours: `stembot separate` (the compiled CLI) on a synthetic 4-minute stereo track with a test
 *   model shaped like htdemucs (segment 343980, 4 sources), default settings (shifts 1, wav out);
 * - floor: plain ffmpeg decoding the same track and encoding the same number of stems;
 * - ratio ours/floor, excluding model inference (goal <= 1.3);
 * - peak RSS of a 60-minute track over the 4-minute one (goal <= 1.5).
 *
 * `npm run bench -- --quick` skips the 60-minute track (minutes instead of seconds of work).
 */
import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { HTDEMUCS_SEGMENT } from '../../worker/engine/registry.js';
import { writeModel } from '../support/onnx-models.js';

const exec = promisify(execFile);
const CLI = fileURLToPath(new URL('../../dist/stembot.js', import.meta.url));
const STEMS = 4;

interface CliSummary {
  tracks: { durationSeconds: number; timings: { decodeMs: number; inferenceMs: number; overlapAddMs: number; stftMs: number; encodeMs: number; totalMs: number } }[];
  peakRssBytes: number;
}

async function makeTrack(dir: string, minutes: number): Promise<string> {
  const file = path.join(dir, `track-${minutes}min.flac`);
  // A chord plus noise: broadband like music, cheap to generate, losslessly stored.
  const source = `aevalsrc=0.2*sin(2*PI*220*t)+0.15*sin(2*PI*277*t)+0.1*sin(2*PI*330*t)+0.05*(random(0)-0.5)|0.2*sin(2*PI*221*t)+0.1*sin(2*PI*440*t)+0.05*(random(1)-0.5):s=44100:d=${minutes * 60}`;
  await exec('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', source, '-c:a', 'flac', file]);
  return file;
}

async function runOurs(dir: string, model: string, track: string): Promise<{ wallMs: number; summary: CliSummary }> {
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, 'separate', '--model-file', model, '-o', path.join(dir, 'out'), '--json', track], {
    env: { ...process.env, ONNX_DEVICE: 'cpu', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`stembot separate exited ${code}`);
  return { wallMs: performance.now() - started, summary: JSON.parse(stdout) as CliSummary };
}

async function runFloor(dir: string, track: string): Promise<number> {
  const labels = Array.from({ length: STEMS }, (_, i) => `s${i}`);
  const outputs = labels.flatMap((label) => ['-map', `[${label}]`, '-c:a', 'pcm_s16le', path.join(dir, `floor-${label}.wav`)]);
  const started = performance.now();
  await exec('ffmpeg', ['-v', 'error', '-y', '-i', track, '-filter_complex', `[0:a]asplit=${STEMS}${labels.map((l) => `[${l}]`).join('')}`, ...outputs]);
  return performance.now() - started;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'stembot-bench-'));
  try {
    const model = path.join(dir, 'bench.onnx');
    await copyFile(await writeModel({ contract: 'waveform', kind: 'fractions', segment: HTDEMUCS_SEGMENT }), model);
    const quick = process.argv.includes('--quick');
    console.log(`generating a 4-minute${quick ? '' : ' and a 60-minute'} synthetic track ...`);
    const short = await makeTrack(dir, 4);
    const long = quick ? undefined : await makeTrack(dir, 60);

    const floorMs = await runFloor(dir, short);
    const ours = await runOurs(dir, model, short);
    const t = ours.summary.tracks[0]!.timings;
    const audioSeconds = ours.summary.tracks[0]!.durationSeconds;
    const withoutInference = t.totalMs - t.inferenceMs;
    console.log('\n4-minute track, stembot separate (test model, shifts 1, 16-bit wav):');
    console.log(`  decode            ${seconds(t.decodeMs)}`);
    console.log(`  inference         ${seconds(t.inferenceMs)}`);
    console.log(`  overlap-add/STFT  ${seconds(t.overlapAddMs + t.stftMs)}`);
    console.log(`  encode            ${seconds(t.encodeMs)}`);
    console.log(`  total             ${seconds(t.totalMs)} (process wall ${seconds(ours.wallMs)})`);
    console.log(`  real-time factor  ${(t.totalMs / 1000 / audioSeconds).toFixed(4)} (processing time / audio time)`);
    console.log(`  peak RSS          ${mib(ours.summary.peakRssBytes)}`);
    console.log(`floor, plain ffmpeg decode + ${STEMS} stem encodes: ${seconds(floorMs)}`);
    console.log(`ratio ours/floor excluding inference: ${(withoutInference / floorMs).toFixed(2)} (goal <= 1.3)`);

    if (!long) return;
    await rm(path.join(dir, 'out'), { recursive: true, force: true });
    const longRun = await runOurs(dir, model, long);
    console.log(`\n60-minute track: total ${seconds(longRun.summary.tracks[0]!.timings.totalMs)}, peak RSS ${mib(longRun.summary.peakRssBytes)}`);
    console.log(`peak RSS ratio 60 min / 4 min: ${(longRun.summary.peakRssBytes / ours.summary.peakRssBytes).toFixed(2)} (goal <= 1.5)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
