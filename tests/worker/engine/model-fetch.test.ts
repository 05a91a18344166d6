import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { downloadModel, type DownloadProgress } from '../../../worker/engine/model-fetch.js';
import { rejectsWithUserError } from '../../support/user-error.js';

const body = randomBytes(300_000);
const sha = createHash('sha256').update(body).digest('hex');

let server: Server;
let base: string;
let dir: string;
const requests: { url: string; headers: IncomingHttpHeaders }[] = [];
let sentBytes = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (req.url === '/model.onnx' && range) {
      const start = Number(range[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}`, 'content-length': body.length - start });
      sentBytes += body.length - start;
      res.end(body.subarray(start));
    } else if (req.url === '/model.onnx' || req.url === '/no-ranges.onnx') {
      res.writeHead(200, { 'content-length': body.length });
      sentBytes += body.length;
      res.end(body);
    } else if (req.url === '/drops.onnx') {
      // Sends the headers and a third of the body, then drops the connection once the client has had time to read it.
      res.writeHead(200, { 'content-length': body.length });
      res.write(body.subarray(0, 100_000), () => setTimeout(() => res.destroy(), 200));
    } else {
      res.writeHead(404).end('not here');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'stembot-fetch-'));
  requests.length = 0;
  sentBytes = 0;
});


describe('downloadModel', () => {
  it('downloads, verifies, renames into place and reports progress up to the total', async () => {
    const dest = path.join(dir, 'models', 'm.onnx');
    const progress: DownloadProgress[] = [];
    const result = await downloadModel({ url: `${base}/model.onnx`, destPath: dest, sha256: sha, onProgress: (p) => progress.push(p) });
    expect(result).toEqual({ path: dest, sha256: sha, bytes: body.length });
    expect((await readFile(dest)).equals(body)).toBe(true);
    expect(await readdir(path.dirname(dest))).toEqual(['m.onnx']);
    expect(progress.at(-1)).toEqual({ receivedBytes: body.length, totalBytes: body.length, resumedFrom: 0 });
    expect(requests[0]!.headers.range).toBeUndefined();
  });

  it('resumes an existing .part with a Range request and only fetches the rest', async () => {
    const dest = path.join(dir, 'm.onnx');
    await writeFile(`${dest}.part`, body.subarray(0, 120_000));
    const progress: DownloadProgress[] = [];
    await downloadModel({ url: `${base}/model.onnx`, destPath: dest, sha256: sha, onProgress: (p) => progress.push(p) });
    expect(requests[0]!.headers.range).toBe('bytes=120000-');
    expect(sentBytes).toBe(body.length - 120_000);
    expect((await readFile(dest)).equals(body)).toBe(true);
    expect(progress[0]!.resumedFrom).toBe(120_000);
    expect(progress.at(-1)!.receivedBytes).toBe(body.length);
  });

  it('resumes after a dropped connection left a .part behind', async () => {
    const dest = path.join(dir, 'm.onnx');
    const error = await rejectsWithUserError(downloadModel({ url: `${base}/drops.onnx`, destPath: dest, sha256: sha }));
    expect(error.code).toBe('model_download_failed');
    expect(error.message).toContain('again to resume');
    expect((await readFile(`${dest}.part`)).length).toBeGreaterThan(0);
    await downloadModel({ url: `${base}/model.onnx`, destPath: dest, sha256: sha });
    expect(requests.at(-1)!.headers.range).toMatch(/^bytes=\d+-$/);
    expect((await readFile(dest)).equals(body)).toBe(true);
  });

  it('starts over when the server ignores Range and answers 200', async () => {
    const dest = path.join(dir, 'm.onnx');
    await writeFile(`${dest}.part`, Buffer.from('stale bytes from some other file'));
    await downloadModel({ url: `${base}/no-ranges.onnx`, destPath: dest, sha256: sha });
    expect((await readFile(dest)).equals(body)).toBe(true);
  });

  it('finishes a complete .part the server answers 416 for', async () => {
    const dest = path.join(dir, 'm.onnx');
    await writeFile(`${dest}.part`, body);
    await downloadModel({ url: `${base}/model.onnx`, destPath: dest, sha256: sha });
    expect(sentBytes).toBe(0);
    expect((await readFile(dest)).equals(body)).toBe(true);
  });

  it('deletes the .part and refuses on a checksum mismatch', async () => {
    const dest = path.join(dir, 'm.onnx');
    const error = await rejectsWithUserError(downloadModel({ url: `${base}/model.onnx`, destPath: dest, sha256: '0'.repeat(64) }));
    expect(error.code).toBe('model_checksum_mismatch');
    expect(await readdir(dir)).toEqual([]);
  });

  it('a corrupted .part resumed to the end fails the checksum and is removed', async () => {
    const dest = path.join(dir, 'm.onnx');
    await writeFile(`${dest}.part`, randomBytes(50_000));
    expect((await rejectsWithUserError(downloadModel({ url: `${base}/model.onnx`, destPath: dest, sha256: sha }))).code).toBe('model_checksum_mismatch');
    expect(await readdir(dir)).toEqual([]);
  });

  it('reports a 404 as a download failure naming the status, leaving nothing behind', async () => {
    const dest = path.join(dir, 'm.onnx');
    const error = await rejectsWithUserError(downloadModel({ url: `${base}/missing.onnx`, destPath: dest }));
    expect(error.code).toBe('model_download_failed');
    expect(error.message).toContain('404');
    expect(await readdir(dir)).toEqual([]);
  });

  it('reports an unreachable host as a download failure', async () => {
    const error = await rejectsWithUserError(downloadModel({ url: 'http://127.0.0.1:1/x.onnx', destPath: path.join(dir, 'x.onnx') }));
    expect(error.code).toBe('model_download_failed');
  });
});
