import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect, it } from 'vitest';
import { separate } from '../../../worker/engine/apply.js';
import { loadTestModel } from '../../support/engine-harness.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const liveBytes = (): number => {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

const LENGTH = 3_000_000; // samples per channel: 24 MB of float32 stereo in, 96 MB of stems out
const BLOCK = 4410;

async function* synthetic(): AsyncGenerator<Float32Array> {
  for (let at = 0; at < LENGTH; at += BLOCK) {
    const n = Math.min(BLOCK, LENGTH - at);
    yield Float32Array.from({ length: 2 * n }, (_, i) => 0.5 * Math.sin((at + (i >> 1)) * 0.01 * ((i % 2) + 1)));
  }
}

it('keeps memory bounded on a long track (shifts, rescale spools, dynamic batch)', async () => {
  const model = await loadTestModel({ contract: 'waveform', kind: 'ramp', segment: 4096, batch: 'batch', metadata: { 'stembot.sample_rate': '8000' } });
  const tempDir = await mkdtemp(join(tmpdir(), 'stembot-memory-'));
  const baseline = liveBytes();
  const samples: Array<{ fraction: number; bytes: number }> = [];
  let fraction = 0;
  let written = 0;
  let writes = 0;
  const result = await separate(synthetic(), {
    model,
    shifts: 2,
    seed: 3,
    batchSize: 4,
    clip: 'rescale',
    tempDir,
    openStem: () => {
      // A stem that needs a gain is written again by a fresh writer: only the ended ones count.
      let frames = 0;
      return {
        write: (planar: Float32Array[]) => {
          frames += (planar[0] as Float32Array).length;
          if (writes++ % 40 === 0) samples.push({ fraction: 1, bytes: liveBytes() - baseline }); // writing the stems
        },
        end: () => void (written += frames),
        abort: () => undefined,
      };
    },
    onProgress: (p) => {
      if (p.stage !== 'separate' || Math.floor(p.fraction * 50) === Math.floor(fraction * 50)) return;
      fraction = p.fraction; // sampled every 2 % of the chunks
      samples.push({ fraction, bytes: liveBytes() - baseline });
    },
  });
  expect(result.length).toBe(LENGTH);
  expect(written).toBe(4 * LENGTH);
  // Live memory must not grow with the part of the track done: holding the track (24 MB) or the
  // stems (96 MB) would add about 20 MB between the first quarter and the rest.
  // Medians, because in-flight file writes make single samples spike by a few MB.
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const early = median(samples.filter((s) => s.fraction <= 0.25).map((s) => s.bytes));
  const late = median(samples.filter((s) => s.fraction > 0.5).map((s) => s.bytes));
  expect(samples.length).toBeGreaterThan(20);
  expect(late - early).toBeLessThan(4 * 2 ** 20);
  expect(Math.max(...samples.map((s) => s.bytes))).toBeLessThan(32 * 2 ** 20);
});
