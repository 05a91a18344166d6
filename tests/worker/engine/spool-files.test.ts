import { mkdir, open, readdir, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpoolFiles } from '../../../worker/engine/spool-files.js';
import { makeTempDir } from '../../support/services.js';

const MiB = 2 ** 20;

let work: { dir: string; remove(): Promise<void> };
let case_ = 0;
beforeAll(async () => {
  work = await makeTempDir('stembot-spool-files-');
});
afterAll(async () => {
  await work.remove();
});

/** A pool in a folder of its own, and a folder beside it for the spools (one filesystem). */
async function pool(options: { keepBytes?: number; reserveBytes?: number } = {}): Promise<{ files: SpoolFiles; dir: string; spools: string }> {
  const root = path.join(work.dir, `case-${++case_}`);
  await mkdir(root);
  const dir = path.join(root, 'kept');
  return { files: new SpoolFiles({ dir, ...options }), dir, spools: root };
}

/** Gives back a spool of `bytes` made outside the pool (sparse: nothing is written). */
async function givenBack(files: SpoolFiles, at: string, bytes: number): Promise<void> {
  await writeFile(at, '');
  await truncate(at, bytes);
  await files.giveBack(at);
}

describe('SpoolFiles', () => {
  it('gives the next spool the file the last one gave back, not cut: its pages are rewritten, not allocated again', async () => {
    const { files, dir, spools } = await pool();
    const first = path.join(spools, 'first.f32');
    const handle = await files.open(first);
    await handle.write(Buffer.alloc(20 * MiB, 1), 0, 20 * MiB, 0);
    await handle.close();
    const { ino } = await stat(first);
    await files.giveBack(first);
    expect(await readdir(dir)).toHaveLength(1);

    const second = path.join(spools, 'second.f32');
    const reused = await files.open(second);
    // Written from its start, over the old bytes; the rest is still there, never read by a spool.
    await reused.write(Buffer.from([9, 9]), 0, 2, 0);
    await reused.close();
    expect(await stat(second)).toMatchObject({ ino, size: 20 * MiB });
    const head = await open(second, 'r');
    const bytes = Buffer.alloc(3);
    await head.read(bytes, 0, 3, 0);
    await head.close();
    expect([...bytes]).toEqual([9, 9, 1]);
    expect(await readdir(dir)).toEqual([]);
  });

  it('opens a new empty file when none is kept', async () => {
    const { files, spools } = await pool();
    const at = path.join(spools, 'new.f32');
    await writeFile(at, 'left over from a crash');
    await (await files.open(at)).close();
    expect((await stat(at)).size).toBe(0);
  });

  it('keeps no more than its budget: a file is cut to the room left, removed when there is too little', async () => {
    const { files, dir, spools } = await pool({ keepBytes: 48 * MiB });
    await givenBack(files, path.join(spools, 'a.f32'), 32 * MiB);
    await givenBack(files, path.join(spools, 'b.f32'), 32 * MiB);
    await givenBack(files, path.join(spools, 'c.f32'), 32 * MiB);
    const kept = await Promise.all((await readdir(dir)).map(async (name) => (await stat(path.join(dir, name))).size));
    expect(kept.sort((x, y) => x - y)).toEqual([16 * MiB, 32 * MiB]);
    expect(await readdir(spools)).toEqual(['kept']);
  });

  it('keeps nothing with a budget of 0, or when the disk has less free than its reserve and the budget', async () => {
    for (const options of [{ keepBytes: 0 }, { reserveBytes: 2 ** 60 }]) {
      const { files, dir, spools } = await pool(options);
      await givenBack(files, path.join(spools, 'a.f32'), 32 * MiB);
      expect(await readdir(spools)).toEqual([]);
      expect(await readdir(dir).catch(() => [])).toEqual([]);
    }
  });

  it('hands a kept file to one taker only, however many open at once', async () => {
    const { files, spools } = await pool();
    const kept = path.join(spools, 'kept.f32');
    await (await files.open(kept)).close();
    await truncate(kept, 20 * MiB);
    const { ino } = await stat(kept);
    await files.giveBack(kept);
    const targets = Array.from({ length: 6 }, (_, i) => path.join(spools, `taker-${i}.f32`));
    await Promise.all(targets.map(async (target) => (await files.open(target)).close()));
    const inodes = await Promise.all(targets.map(async (target) => (await stat(target)).ino));
    expect(new Set(inodes).size).toBe(targets.length);
    expect(inodes.filter((taken) => taken === ino)).toHaveLength(1);
  });
});
