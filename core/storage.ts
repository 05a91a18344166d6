import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

/**
 * A name that becomes one segment of a file path or storage key (model names, stem names): it
 * starts with a letter or digit, so it is never "", "." or ".." nor hidden, and holds no separator.
 */
export const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const SAFE_NAME_RULE = 'letters, digits, "_", "." and "-" only, starting with a letter or digit (at most 64)';
export const safeNameSchema = z.string().regex(SAFE_NAME, SAFE_NAME_RULE);

/** Keys are "/"-joined segments of the same shape as safe names (ids, `mp3-192k-single-vocals`, `vocals.flac`). */
const KEY_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const MAX_KEY_LENGTH = 1024;

/**
 * Stored files under one directory (STORAGE_DIR), addressed by keys like
 * `separations/<id>/masters/vocals.flac`. It lives in core because the worker writes, adapters
 * read and retention deletes. Scaled deployments share the directory (or, later, a bucket).
 */
export class LocalStorage {
  constructor(readonly root: string) {}

  /**
   * The absolute path of a key. Keys are built from names that reach us from model files and chat
   * options, so the key's shape is checked first (no "..", no absolute or empty segments), and the
   * resolved path must still fall under the root.
   */
  pathOf(key: string): string {
    if (!isStorageKey(key)) throw new Error(`not a valid storage key: ${JSON.stringify(key.slice(0, 200))}`);
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

function isStorageKey(key: string): boolean {
  return key.length <= MAX_KEY_LENGTH && key.split('/').every((segment) => KEY_SEGMENT.test(segment));
}

export const separationPrefix = (separationId: string): string => `separations/${separationId}`;
