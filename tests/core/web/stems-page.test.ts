import { randomBytes } from 'node:crypto';
import { readdir, readlink, writeFile } from 'node:fs/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import { parseConfig, type Config } from '../../../core/config.js';
import { LinkSigner } from '../../../core/links/signed-link.js';
import { openStemsLinks } from '../../../core/links/stems-links.js';
import { sweepRetention } from '../../../core/retention.js';
import { openRuntime, type Runtime } from '../../../core/runtime.js';
import { StembotCore } from '../../../core/stembot-core.js';
import { LocalStorage, separationPrefix, type Storage } from '../../../core/storage.js';
import { stemsRoutes } from '../../../core/web/stems-page/stems-routes.js';
import { startWebRole, type WebRole } from '../../../core/web/web-role.js';
import { startWebServer, type WebServer } from '../../../core/web/web-server.js';
import { addFinishedRequest, type FinishedRequest } from '../links/linked-request.js';
import { captureLogger, createTestDatabase, makeTempDir, uniqueNamespace, type TestDatabase } from '../../support/services.js';

const HOSTILE_TITLE = '<script>alert("pwned")</script> @everyone <img src=x onerror=alert(1)> \u202Egnp.exe & "quotes"';
const PAGE_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; media-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const DATA_POLICY = "default-src 'none'; sandbox; frame-ancestors 'none'";
const HOUR_MS = 3600_000;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

async function get(base: string, path: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET'): Promise<Answer> {
  const response = await request(`${base}${path}`, { method, headers });
  return { status: response.statusCode, headers: response.headers, body: Buffer.from(await response.body.arrayBuffer()) };
}

function zipEntries(zip: Buffer): Promise<{ name: string; method: number; size: number; content: Buffer }[]> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(zip, { lazyEntries: true }, (error, file) => {
      if (error) return reject(error);
      const entries: { name: string; method: number; size: number; content: Buffer }[] = [];
      file.on('entry', (entry: yauzl.Entry) => {
        file.openReadStream(entry, (openError, stream) => {
          if (openError) return reject(openError);
          const chunks: Buffer[] = [];
          stream.on('data', (chunk: Buffer) => chunks.push(chunk));
          stream.on('end', () => {
            entries.push({ name: entry.fileName, method: entry.compressionMethod, size: entry.uncompressedSize, content: Buffer.concat(chunks) });
            file.readEntry();
          });
        });
      });
      file.on('end', () => resolve(entries));
      file.readEntry();
    });
  });
}

/** The same files, plus a presigned URL per key, as the S3 backend gives them. */
class PresigningStorage implements Storage {
  readonly kind = 's3' as const;
  readonly presigned: { key: string; expiresAt: Date; downloadName?: string }[] = [];
  constructor(private readonly inner: LocalStorage) {}
  putFile(key: string, localPath: string) {
    return this.inner.putFile(key, localPath);
  }
  openRead(key: string, range?: { start: number; end: number }) {
    return this.inner.openRead(key, range);
  }
  size(key: string) {
    return this.inner.size(key);
  }
  removeTree(prefix: string) {
    return this.inner.removeTree(prefix);
  }
  async presignedUrl(key: string, expiresAt: Date, downloadName?: string) {
    this.presigned.push({ key, expiresAt, downloadName });
    return `https://bucket.s3.example.com/${key}?X-Amz-Signature=abc${downloadName ? `&response-content-disposition=${downloadName}` : ''}`;
  }
}

