import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestSource } from '../../../core/db/entities/separation-request.js';
import { UserError } from '../../../core/errors.js';
import { locateFfmpeg } from '../../../worker/audio/ffmpeg.js';
import { AttachmentFetcher } from '../../../worker/fetch/attachment-fetcher.js';
import { FaultyFileHost } from '../../support/faulty-file-host.js';
import { makeSong } from '../../support/stembot-harness.js';
import { captureLogger, makeTempDir } from '../../support/services.js';
import { rejectsWithUserError } from '../../support/user-error.js';

let server: Server;
let host: string;
let songBytes: Buffer;
let temp: { dir: string; remove(): Promise<void> };
let fetcher: AttachmentFetcher;

beforeAll(async () => {
  temp = await makeTempDir('stembot-attachments-');
  const { ffmpeg, ffprobe } = await locateFfmpeg({ searchPath: process.env.PATH });
  songBytes = await readFile(await makeSong(ffmpeg, path.join(temp.dir, 'song.mp3'), 5));
  server = createServer((req, res) => {
    if (req.url?.startsWith('/attachments/1/song.mp3')) return res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': songBytes.length }).end(songBytes);
    if (req.url?.startsWith('/attachments/2/notes.mp3')) return res.writeHead(200, { 'content-type': 'audio/mpeg' }).end('these are my notes, not a song\n'.repeat(50));
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  fetcher = new AttachmentFetcher({ ffprobe, logger: captureLogger('silent').logger, extraHosts: { discord: [host] }, retry: { attempts: 1, firstDelayMs: 10 } });
});
afterAll(async () => {
  server.close();
  await temp.remove();
});

const upload = (file: string, overrides: Partial<Extract<RequestSource, { kind: 'attachment' }>> = {}): RequestSource => ({
  kind: 'attachment',
  platform: 'discord',
  url: `http://${host}/attachments/${file}?ex=abc&is=def`,
  filename: path.basename(file),
  bytes: 1000,
  ...overrides,
});


describe('attachments', () => {
  it('reads title and duration of an upload from the platform file host, checked by ffprobe', async () => {
    const info = await fetcher.inspect(upload('1/song.mp3'));
    expect(info.title).toBe('song.mp3');
    expect(info.durationSeconds).toBeGreaterThan(4.9);
  });

  it('streams the upload for the decoder, reporting progress', async () => {
    const fractions: number[] = [];
    const stream = await fetcher.open(upload('1/song.mp3', { bytes: songBytes.length }), { onProgress: (f) => fractions.push(f) });
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(songBytes)).toBe(true);
    expect(fractions.at(-1)).toBe(1);
  });

  it('refuses URLs that are not the platform’s own file host', async () => {
    const error = await rejectsWithUserError(fetcher.inspect(upload('1/song.mp3', { url: 'https://evil.example/song.mp3' })));
    expect(error.message).toBe('Only files uploaded to Discord itself can be separated.');
    expect((await rejectsWithUserError(fetcher.inspect(upload('1/song.mp3', { platform: 'slack' })))).code).toBe('attachment_host');
  });

  it('refuses an upload over the size cap before downloading it', async () => {
    expect((await rejectsWithUserError(fetcher.open(upload('1/song.mp3', { bytes: 300 * 1024 * 1024 }), {}))).code).toBe('attachment_too_big');
  });

  it('refuses a file that is not audio, and one that is gone', async () => {
    expect((await rejectsWithUserError(fetcher.inspect(upload('2/notes.mp3')))).message).toMatch(/^notes\.mp3: /);
    expect((await rejectsWithUserError(fetcher.open(upload('3/gone.mp3'), {}))).code).toBe('attachment_gone');
  });
});

describe('attachments that fail mid-download', () => {
  let files: FaultyFileHost;
  let faulty: AttachmentFetcher;
  beforeAll(async () => {
    files = await FaultyFileHost.start({ '/attachments/4/reset.mp3': { bytes: songBytes, serving: 'reset' }, '/attachments/5/slow.mp3': { bytes: songBytes, serving: 'trickle' } });
    faulty = new AttachmentFetcher({ ffprobe: 'ffprobe', logger: captureLogger('silent').logger, extraHosts: { discord: [files.host] }, retry: { attempts: 1, firstDelayMs: 10 } });
  });
  afterAll(async () => files.close());

  const faultyUpload = (file: string): RequestSource => ({ kind: 'attachment', platform: 'discord', url: files.url(`/attachments/${file}`), filename: path.basename(file), bytes: songBytes.length });
  const readAll = async (stream: Readable): Promise<unknown> => {
    try {
      for await (const _chunk of stream) {
        // draining
      }
    } catch (error) {
      return error;
    }
    return undefined;
  };

  it('fails the stream with a retry-later UserError when the host resets the connection', async () => {
    const error = await readAll(await faulty.open(faultyUpload('4/reset.mp3'), {}));
    expect(error).toBeInstanceOf(UserError);
    expect(error).toMatchObject({ code: 'attachment_unreachable', message: 'The uploaded file could not be downloaded; try again later.' });
  });

  it('fails the stream with the cancel and ends the transfer when the job is cancelled mid-download', async () => {
    const controller = new AbortController();
    const cancel = new UserError('cancelled', 'This separation was cancelled.');
    const transfer = files.nextTransfer('/attachments/5/slow.mp3');
    let downloading: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (downloading = resolve));
    const reading = readAll(await faulty.open(faultyUpload('5/slow.mp3'), { signal: controller.signal, onProgress: () => downloading() }));
    await started;
    controller.abort(cancel);
    expect(await reading).toBe(cancel);
    expect(await (await transfer).closed).toEqual({ completed: false });
  });

  it('ends the transfer when the reader gives up on the stream', async () => {
    const transfer = files.nextTransfer('/attachments/5/slow.mp3');
    const stream = await faulty.open(faultyUpload('5/slow.mp3'), {});
    await once(stream, 'data');
    stream.destroy();
    expect(await (await transfer).closed).toEqual({ completed: false });
  });
});
