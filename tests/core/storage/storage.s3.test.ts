import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../core/config.js';
import { attachmentDisposition, createStorage, S3Storage, type S3StorageOptions } from '../../../core/storage.js';
import { startS3Server, type S3Server } from '../../support/s3-server.js';
import { makeTempDir } from '../../support/services.js';
import { describeStorageContract } from './storage-contract.js';

/** S3's smallest part: a file of a few MiB already goes up in parts. */
const PART_BYTES = 5 * 1024 * 1024;

function storageOn(server: S3Server, overrides: Partial<S3StorageOptions> = {}): S3Storage {
  return new S3Storage({ bucket: server.bucket, prefix: 'stembot/test', endpoint: server.endpoint, region: 'us-east-1', credentials: server.credentials, forcePathStyle: true, partSize: PART_BYTES, ...overrides });
}

// Two keys a listing page and a delete batch: removing a tree of five files takes several of each.
describeStorageContract('s3', async () => {
  const server = await startS3Server();
  return { storage: storageOn(server, { batchSize: 2 }), partBytes: PART_BYTES, close: () => server.stop() };
});

describe('S3 storage on an S3-compatible server', () => {
  let server: S3Server;
  let storage: S3Storage;
  let scratch: { dir: string; remove(): Promise<void> };
  let files = 0;
  const put = async (target: S3Storage, key: string, bytes: Buffer | string): Promise<number> => {
    const file = path.join(scratch.dir, `file-${(files += 1)}`);
    await writeFile(file, bytes);
    return target.putFile(key, file);
  };

  beforeAll(async () => {
    server = await startS3Server('stembot-files');
    storage = storageOn(server);
    scratch = await makeTempDir('stembot-s3-test-');
  });
  afterAll(async () => {
    await server?.stop();
    await scratch?.remove();
  });

  it("keeps every key under STORAGE_URL's prefix, out of reach of a storage with another prefix", async () => {
    await put(storage, 'separations/p1/masters/vocals.flac', 'mine');
    const other = storageOn(server, { prefix: 'other' });
    await put(other, 'separations/p1/masters/vocals.flac', 'theirs');
    expect(await server.keys()).toEqual(['other/separations/p1/masters/vocals.flac', 'stembot/test/separations/p1/masters/vocals.flac']);
    await other.removeTree('separations/p1');
    expect(await server.keys()).toEqual(['stembot/test/separations/p1/masters/vocals.flac']);
    const atRoot = storageOn(server, { prefix: '' });
    await put(atRoot, 'separations/p1/peaks.json', '{}');
    expect(await server.keys('separations/')).toEqual(['separations/p1/peaks.json']);
  });

  it('stores each file with its content type, and a big one in parts', async () => {
    const cases = { 'vocals.mp3': 'audio/mpeg', 'vocals.flac': 'audio/flac', 'vocals.wav': 'audio/wav', 'vocals.opus': 'audio/ogg', 'peaks.json': 'application/json', 'waves.png': 'image/png', 'stems.zip': 'application/zip', 'notes.bin': 'application/octet-stream' };
    for (const [name, type] of Object.entries(cases)) {
      await put(storage, `separations/t1/${name}`, 'x');
      const head = await server.client.send(new HeadObjectCommand({ Bucket: server.bucket, Key: `stembot/test/separations/t1/${name}` }));
      expect(head.ContentType, name).toBe(type);
    }
    const before = server.requests().length;
    await put(storage, 'separations/t1/big.flac', Buffer.alloc(PART_BYTES + 1));
    const upload = server.requests().slice(before).map((request) => request.replace(/uploadId=[^&]+/, 'uploadId=U'));
    const object = '/stembot-files/stembot/test/separations/t1/big.flac';
    expect(upload[0]).toBe(`POST ${object}?uploads=`);
    // Parts go up two at a time, in any order.
    expect(upload.slice(1, -1).map((request) => (request.startsWith(`PUT ${object}?`) ? /partNumber=(\d+)/.exec(request)?.[1] : request)).sort()).toEqual(['1', '2']);
    expect(upload.at(-1)).toBe(`POST ${object}?uploadId=U`);
    const big = await server.client.send(new HeadObjectCommand({ Bucket: server.bucket, Key: 'stembot/test/separations/t1/big.flac' }));
    expect(big.ContentLength).toBe(PART_BYTES + 1);
    expect(big.ContentType).toBe('audio/flac');
  });

  it('hands out a presigned URL that downloads the bytes under the name given, with ranges, until it expires', async () => {
    await put(storage, 'separations/u1/renders/mp3-all/vocals.mp3', 'mp3 bytes here');
    const url = await storage.presignedUrl('separations/u1/renders/mp3-all/vocals.mp3', new Date(Date.now() + 2_000), 'Café – "Señor" (vocals).mp3');
    expect(new URL(url).searchParams.get('X-Amz-Expires')).toMatch(/^[12]$/);
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('mp3 bytes here');
    expect(response.headers.get('content-type')).toBe('audio/mpeg');
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="Caf_ _ _Se_or_ (vocals).mp3"; filename*=UTF-8''Caf%C3%A9%20%E2%80%93%20%22Se%C3%B1or%22%20%28vocals%29.mp3`);
    const part = await fetch(url, { headers: { Range: 'bytes=4-8' } });
    expect(part.status).toBe(206);
    expect(await part.text()).toBe('bytes');
    await new Promise((resolve) => setTimeout(resolve, 3_100));
    const late = await fetch(url);
    expect(late.status).toBe(403);
    expect(await late.text()).toContain('Request has expired');
  });

  it('serves the object as stored when no download name is given, and signs its URLs', async () => {
    await put(storage, 'separations/u2/peaks.json', '[1,2]');
    const url = await storage.presignedUrl('separations/u2/peaks.json', new Date(Date.now() + 60_000));
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-disposition')).toBeNull();
    expect(response.headers.get('content-type')).toBe('application/json');
    const forged = new URL(url);
    forged.pathname = forged.pathname.replace('u2', 'u3');
    expect((await fetch(forged)).status).toBe(403);
  });

  it('asks for no more than S3 allows and no less than a second', async () => {
    const expiresIn = async (expiresAt: Date) => new URL(await storage.presignedUrl('separations/u1/x.mp3', expiresAt)).searchParams.get('X-Amz-Expires');
    expect(await expiresIn(new Date(Date.now() + 30 * 24 * 3600 * 1000))).toBe(String(7 * 24 * 3600));
    expect(await expiresIn(new Date(Date.now() - 60_000))).toBe('1');
  });

  it('fails on wrong credentials: the server checks every signature', async () => {
    const intruder = storageOn(server, { credentials: { accessKeyId: server.credentials.accessKeyId, secretAccessKey: 'not-the-secret' } });
    await expect(put(intruder, 'separations/v1/vocals.flac', 'x')).rejects.toThrow(/signature/i);
    await expect(intruder.size('separations/p1/masters/vocals.flac')).rejects.toThrow();
    expect(await server.keys('stembot/test/separations/v1')).toEqual([]);
  });

  it('is what the settings build for STORAGE_URL', async () => {
    const configured = createStorage(parseConfig({ ...server.env('from/settings'), DATA_DIR: scratch.dir }));
    expect(configured.kind).toBe('s3');
    await put(configured as S3Storage, 'separations/w1/masters/vocals.flac', 'configured');
    expect(await server.keys('from/')).toEqual(['from/settings/separations/w1/masters/vocals.flac']);
  });
});

describe('attachmentDisposition', () => {
  it('keeps a plain name as it is, readable by old and new clients', () => {
    expect(attachmentDisposition('song-vocals.mp3')).toBe(`attachment; filename="song-vocals.mp3"; filename*=UTF-8''song-vocals.mp3`);
  });

  it('cannot be made to end the header or the quoted name by a hostile title', () => {
    const header = attachmentDisposition('a"; filename="evil.exe\r\nSet-Cookie: x=1\\.mp3');
    expect(header).not.toMatch(/[\r\n]/);
    const ascii = /filename="([^"]*)"/.exec(header)?.[1];
    expect(ascii).toBe('a_; filename=_evil.exe__Set-Cookie: x=1_.mp3');
    expect(decodeURIComponent(header.split("UTF-8''")[1] ?? '')).toBe('a"; filename="evil.exe\r\nSet-Cookie: x=1\\.mp3');
  });
});
