import { createReadStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { assertByteRange, assertStorageKey, MissingObjectError, type ByteRange, type Storage } from './contract.js';

/**
 * Stored files under one directory (STORAGE_DIR), addressed by keys like
 * `separations/<id>/masters/vocals.flac`: the embedded default, and what scaled deployments use
 * when every machine mounts the same directory.
 */
export class LocalStorage implements Storage {
  readonly kind = 'local' as const;

  constructor(readonly root: string) {}

  /**
   * The absolute path of a key: the key's shape is checked first, and the resolved path must still
   * fall under the root.
   */
  pathOf(key: string): string {
    assertStorageKey(key);
    const resolved = path.resolve(this.root, key);
    if (!resolved.startsWith(path.resolve(this.root) + path.sep)) throw new Error(`storage key escapes the storage directory: ${key}`);
    return resolved;
  }

  /** The path to write a key to, with its folder created. */
  async prepare(key: string): Promise<string> {
    const file = this.pathOf(key);
    await mkdir(path.dirname(file), { recursive: true });
    return file;
  }

  async size(key: string): Promise<number | undefined> {
    const info = await stat(this.pathOf(key)).catch(() => undefined);
    return info?.isFile() ? info.size : undefined;
  }

  async removeTree(prefix: string): Promise<void> {
    await rm(this.pathOf(prefix), { recursive: true, force: true });
  }

  async putFile(key: string, localPath: string): Promise<number> {
    const target = await this.prepare(key);
    // A rename within one file system; TEMP_DIR may be on another, where a copy does it.
    await rename(localPath, target).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EXDEV') throw error;
      await copyFile(localPath, target);
      await rm(localPath, { force: true });
    });
    return (await stat(target)).size;
  }

  async openRead(key: string, range?: ByteRange): Promise<Readable> {
    const file = this.pathOf(key);
    if (range) assertByteRange(range);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) throw new MissingObjectError(key);
    return createReadStream(file, range ? { start: range.start, end: range.end } : {});
  }

  async presignedUrl(key: string): Promise<string | undefined> {
    assertStorageKey(key);
    return undefined;
  }
}
