import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../core/logging.js';
import { separate, type SeparateOptions, type SeparationResult } from '../../worker/engine/apply.js';
import { loadModel, type LoadedModel } from '../../worker/engine/model.js';
import type { StemWriter } from '../../worker/engine/stem-output.js';
import { writeModel, type TestModelSpec } from './onnx-models.js';
import type { Wave } from './demucs-reference.js';

export const silentLog = createLogger({ level: 'silent' });

export async function loadTestModel(spec: TestModelSpec): Promise<LoadedModel> {
  return loadModel(await writeModel(spec), { device: 'cpu', intraOpThreads: 1 }, silentLog);
}

/** A deterministic stereo test signal with an optional DC offset, as number arrays. */
export function testTrack(length: number, seed: number, dc = 0): Wave {
  let s = seed;
  const rand = (): number => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31 - 0.5;
  };
  return [0, 1].map((c) => Array.from({ length }, (_, i) => dc + 0.3 * Math.sin(i * 0.013 * (c + 1)) + 0.2 * rand()));
}

/** Feeds `wav` in uneven interleaved blocks, as the decoder would. */
export async function* blocks(wav: Wave, size = 3001): AsyncGenerator<Float32Array> {
  const [left, right] = wav as [number[], number[]];
  for (let at = 0; at < left.length; at += size) {
    const n = Math.min(size, left.length - at);
    yield Float32Array.from({ length: 2 * n }, (_, i) => ((i % 2 === 0 ? left : right)[at + (i >> 1)] as number));
  }
}

/** Collects each stem's blocks in memory (tests only; real writers encode). */
export class MemoryWriter implements StemWriter {
  readonly chunks: Float32Array[][] = [];
  ended = false;
  aborted = false;
  write(planar: Float32Array[]): void {
    this.chunks.push(planar.map((c) => c.slice()));
  }
  end(): void {
    this.ended = true;
  }
  abort(): void {
    this.aborted = true;
  }
  get channels(): number[][] {
    return [0, 1].map((c) => this.chunks.flatMap((b) => Array.from(b[c] as Float32Array)));
  }
}

export async function runSeparation(
  wav: Wave,
  options: Omit<SeparateOptions, 'openStem' | 'tempDir'>,
  /** Where each stem's writer goes, by name; pass one to watch the stems while they are written. */
  stems = new Map<string, MemoryWriter>(),
): Promise<{ result: SeparationResult; stems: Map<string, MemoryWriter> }> {
  const tempDir = await mkdtemp(join(tmpdir(), 'stembot-sep-test-'));
  const result = await separate(blocks(wav), {
    clip: 'none',
    ...options,
    tempDir,
    openStem: (name) => {
      const w = new MemoryWriter();
      stems.set(name, w);
      return w;
    },
  });
  return { result, stems };
}

/** Largest |a - b| relative to the largest |b|. */
export function relativeError(actual: number[][], expected: number[][]): number {
  let diff = 0;
  let scale = 0;
  expected.forEach((ch, c) =>
    ch.forEach((v, i) => {
      diff = Math.max(diff, Math.abs((actual[c]?.[i] ?? Number.NaN) - v));
      scale = Math.max(scale, Math.abs(v));
    }),
  );
  if (actual.some((ch, c) => ch.length !== expected[c]?.length)) return Number.POSITIVE_INFINITY;
  return Number.isNaN(diff) ? Number.POSITIVE_INFINITY : diff / scale;
}