describe('stems page routes', () => {
  let database: TestDatabase;
  let temp: { dir: string; remove(): Promise<void> };
  let runtime: Runtime;
  let storage: LocalStorage;
  let server: WebServer;
  let s3Server: WebServer;
  let s3Storage: PresigningStorage;
  let logLines: () => Record<string, unknown>[];
  const clock = { now: new Date() };
  const signer = new LinkSigner(randomBytes(32));
  let a: FinishedRequest;
  let b: FinishedRequest;
  const link = (requestId: string, hours = 24) => `/s/${signer.sign(requestId, new Date(clock.now.getTime() + hours * HOUR_MS))}`;

  beforeAll(async () => {
    database = await createTestDatabase();
    temp = await makeTempDir();
    const config = parseConfig({ DATABASE_URL: database.url, QUEUE_NAMESPACE: uniqueNamespace(), DATA_DIR: temp.dir });
    const captured = captureLogger('warn');
    logLines = captured.lines;
    runtime = await openRuntime(config, captured.logger);
    storage = new LocalStorage(config.storageDir);
    const serve = (store: Storage) =>
      startWebServer({
        host: '127.0.0.1',
        port: 0,
        allowedHosts: [],
        readiness: () => [],
        metrics: async () => ({ contentType: 'text/plain', body: '' }),
        logger: captured.logger,
        routes: stemsRoutes({ links: signer, em: runtime.orm.em, storage: store, logger: captured.logger, now: () => clock.now }),
      });
    server = await serve(storage);
    s3Storage = new PresigningStorage(storage);
    s3Server = await serve(s3Storage);
    a = await addFinishedRequest(runtime.orm.em, storage, { title: HOSTILE_TITLE });
    b = await addFinishedRequest(runtime.orm.em, storage, { title: 'Request B' });
  });
  afterAll(async () => {
    await server?.close();
    await s3Server?.close();
    await runtime?.close();
    await database?.drop();
    await temp?.remove();
  });

  describe('a valid link', () => {
    it('opens the page: a fixed shell with a strict CSP, no referrer, not cached', async () => {
      const page = await get(server.url, link(a.requestId));
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.headers['content-security-policy']).toBe(PAGE_POLICY);
      expect(page.headers['referrer-policy']).toBe('no-referrer');
      expect(page.headers['cache-control']).toBe('private, no-store');
      expect(page.headers['x-content-type-options']).toBe('nosniff');
      expect(page.headers['x-frame-options']).toBe('DENY');
      const html = page.body.toString();
      expect(html).toContain('<meta name="referrer" content="no-referrer">');
      expect(html).toMatch(/<script type="module" src="assets\/stems-page\.js\?v=[0-9a-f]{16}"><\/script>/);
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/);
      expect(html).not.toMatch(/\son[a-z]+=|style=/i);
    });

    it('never puts the title into the HTML, not even escaped', async () => {
      const html = (await get(server.url, link(a.requestId))).body.toString();
      for (const piece of ['pwned', 'alert', '@everyone', 'onerror', '\u202E', 'gnp.exe', 'quotes', '&lt;script', 'A song']) expect(html).not.toContain(piece);
      // Both requests get the very same bytes: nothing about either is in them.
      expect((await get(server.url, link(b.requestId))).body.toString()).toBe(html);
    });

    it('serves data.json with the title as data, and file URLs relative to it', async () => {
      const answer = await get(server.url, `${link(a.requestId)}/data.json`);
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(answer.headers['cache-control']).toBe('private, no-store');
      expect(answer.headers['referrer-policy']).toBe('no-referrer');
      expect(answer.headers['content-security-policy']).toBe(DATA_POLICY);
      const data = JSON.parse(answer.body.toString());
      expect(data).toEqual({
        title: HOSTILE_TITLE,
        durationSeconds: 187.5,
        model: 'htdemucs',
        expiresAt: expect.any(String),
        files: a.files.map((file) => ({ stem: file.stem, name: file.name, bytes: file.content.length, url: `files/${file.name}`, downloadUrl: `files/${file.name}?download=1` })),
        zipUrl: 'stems.zip',
        peaks: { drums: null, bass: null, other: null, vocals: null },
      });
      expect(Math.abs(new Date(data.expiresAt).getTime() - (clock.now.getTime() + 24 * HOUR_MS))).toBeLessThan(1000);
    });

    it('streams each file whole, typed, with its length and Accept-Ranges', async () => {
      for (const file of a.files) {
        const answer = await get(server.url, `${link(a.requestId)}/files/${file.name}`);
        expect(answer.status).toBe(200);
        expect(answer.body.equals(file.content)).toBe(true);
        expect(answer.headers['content-type']).toBe('audio/mpeg');
        expect(answer.headers['content-length']).toBe(String(file.content.length));
        expect(answer.headers['accept-ranges']).toBe('bytes');
        expect(answer.headers['content-disposition']).toBeUndefined();
        expect(answer.headers['content-security-policy']).toBe(DATA_POLICY);
        expect(answer.headers['referrer-policy']).toBe('no-referrer');
      }
    });

    it('offers a file as a download with ?download=1', async () => {
      const answer = await get(server.url, `${link(a.requestId)}/files/vocals.mp3?download=1`);
      expect(answer.status).toBe(200);
      expect(answer.headers['content-disposition']).toBe('attachment; filename="vocals.mp3"');
      expect(answer.body.equals(a.files[3]?.content as Buffer)).toBe(true);
    });

    it('answers HEAD with the length and no body', async () => {
      const answer = await get(server.url, `${link(a.requestId)}/files/drums.mp3`, {}, 'HEAD');
      expect(answer.status).toBe(200);
      expect(answer.headers['content-length']).toBe('50000');
      expect(answer.body.length).toBe(0);
    });
  });

  describe('Range requests', () => {
    const drums = () => a.files[0]?.content as Buffer;
    const ranged = (range: string) => get(server.url, `${link(a.requestId)}/files/drums.mp3`, { range });

    it('serve a bounded range as 206 with Content-Range', async () => {
      const answer = await ranged('bytes=100-199');
      expect(answer.status).toBe(206);
      expect(answer.headers['content-range']).toBe('bytes 100-199/50000');
      expect(answer.headers['content-length']).toBe('100');
      expect(answer.body.equals(drums().subarray(100, 200))).toBe(true);
    });

    it('serve an open range, a suffix, and a range running past the end', async () => {
      const open = await ranged('bytes=49990-');
      expect([open.status, open.headers['content-range']]).toEqual([206, 'bytes 49990-49999/50000']);
      expect(open.body.equals(drums().subarray(49990))).toBe(true);
      const suffix = await ranged('bytes=-5');
      expect([suffix.status, suffix.headers['content-range']]).toEqual([206, 'bytes 49995-49999/50000']);
      expect(suffix.body.equals(drums().subarray(49995))).toBe(true);
      const past = await ranged('bytes=49000-99999');
      expect([past.status, past.headers['content-range'], past.body.length]).toEqual([206, 'bytes 49000-49999/50000', 1000]);
    });

    it('refuse a range starting past the end with 416', async () => {
      const answer = await ranged('bytes=50000-');
      expect(answer.status).toBe(416);
      expect(answer.headers['content-range']).toBe('bytes */50000');
      expect(answer.body.length).toBe(0);
    });

    it('send the whole file for ranges they do not serve (several, malformed, backwards)', async () => {
      for (const range of ['bytes=0-1,5-6', 'items=0-5', 'bytes=abc', 'bytes=10-5', 'bytes=-']) {
        const answer = await ranged(range);
        expect(answer.status, range).toBe(200);
        expect(answer.body.equals(drums()), range).toBe(true);
      }
    });
  });

  describe('the zip', () => {
    it('holds every file of the request, stored, with a known length and a safe name', async () => {
      const answer = await get(server.url, `${link(a.requestId)}/stems.zip`);
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toBe('application/zip');
      expect(answer.headers['content-length']).toBe(String(answer.body.length));
      const disposition = answer.headers['content-disposition'] as string;
      expect(disposition).toMatch(/^attachment; filename="[A-Za-z0-9 _.-]+"$/);
      expect(disposition).toBe('attachment; filename="script alert pwned script everyone img src x onerror alert 1 gnp.exe quotes - stems.zip"');
      const entries = await zipEntries(answer.body);
      expect(entries.map((entry) => entry.name)).toEqual(['drums.mp3', 'bass.mp3', 'other.mp3', 'vocals.mp3']);
      for (const [index, entry] of entries.entries()) {
        expect(entry.method).toBe(0);
        expect(entry.content.equals(a.files[index]?.content as Buffer)).toBe(true);
      }
    });
  });

  describe('a download stopped half-way', () => {
    /** Files of this process open under the storage directory. */
    const openStoredFiles = async () => {
      const fds = await readdir('/proc/self/fd');
      const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
      return targets.filter((target) => target.startsWith(storage.root));
    };

    it('leaves no stored file open, for the zip as for a single file', async () => {
      const big = await addFinishedRequest(runtime.orm.em, storage, { bytes: 8_000_000 });
      expect(await openStoredFiles()).toEqual([]);
      for (const route of ['stems.zip', 'files/drums.mp3']) {
        const response = await request(`${server.url}${link(big.requestId)}/${route}`);
        for await (const chunk of response.body) {
          expect(chunk.length).toBeGreaterThan(0);
          break;
        }
        await expect.poll(openStoredFiles, { timeout: 5_000 }).toEqual([]);
      }
    });
  });

  describe('links that do not open anything', () => {
    const routes = (base: string) => [base, `${base}/data.json`, `${base}/files/drums.mp3`, `${base}/stems.zip`];

    it('an expired link gets 410 on every route, the page as HTML with the same policy', async () => {
      const expired = link(a.requestId, -1);
      for (const path of routes(expired)) expect((await get(server.url, path)).status, path).toBe(410);
      const page = await get(server.url, expired);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.headers['content-security-policy']).toBe(PAGE_POLICY);
      expect(page.body.toString()).toContain('This link has expired');
    });

    it('a link turns 410 the moment it expires', async () => {
      const path = link(a.requestId, 1);
      expect((await get(server.url, path)).status).toBe(200);
      const start = clock.now;
      clock.now = new Date(start.getTime() + HOUR_MS);
      try {
        expect((await get(server.url, path)).status).toBe(410);
      } finally {
        clock.now = start;
      }
    });

    it('a tampered payload or MAC gets 404 on every route', async () => {
      const token = link(a.requestId).slice(3);
      const [payload, mac] = token.split('.') as [string, string];
      const flip = (text: string, at: number) => `${text.slice(0, at)}${text[at] === 'x' ? 'y' : 'x'}${text.slice(at + 1)}`;
      for (const bad of [`${flip(payload, 5)}.${mac}`, `${payload}.${flip(mac, 5)}`, `${payload}.${mac.slice(0, -2)}`, payload, 'assets', 'not-a-token']) {
        for (const path of routes(`/s/${bad}`)) expect((await get(server.url, path)).status, path).toBe(404);
        expect((await get(server.url, `/s/${bad}`)).body.toString()).toContain('This link is not valid');
      }
    });

    it('a link for A edited to reach B (payload swapped, MAC kept) gets 404', async () => {
      const [, macA] = link(a.requestId).slice(3).split('.') as [string, string];
      const [payloadB] = link(b.requestId).slice(3).split('.') as [string, string];
      for (const path of routes(`/s/${payloadB}.${macA}`)) expect((await get(server.url, path)).status, path).toBe(404);
    });

    it('a file name that is not one of the request\'s own files gets 404, whatever it spells', async () => {
      await writeFile(await storage.prepare(`${separationPrefix(a.separationId)}/masters/drums.wav`), 'master');
      await writeFile(await storage.prepare(`${a.folder}/notes.txt`), 'not a stem');
      const bKey = b.files[0]?.storageKey as string;
      const names = [
        'drums.wav',
        'notes.txt',
        'drums',
        'DRUMS.MP3',
        'drums.mp3.',
        '..',
        '%2e%2e',
        '..%2Fdrums.mp3',
        '%2e%2e%2f%2e%2e%2fmasters%2fdrums.wav',
        `..%2F..%2F..%2F${b.separationId}%2Frenders%2Fmp3-192k-all%2Fdrums.mp3`,
        encodeURIComponent(bKey),
        encodeURIComponent(a.files[0]?.storageKey as string),
        '%00drums.mp3',
      ];
      for (const name of names) expect((await get(server.url, `${link(a.requestId)}/files/${name}`)).status, name).toBe(404);
      // Dot segments the client or the router may fold away still land on no file.
      for (const path of [`${link(a.requestId)}/files/../data.json`, `${link(a.requestId)}/files/./drums.wav`, `${link(a.requestId)}/files/a/../../drums.wav`]) {
        const answer = await get(server.url, path);
        expect(answer.body.equals(Buffer.from('master')), path).toBe(false);
      }
    });

    it('the same file name through A\'s link is A\'s file, never B\'s', async () => {
      const viaA = await get(server.url, `${link(a.requestId)}/files/drums.mp3`);
      expect(viaA.body.equals(a.files[0]?.content as Buffer)).toBe(true);
      expect(viaA.body.equals(b.files[0]?.content as Buffer)).toBe(false);
    });
  });

  describe('after retention', () => {
    it('a request whose files were removed gets 404, its link still unexpired', async () => {
      const gone = await addFinishedRequest(runtime.orm.em, storage, { title: 'Soon gone' });
      const path = link(gone.requestId);
      expect((await get(server.url, path)).status).toBe(200);
      await storage.removeTree(gone.folder);
      for (const route of [path, `${path}/data.json`, `${path}/files/drums.mp3`, `${path}/stems.zip`]) expect((await get(server.url, route)).status, route).toBe(404);
    });

    it('one missing file is enough for the page, the data and the zip to be 404', async () => {
      const partial = await addFinishedRequest(runtime.orm.em, storage, { title: 'Half gone' });
      await storage.removeTree(partial.files[1]?.storageKey as string);
      const path = link(partial.requestId);
      for (const route of [path, `${path}/data.json`, `${path}/stems.zip`, `${path}/files/bass.mp3`]) expect((await get(server.url, route)).status, route).toBe(404);
      expect((await get(server.url, `${path}/files/drums.mp3`)).status).toBe(200);
    });

    it('a request that has not completed gets 404, whatever files it lists', async () => {
      for (const state of ['running', 'failed', 'cancelled'] as const) {
        const unfinished = await addFinishedRequest(runtime.orm.em, storage, { state });
        const path = link(unfinished.requestId);
        for (const route of [path, `${path}/data.json`, `${path}/files/drums.mp3`, `${path}/stems.zip`]) expect((await get(server.url, route)).status, `${state} ${route}`).toBe(404);
      }
    });

    it('a request the retention sweep deleted gets 404', async () => {
      const old = await addFinishedRequest(runtime.orm.em, storage, { title: 'Old', finishedAt: new Date(clock.now.getTime() - 8 * 24 * HOUR_MS) });
      const path = link(old.requestId);
      expect((await get(server.url, path)).status).toBe(200);
      const swept = await sweepRetention(runtime.orm.em, storage, 7, captureLogger().logger, clock.now);
      expect(swept.requests).toBeGreaterThanOrEqual(1);
      for (const route of [path, `${path}/data.json`, `${path}/files/drums.mp3`, `${path}/stems.zip`]) expect((await get(server.url, route)).status, route).toBe(404);
    });
  });

  describe('waveform peaks', () => {
    it('are passed through by stem from peaks.json beside the files, null for a stem it lacks', async () => {
      const request = await addFinishedRequest(runtime.orm.em, storage);
      const drums = { version: 1, sampleRate: 44100, frames: 3, bins: 3, min: [-12, -127, 0], max: [14, 127, 1] };
      await writeFile(await storage.prepare(`${request.folder}/peaks.json`), JSON.stringify({ drums, bass: { min: [-1], max: [1] }, unrelated: [1, 2] }));
      const data = JSON.parse((await get(server.url, `${link(request.requestId)}/data.json`)).body.toString());
      expect(data.peaks).toEqual({ drums, bass: { min: [-1], max: [1] }, other: null, vocals: null });
    });

    it('are left out, with a warning, when peaks.json is too large or not an object by stem', async () => {
      const big = await addFinishedRequest(runtime.orm.em, storage);
      await writeFile(await storage.prepare(`${big.folder}/peaks.json`), JSON.stringify({ drums: Array.from({ length: 600_000 }, () => 127) }));
      const list = await addFinishedRequest(runtime.orm.em, storage);
      await writeFile(await storage.prepare(`${list.folder}/peaks.json`), '[1, 2, 3]');
      const broken = await addFinishedRequest(runtime.orm.em, storage);
      await writeFile(await storage.prepare(`${broken.folder}/peaks.json`), '{"drums": [1, 2');
      for (const request of [big, list, broken]) {
        const answer = await get(server.url, `${link(request.requestId)}/data.json`);
        expect(answer.status).toBe(200);
        expect(JSON.parse(answer.body.toString()).peaks).toEqual({ drums: null, bass: null, other: null, vocals: null });
      }
      const messages = logLines().map((line) => line.msg);
      expect(messages).toContain('waveform peaks too large to serve; the page draws them from the audio');
      expect(messages).toContain('waveform peaks are not a JSON object by stem; ignored');
      expect(messages).toContain('waveform peaks unreadable; ignored');
    });
  });

  describe('static assets', () => {
    it('serve the page script and style with long cache headers', async () => {
      for (const [file, type] of [
        ['stems-page.js', 'text/javascript; charset=utf-8'],
        ['stems-page.css', 'text/css; charset=utf-8'],
      ]) {
        const answer = await get(server.url, `/s/assets/${file}`);
        expect(answer.status).toBe(200);
        expect(answer.headers['content-type']).toBe(type);
        expect(answer.headers['cache-control']).toBe('public, max-age=31536000, immutable');
        expect(answer.body.length).toBeGreaterThan(1000);
      }
    });

    it('serve nothing else', async () => {
      for (const path of ['/s/assets/page-html.js', '/s/assets/..%2Fstems-routes.ts', '/s/assets/%2e%2e%2f%2e%2e%2f%2e%2e%2fpackage.json', '/s/assets/tsconfig.page.json']) {
        expect((await get(server.url, path)).status, path).toBe(404);
      }
    });
  });

  describe('with storage that presigns (S3)', () => {
    it('redirects a file to its presigned URL, expiring with the link at the latest, named for a download', async () => {
      s3Storage.presigned.length = 0;
      const path = link(a.requestId, 0.5);
      const play = await get(s3Server.url, `${path}/files/drums.mp3`);
      expect(play.status).toBe(302);
      expect(play.headers.location).toBe(`https://bucket.s3.example.com/${a.files[0]?.storageKey}?X-Amz-Signature=abc`);
      expect(play.headers['referrer-policy']).toBe('no-referrer');
      const save = await get(s3Server.url, `${path}/files/drums.mp3?download=1`);
      expect(save.status).toBe(302);
      expect(s3Storage.presigned.map((p) => [p.key, p.downloadName])).toEqual([
        [a.files[0]?.storageKey, undefined],
        [a.files[0]?.storageKey, 'drums.mp3'],
      ]);
      for (const presigned of s3Storage.presigned) expect(presigned.expiresAt.getTime()).toBeLessThanOrEqual(clock.now.getTime() + 0.5 * HOUR_MS);
    });

    it('redirects for no more than an hour even when the link lasts a day', async () => {
      s3Storage.presigned.length = 0;
      expect((await get(s3Server.url, `${link(a.requestId, 24)}/files/drums.mp3`)).status).toBe(302);
      expect(s3Storage.presigned[0]?.expiresAt).toEqual(new Date(clock.now.getTime() + HOUR_MS));
    });

    it('lets the page fetch audio from the storage origin, and nothing else from it', async () => {
      const page = await get(s3Server.url, link(a.requestId));
      expect(page.status).toBe(200);
      expect(page.headers['content-security-policy']).toBe(PAGE_POLICY.replace("connect-src 'self'", "connect-src 'self' https://bucket.s3.example.com").replace("media-src 'self'", "media-src 'self' https://bucket.s3.example.com"));
    });

    it('still refuses names outside the request before presigning anything', async () => {
      s3Storage.presigned.length = 0;
      expect((await get(s3Server.url, `${link(a.requestId)}/files/..%2F..%2Fmasters%2Fdrums.wav`)).status).toBe(404);
      expect((await get(s3Server.url, `${link(a.requestId, -1)}/files/drums.mp3`)).status).toBe(410);
      expect(s3Storage.presigned).toEqual([]);
    });
  });
});

