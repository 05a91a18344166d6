import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalStorage, separationPrefix } from '../../core/storage.js';

const MINE = '00000000-0000-4000-8000-00000000000a';
const THEIRS = '00000000-0000-4000-8000-00000000000b';

describe('LocalStorage keys', () => {
  let root: string;
  let storage: LocalStorage;
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'stembot-storage-'));
    storage = new LocalStorage(root);
  });
  afterAll(async () => rm(root, { recursive: true, force: true }));

  it('resolves the keys stembot writes', () => {
    expect(storage.pathOf(`${separationPrefix(MINE)}/renders/mp3-192k-single-vocals/vocals.mp3`)).toBe(path.join(root, 'separations', MINE, 'renders', 'mp3-192k-single-vocals', 'vocals.mp3'));
  });

  it("refuses a key that walks from one separation's folder into another's, though it stays under the root", async () => {
    const sneaky = `${separationPrefix(MINE)}/renders/mp3-single-../../${THEIRS}/masters/vocals.flac`;
    expect(() => storage.pathOf(sneaky)).toThrow(/not a valid storage key/);
    await expect(storage.size(sneaky)).rejects.toThrow(/not a valid storage key/);
    await expect(storage.prepare(`${separationPrefix(MINE)}/./masters/vocals.flac`)).rejects.toThrow(/not a valid storage key/);
    await expect(storage.removeTree(`${separationPrefix(MINE)}/../${THEIRS}`)).rejects.toThrow(/not a valid storage key/);
  });
});
