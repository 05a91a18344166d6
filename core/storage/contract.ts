import type { Readable } from 'node:stream';
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

/** True for a key of the shape stembot writes: no "..", no absolute, empty or hidden segments. */
export function isStorageKey(key: string): boolean {
  return key.length <= MAX_KEY_LENGTH && key.split('/').every((segment) => KEY_SEGMENT.test(segment));
}

/**
 * Keys are built from names that reach us from model files and chat options, so every backend
 * checks a key's shape before it touches anything.
 */
export function assertStorageKey(key: string): void {
  if (!isStorageKey(key)) throw new Error(`not a valid storage key: ${JSON.stringify(key.slice(0, 200))}`);
}

export const separationPrefix = (separationId: string): string => `separations/${separationId}`;

/** An inclusive byte range, as HTTP Range gives it. */
export interface ByteRange {
  start: number;
  end: number;
}

export function assertByteRange(range: ByteRange): void {
  if (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0 || range.end < range.start) {
    throw new RangeError(`not a byte range: ${range.start}-${range.end}`);
  }
}

/** `openRead` of a key that holds no object: the web role answers 404, a job fails as its files being gone. */
export class MissingObjectError extends Error {
  constructor(readonly key: string) {
    super(`no stored file at ${key}`);
    this.name = 'MissingObjectError';
  }
}

/**
 * Where stems are stored, by key (`separations/<id>/masters/vocals.flac`): a local directory, or an
 * S3-compatible bucket when bots and workers run on different machines. Workers write, adapters
 * and the web role read, retention deletes; all through this.
 */
export interface Storage {
  readonly kind: 'local' | 's3';
  /**
   * Stores the file at `localPath` under `key` and returns its size. The local file is consumed:
   * moved into the directory, or uploaded and then removed.
   */
  putFile(key: string, localPath: string, contentType?: string): Promise<number>;
  /**
   * The object's bytes, or the inclusive `range` of them (an end past the object stops at its last
   * byte); rejects with MissingObjectError when there is no such object.
   */
  openRead(key: string, range?: ByteRange): Promise<Readable>;
  /** The object's size, or undefined when there is none (a prefix is not an object). */
  size(key: string): Promise<number | undefined>;
  /** Deletes the object `prefix` and every object under `prefix/` (not `prefix-other/...`). */
  removeTree(prefix: string): Promise<void>;
  /**
   * A URL anyone may GET the object from until `expiresAt` (S3: a presigned URL, offered as
   * `downloadName`); undefined for local storage, whose files the web role serves itself.
   */
  presignedUrl(key: string, expiresAt: Date, downloadName?: string): Promise<string | undefined>;
}
