import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { assertByteRange, assertStorageKey, MissingObjectError, type ByteRange, type Storage } from './contract.js';

export interface S3StorageOptions {
  bucket: string;
  /** The folder in the bucket every key goes under, without leading or trailing "/"; "" for the bucket's root. */
  prefix: string;
  /** An S3-compatible service (MinIO, R2 and the like); unset: AWS S3. */
  endpoint?: string;
  region: string;
  /** Unset: the AWS SDK's default credential chain (environment, profile, instance or task role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** `endpoint/bucket/key` URLs instead of `bucket.endpoint/key`: MinIO and most self-hosted services need them. */
  forcePathStyle: boolean;
  /** Keys per listing page and per DeleteObjects call. Default 1000, S3's own limit for both. */
  batchSize?: number;
  /** Bytes per part of a multipart upload; files up to this size go up in one PutObject. Default 8 MiB (S3's least is 5 MiB). */
  partSize?: number;
}

const MAX_BATCH = 1000;
const DEFAULT_PART_BYTES = 8 * 1024 * 1024;
/** Parts of one upload in flight at once; each is held in memory. */
const UPLOAD_QUEUE = 2;
/** S3 refuses presigned URLs valid for longer than 7 days (SigV4). */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  mp3: 'audio/mpeg',
  flac: 'audio/flac',
  wav: 'audio/wav',
  opus: 'audio/ogg',
  json: 'application/json',
  png: 'image/png',
  zip: 'application/zip',
};

/** What a presigned download is served as, from the key's extension. */
export function contentTypeOf(key: string): string {
  return CONTENT_TYPES[path.extname(key).slice(1).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * `attachment` naming the file twice (RFC 6266): an ASCII stand-in in `filename` for old clients,
 * and the exact name, percent-encoded UTF-8, in `filename*` (RFC 8187). The name may come from a
 * video title: nothing in it can end the header or the quoted string.
 */
export function attachmentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\/%]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

const isNotFound = (error: unknown): boolean => error instanceof S3ServiceException && (error.$metadata.httpStatusCode === 404 || error.name === 'NoSuchKey' || error.name === 'NotFound');

/**
 * Stored files as objects in an S3-compatible bucket (AWS S3, MinIO, R2...), under the prefix
 * STORAGE_URL names: what lets bots, workers and the web role run on different machines.
 */
export class S3Storage implements Storage {
  readonly kind = 's3' as const;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly client: S3Client;
  private readonly batchSize: number;
  private readonly partSize: number;

  constructor(options: S3StorageOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix;
    this.batchSize = Math.min(MAX_BATCH, options.batchSize ?? MAX_BATCH);
    this.partSize = options.partSize ?? DEFAULT_PART_BYTES;
    this.client = new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      credentials: options.credentials,
      // Checksums only where S3 demands them: not every S3-compatible service takes the SDK's newer
      // default (CRC32 on every upload, in aws-chunked trailers).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /** The object key of a storage key: under the prefix, once the key's shape is checked. */
  private objectKey(key: string): string {
    assertStorageKey(key);
    return this.prefix === '' ? key : `${this.prefix}/${key}`;
  }

  async putFile(key: string, localPath: string, contentType?: string): Promise<number> {
    const Key = this.objectKey(key);
    const { size } = await stat(localPath);
    const body = createReadStream(localPath);
    try {
      // One PutObject up to partSize, a multipart upload (aborted if it fails) beyond.
      const upload = new Upload({ client: this.client, params: { Bucket: this.bucket, Key, Body: body, ContentType: contentType ?? contentTypeOf(key) }, partSize: this.partSize, queueSize: UPLOAD_QUEUE });
      await upload.done();
    } finally {
      body.destroy();
    }
    await rm(localPath, { force: true });
    return size;
  }

  async openRead(key: string, range?: ByteRange): Promise<Readable> {
    const Key = this.objectKey(key);
    if (range) assertByteRange(range);
    const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key, Range: range ? `bytes=${range.start}-${range.end}` : undefined })).catch((error: unknown) => {
      throw isNotFound(error) ? new MissingObjectError(key) : error;
    });
    if (!(response.Body instanceof Readable)) throw new Error(`S3 returned no readable body for ${key}`);
    return response.Body;
  }

  async size(key: string): Promise<number | undefined> {
    const Key = this.objectKey(key);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return head.ContentLength ?? 0;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async removeTree(prefix: string): Promise<void> {
    const base = this.objectKey(prefix);
    // Every key is listed before any is deleted, so no listing page is asked for across deletions.
    const keys = [base, ...(await this.listUnder(`${base}/`))];
    for (let i = 0; i < keys.length; i += this.batchSize) {
      const batch = keys.slice(i, i + this.batchSize);
      const result = await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
      const failed = result.Errors ?? [];
      if (failed.length > 0) throw new Error(`could not delete ${failed.length} objects under ${prefix}: ${failed[0]?.Code ?? 'error'} ${failed[0]?.Message ?? ''}`.trim());
    }
  }

  async presignedUrl(key: string, expiresAt: Date, downloadName?: string): Promise<string> {
    const Key = this.objectKey(key);
    const expiresIn = Math.min(MAX_PRESIGN_SECONDS, Math.max(1, Math.ceil((expiresAt.getTime() - Date.now()) / 1000)));
    const command = new GetObjectCommand({ Bucket: this.bucket, Key, ...(downloadName === undefined ? {} : { ResponseContentDisposition: attachmentDisposition(downloadName) }) });
    return getSignedUrl(this.client, command, { expiresIn });
  }

  private async listUnder(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, MaxKeys: this.batchSize, ContinuationToken: token }));
      for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }
}
