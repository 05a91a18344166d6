import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * Stored files under one directory (STORAGE_DIR), addressed by keys like
 * `separations/<id>/masters/vocals.flac`. It lives in core because the worker writes, adapters
 * read and retention deletes. Scaled deployments share the directory (or, later, a bucket).
 */
export class LocalStorage {
  constructor(readonly root: string) {}

  /** The absolute path of a key; refuses keys that would escape the root. */
  pathOf(key: string): string {
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
    return stat(this.pathOf(key)).then(
      (info) => info.size,
      () => undefined,
    );
  }

  async removeTree(prefix: string): Promise<void> {
    await rm(this.pathOf(prefix), { recursive: true, force: true });
  }
}

export const separationPrefix = (separationId: string): string => `separations/${separationId}`;