describe('the web role with links', () => {
  let database: TestDatabase;
  let temp: { dir: string; remove(): Promise<void> };
  let runtime: Runtime;
  let core: StembotCore;
  let config: Config;
  let web: WebRole;
  let bare: WebRole;

  beforeAll(async () => {
    database = await createTestDatabase();
    temp = await makeTempDir();
    config = parseConfig({ DATABASE_URL: database.url, QUEUE_NAMESPACE: uniqueNamespace(), DATA_DIR: temp.dir, PUBLIC_URL: 'https://Stems.Example.com/bot/', WEB_PORT: '0' });
    const { logger } = captureLogger('warn');
    runtime = await openRuntime(config, logger);
    core = new StembotCore({ em: runtime.orm.em, config, queues: runtime.queues, fetchers: {} as never, logger });
    const options = { settings: config.web, core, runtime, roles: () => [], defaultModel: 'htdemucs', logger };
    web = await startWebRole({ ...options, links: { settings: config.links, retentionDays: config.retentionDays } });
    bare = await startWebRole(options);
  });
  afterAll(async () => {
    await web?.stop();
    await bare?.stop();
    await core?.close();
    await runtime?.close();
    await database?.drop();
    await temp?.remove();
  });

  it('opens a link made with the database key, answering PUBLIC_URL\'s host', async () => {
    const request = await addFinishedRequest(runtime.orm.em, new LocalStorage(config.storageDir));
    const { url } = (await openStemsLinks(runtime.orm.em, config)).linkFor({ id: request.requestId, finishedAt: new Date() });
    expect(url).toMatch(/^https:\/\/stems\.example\.com\/bot\/s\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const path = new URL(url).pathname.replace(/^\/bot/, '');
    expect((await get(web.url, path, { host: 'stems.example.com' })).status).toBe(200);
    expect((await get(web.url, `${path}/files/vocals.mp3`, { host: 'stems.example.com:443' })).body.equals(request.files[3]?.content as Buffer)).toBe(true);
    expect((await get(web.url, '/healthz', { host: 'stems.example.com' })).status).toBe(200);
    expect((await get(web.url, path, { host: 'evil.example' })).status).toBe(421);
  });

  it('serves no stems pages without link settings, and answers only its usual hosts', async () => {
    const request = await addFinishedRequest(runtime.orm.em, new LocalStorage(config.storageDir));
    const { url } = (await openStemsLinks(runtime.orm.em, config)).linkFor({ id: request.requestId, finishedAt: new Date() });
    const path = new URL(url).pathname.replace(/^\/bot/, '');
    expect((await get(bare.url, path)).status).toBe(404);
    expect((await get(bare.url, '/healthz', { host: 'stems.example.com' })).status).toBe(421);
  });
});
