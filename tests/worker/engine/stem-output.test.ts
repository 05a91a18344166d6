import { mkdtemp, readdir, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpoolFiles } from '../../../worker/engine/spool-files.js';
import { StemOutput } from '../../../worker/engine/stem-output.js';
import { MemoryWriter } from '../../support/engine-harness.js';

const block = (level: number, n = 1000): Float32Array[] => [0, 1].map((c) => Float32Array.from({ length: n }, (_, i) => level * Math.sin(i * 0.01 + c)));

async function writeStems(clip: 'rescale' | 'clamp' | 'none', levels: number[], spoolFiles?: SpoolFiles) {
  const opened: Array<{ name: string; writer: MemoryWriter }> = [];
  const output = await StemOutput.open(['quiet', 'loud'], clip, (name) => {
    const writer = new MemoryWriter();
    opened.push({ name, writer });
    return writer;
  }, await mkdtemp(join(tmpdir(), 'stembot-stem-output-')), spoolFiles);
  for (let i = 0; i < 3; i++) await output.write(levels.map((level) => block(level)));
  const summary = await output.finish();
  return { opened, summary };
}

describe('StemOutput', () => {
  it('rescale: a stem that stays under full scale is written once at gain 1; only one that clipped is written again with its gain', async () => {
    const { opened, summary } = await writeStems('rescale', [0.5, 1.5]);
    expect(opened.map((o) => o.name)).toEqual(['quiet', 'loud', 'loud']);
    const [quiet, firstLoud, loud] = opened.map((o) => o.writer);
    expect(quiet!.aborted).toBe(false);
    expect(quiet!.ended).toBe(true);
    expect(firstLoud!.aborted).toBe(true);
    expect(firstLoud!.ended).toBe(false);
    expect(loud!.ended).toBe(true);
    const peak = Math.max(...block(1.5).flatMap((c) => Array.from(c, Math.abs)));
    expect(summary.map((s) => s.gain)).toEqual([1, 1 / (1.01 * peak)]);
    const expected = [0, 1].map((c) => Array.from({ length: 3 }, () => Array.from(block(1.5)[c]!, (v) => v * (1 / (1.01 * peak)))).flat());
    loud!.channels.forEach((ch, c) => ch.forEach((v, i) => expect(v).toBeCloseTo(expected[c]![i]!, 6)));
    expect(quiet!.channels[0]!.slice(0, 1000)).toEqual(Array.from(block(0.5)[0]!));
  });

  it('rescale over kept spool files: a file longer than the stem, full of other bytes, replays only what this stem wrote', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'stembot-stem-output-kept-')), 'kept');
    const spoolFiles = new SpoolFiles({ dir });
    // Two kept files from an earlier, longer separation: 20 MiB, starting with 1e30 where this one writes 24 kB per stem.
    const junk = Buffer.from(new Float32Array(2 ** 18).fill(1e30).buffer);
    const seeded = await mkdtemp(join(tmpdir(), 'stembot-stem-output-seed-'));
    for (const name of ['a', 'b']) {
      await writeFile(join(seeded, name), junk);
      await truncate(join(seeded, name), 20 * 2 ** 20);
      await spoolFiles.giveBack(join(seeded, name));
    }
    expect(await readdir(dir)).toHaveLength(2);
    const { opened, summary } = await writeStems('rescale', [0.5, 1.5], spoolFiles);
    const peak = Math.max(...block(1.5).flatMap((c) => Array.from(c, Math.abs)));
    expect(summary.map((s) => s.gain)).toEqual([1, 1 / (1.01 * peak)]);
    const loud = opened[2]!.writer;
    const expected = [0, 1].map((c) => Array.from({ length: 3 }, () => Array.from(block(1.5)[c]!, (v) => v * (1 / (1.01 * peak)))).flat());
    expect(loud.channels[0]).toHaveLength(expected[0]!.length);
    loud.channels.forEach((ch, c) => ch.forEach((v, i) => expect(v).toBeCloseTo(expected[c]![i]!, 6)));
    // Both files went back for the next separation.
    expect(await readdir(dir)).toHaveLength(2);
  });

  it('clamp limits samples to 0.99 without writing anything twice; none leaves them', async () => {
    const clamped = await writeStems('clamp', [0.5, 1.5]);
    expect(clamped.opened).toHaveLength(2);
    expect(Math.max(...clamped.opened[1]!.writer.channels.flat())).toBeCloseTo(0.99, 6);
    const plain = await writeStems('none', [0.5, 1.5]);
    expect(plain.opened).toHaveLength(2);
    expect(Math.max(...plain.opened[1]!.writer.channels.flat())).toBeGreaterThan(1.4);
  });
});
