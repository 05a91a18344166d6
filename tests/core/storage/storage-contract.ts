import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MissingObjectError, type Storage } from '../../../core/storage.js';

/** A backend under test, fresh and empty, and how to tear it down. */
export interface ContractSubject {
  storage: Storage;
  /** Bytes per part when the backend uploads in parts; the large-file case goes past one part. */
  partBytes: number;
  close(): Promise<void>;
}

const HOSTILE_KEYS = ['../x', 'separations/../../etc/passwd', '/etc/passwd', 'separations//x', 'separations/./x', 'separations/x/', '', '.hidden', 'a\\b', 'a/b\nc'];

/**
 * What every storage backend promises (see `Storage`), as one suite each backend runs: the worker,
 * the bots, the web role and retention rely on exactly this and nothing else.
 */
export function describeStorageContract(name: string, open: () => Promise<ContractSubject>): void {
  describe(`${name} storage: the Storage contract`, () => {
    let subject: ContractSubject;
    let storage: Storage;
    let scratch: string;
    let files = 0;
    /** A local file holding `bytes`, as a worker would have written it. */
    const localFile = async (bytes: Buffer | string): Promise<string> => {
      const file = path.join(scratch, `file-${(files += 1)}`);
      await writeFile(file, bytes);
      return file;
    };
    const put = async (key: string, bytes: Buffer | string): Promise<number> => storage.putFile(key, await localFile(bytes));
    const read = async (key: string, range?: { start: number; end: number }): Promise<string> => (await buffer(await storage.openRead(key, range))).toString('utf8');

    beforeAll(async () => {
      subject = await open();
      storage = subject.storage;
      scratch = await mkdtemp(path.join(tmpdir(), 'stembot-contract-'));
    });
    afterAll(async () => {
      await subject.close();
      await rm(scratch, { recursive: true, force: true });
    });

    it('stores a file under a key, consuming the local file, and gives its bytes and size back', async () => {
      const file = await localFile('vocals, as flac');
      expect(await storage.putFile('separations/s1/masters/vocals.flac', file)).toBe(15);
      expect(existsSync(file)).toBe(false);
      expect(await read('separations/s1/masters/vocals.flac')).toBe('vocals, as flac');
      expect(await storage.size('separations/s1/masters/vocals.flac')).toBe(15);
    });

    it('replaces what a key held, and stores an empty file', async () => {
      await put('separations/s2/renders/mp3-single-vocals/vocals.mp3', 'first try');
      expect(await put('separations/s2/renders/mp3-single-vocals/vocals.mp3', 'second')).toBe(6);
      expect(await read('separations/s2/renders/mp3-single-vocals/vocals.mp3')).toBe('second');
      expect(await put('separations/s2/empty.json', '')).toBe(0);
      expect(await storage.size('separations/s2/empty.json')).toBe(0);
      expect(await read('separations/s2/empty.json')).toBe('');
    });

    it('reads an inclusive byte range, stopping at the last byte when the range runs past it', async () => {
      await put('separations/s3/masters/drums.flac', '0123456789');
      expect(await read('separations/s3/masters/drums.flac', { start: 0, end: 1 })).toBe('01');
      expect(await read('separations/s3/masters/drums.flac', { start: 9, end: 9 })).toBe('9');
      expect(await read('separations/s3/masters/drums.flac', { start: 2, end: 5 })).toBe('2345');
      expect(await read('separations/s3/masters/drums.flac', { start: 7, end: 1_000 })).toBe('789');
      await expect(storage.openRead('separations/s3/masters/drums.flac', { start: 5, end: 2 })).rejects.toThrow(RangeError);
    });

    it('knows no size for a missing key or a folder, and refuses to read either', async () => {
      await put('separations/s4/masters/bass.flac', 'bass');
      expect(await storage.size('separations/s4/masters/other.flac')).toBeUndefined();
      expect(await storage.size('separations/s4/masters')).toBeUndefined();
      await expect(storage.openRead('separations/s4/masters/other.flac')).rejects.toBeInstanceOf(MissingObjectError);
      await expect(storage.openRead('separations/s4/masters')).rejects.toBeInstanceOf(MissingObjectError);
    });

    it("removes a separation's tree, however deep and however many files, and nothing beside it", async () => {
      const doomed = ['separations/s5/masters/vocals.flac', 'separations/s5/masters/drums.flac', 'separations/s5/renders/mp3-all/vocals.mp3', 'separations/s5/renders/mp3-all/drums.mp3', 'separations/s5/peaks.json'];
      const kept = ['separations/s5b/masters/vocals.flac', 'separations/s6/masters/vocals.flac', 'separations/s5.json'];
      for (const key of [...doomed, ...kept]) await put(key, key);
      await storage.removeTree('separations/s5');
      for (const key of doomed) expect(await storage.size(key), key).toBeUndefined();
      for (const key of kept) expect(await read(key), key).toBe(key);
      // Gone already: nothing to do, and no error.
      await storage.removeTree('separations/s5');
      await storage.removeTree('separations/never-stored');
    });

    it('removes a single file given as the prefix', async () => {
      await put('separations/s7/masters/vocals.flac', 'v');
      await put('separations/s7/masters/vocals.flac.json', 'j');
      await storage.removeTree('separations/s7/masters/vocals.flac');
      expect(await storage.size('separations/s7/masters/vocals.flac')).toBeUndefined();
      expect(await storage.size('separations/s7/masters/vocals.flac.json')).toBe(1);
    });

    it('refuses hostile keys in every method before touching anything', async () => {
      const file = await localFile('payload');
      for (const key of HOSTILE_KEYS) {
        const shown = JSON.stringify(key);
        await expect(storage.putFile(key, file), shown).rejects.toThrow(/not a valid storage key/);
        await expect(storage.openRead(key), shown).rejects.toThrow(/not a valid storage key/);
        await expect(storage.size(key), shown).rejects.toThrow(/not a valid storage key/);
        await expect(storage.removeTree(key), shown).rejects.toThrow(/not a valid storage key/);
        await expect(storage.presignedUrl(key, new Date(Date.now() + 60_000)), shown).rejects.toThrow(/not a valid storage key/);
      }
      expect(existsSync(file)).toBe(true);
    });

    it('stores a file larger than one upload part intact', async () => {
      const bytes = randomBytes(subject.partBytes + 700 * 1024);
      const digest = (data: Buffer) => createHash('sha256').update(data).digest('hex');
      expect(await put('separations/s8/masters/other.flac', bytes)).toBe(bytes.length);
      expect(await storage.size('separations/s8/masters/other.flac')).toBe(bytes.length);
      expect(digest(await buffer(await storage.openRead('separations/s8/masters/other.flac')))).toBe(digest(bytes));
      const tail = await buffer(await storage.openRead('separations/s8/masters/other.flac', { start: subject.partBytes - 3, end: subject.partBytes + 3 }));
      expect(tail.equals(bytes.subarray(subject.partBytes - 3, subject.partBytes + 4))).toBe(true);
    });
  });
}
