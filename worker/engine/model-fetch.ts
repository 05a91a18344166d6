import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { UserError } from '../../core/errors.js';
import { ensureModelsDir, isNotFound } from './models-dir.js';

export interface DownloadProgress {
  /** Bytes on disk so far, including what a resumed download already had. */
  receivedBytes: number;
  /** Whole file size when the server says; undefined otherwise. */
  totalBytes: number | undefined;
  /** Bytes that were already in the `.part` file when this attempt started. */
  resumedFrom: number;
}

export interface DownloadOptions {
  url: string;
  /** Final path; the bytes go to `${destPath}.part` first and are renamed only once verified. */
  destPath: string;
  /** Expected lowercase hex SHA-256; when absent the digest is computed and returned, not checked. */
  sha256?: string | undefined;
  onProgress?: (progress: DownloadProgress) => void;
  signal?: AbortSignal;
  /** For tests and proxies; defaults to Node's fetch. */
  fetchImpl?: typeof fetch;
}

export interface DownloadResult {
  path: string;
  sha256: string;
  bytes: number;
}

/** Downloads with resume (HTTP Range on an existing `.part`), SHA-256 check, and an atomic rename into place. */
export async function downloadModel(options: DownloadOptions): Promise<DownloadResult> {
  const partPath = `${options.destPath}.part`;
  await ensureModelsDir(path.dirname(options.destPath));
  const hash = createHash('sha256');
  const offset = await hashExisting(partPath, hash);
  const response = await request(options, offset);
  if (response.status === 416) {
    // The .part already holds the whole file (an earlier run died between download and rename).
    await response.body?.cancel();
    return finish(options, partPath, hash, offset);
  }
  const resumed = offset > 0 && response.status === 206;
  if (resumed && contentRangeStart(response) !== offset) {
    // A range we did not ask for: start over rather than splice mismatched bytes.
    await response.body?.cancel();
    await rm(partPath, { force: true });
    return downloadModel(options);
  }
  const base = resumed ? offset : 0;
  const digest = resumed ? hash : createHash('sha256');
  const total = totalSize(response, base);
  const report = (bytes: number): void => options.onProgress?.({ receivedBytes: base + bytes, totalBytes: total, resumedFrom: base });
  let written: number;
  try {
    written = await writeBody(response, partPath, resumed, digest, report);
  } catch (error) {
    options.signal?.throwIfAborted();
    // The .part stays: the next attempt continues from it.
    throw new UserError('model_download_failed', `The download from ${hostOf(options.url)} was interrupted: run the same command again to resume it.`, { cause: error });
  }
  return finish(options, partPath, digest, base + written);
}

async function hashExisting(partPath: string, hash: Hash): Promise<number> {
  try {
    const size = (await stat(partPath)).size;
    for await (const chunk of createReadStream(partPath)) hash.update(chunk as Buffer);
    return size;
  } catch (error) {
    if (isNotFound(error)) return 0;
    throw error;
  }
}

async function request(options: DownloadOptions, offset: number): Promise<Response> {
  const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
  let response: Response;
  try {
    response = await (options.fetchImpl ?? fetch)(options.url, { headers, redirect: 'follow', signal: options.signal ?? null });
  } catch (error) {
    options.signal?.throwIfAborted();
    throw new UserError('model_download_failed', `Could not reach ${hostOf(options.url)} to download the model: check the network and try again.`, { cause: error });
  }
  if (response.ok || (response.status === 416 && offset > 0)) return response;
  await response.body?.cancel();
  throw new UserError('model_download_failed', `Downloading ${options.url} failed: the server answered HTTP ${response.status}.`);
}

function contentRangeStart(response: Response): number | undefined {
  const match = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '');
  return match ? Number(match[1]) : undefined;
}

function totalSize(response: Response, base: number): number | undefined {
  const ofTotal = /\/(\d+)$/.exec(response.headers.get('content-range') ?? '');
  if (ofTotal) return Number(ofTotal[1]);
  const length = response.headers.get('content-length');
  return length === null ? undefined : base + Number(length);
}

/** Writes chunk by chunk (not via pipeline, which drops buffered bytes on error) so a drop keeps all it received. */
async function writeBody(response: Response, partPath: string, append: boolean, digest: Hash, onBytes: (bytes: number) => void): Promise<number> {
  const file = await open(partPath, append ? 'a' : 'w');
  let bytes = 0;
  try {
    if (!response.body) return 0;
    for await (const chunk of Readable.fromWeb(response.body as WebReadableStream<Uint8Array>)) {
      const data = chunk as Buffer;
      await file.write(data);
      digest.update(data);
      bytes += data.length;
      onBytes(bytes);
    }
    return bytes;
  } finally {
    await file.close();
  }
}

async function finish(options: DownloadOptions, partPath: string, digest: Hash, bytes: number): Promise<DownloadResult> {
  const sha256 = digest.digest('hex');
  if (options.sha256 && sha256 !== options.sha256.toLowerCase()) {
    await rm(partPath, { force: true });
    throw new UserError(
      'model_checksum_mismatch',
      `The file downloaded from ${hostOf(options.url)} does not match its expected SHA-256 and was deleted: try again, and report it if it keeps happening.`,
    );
  }
  await rename(partPath, options.destPath);
  return { path: options.destPath, sha256, bytes };
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
