import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RequestSource } from '../../../core/db/entities/separation-request.js';
import { UserError } from '../../../core/errors.js';
import { locateFfmpeg } from '../../../worker/audio/ffmpeg.js';
import { AttachmentFetcher } from '../../../worker/fetch/attachment-fetcher.js';
import { FakeDiscord } from '../../support/fake-discord/index.js';
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
  /** The platform's file host: its downloads can be slowed down and cut off. */
  let files: FakeDiscord;
  let faulty: AttachmentFetcher;
  beforeAll(async () => {
    files = await FakeDiscord.start();
    faulty = new AttachmentFetcher({ ffprobe: 'ffprobe', logger: captureLogger('silent').logger, extraHosts: { discord: [new URL(files.url).host] }, retry: { attempts: 1, firstDelayMs: 10 } });
  });
  afterEach(() => {
    files.throttleDownloads(undefined);
    files.cutDownloadsAfter(undefined);
  });
  afterAll(async () => files.close());

  const faultyUpload = (): { source: RequestSource; downloads: () => string[] } => {
    const attachment = files.registerAttachment('song.mp3', songBytes, 'audio/mpeg');
    return {
      source: { kind: 'attachment', platform: 'discord', url: attachment.url, filename: attachment.filename, bytes: songBytes.length },
      downloads: () => files.downloads.filter((d) => d.attachmentId === attachment.id).map((d) => d.state),
    };
  };
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
  /** The download stopped without its last byte. */
  const cutOff = (upload: { downloads: () => string[] }) => files.waitFor(() => (upload.downloads()[0] === 'cut' ? true : undefined));

  it('fails the stream with a retry-later UserError when the host resets the connection', async () => {
    files.cutDownloadsAfter(songBytes.length >> 1);
    const error = await readAll(await faulty.open(faultyUpload().source, {}));
    expect(error).toBeInstanceOf(UserError);
    expect(error).toMatchObject({ code: 'attachment_unreachable', message: 'The uploaded file could not be downloaded; try again later.' });
  });

  it('fails the stream with the cancel and ends the transfer when the job is cancelled mid-download', async () => {
    files.throttleDownloads(20_000);
    const slow = faultyUpload();
    const controller = new AbortController();
    const cancel = new UserError('cancelled', 'This separation was cancelled.');
    let downloading: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (downloading = resolve));
    const reading = readAll(await faulty.open(slow.source, { signal: controller.signal, onProgress: () => downloading() }));
    await started;
    controller.abort(cancel);
    expect(await reading).toBe(cancel);
    await cutOff(slow);
  });

  it('ends the transfer when the reader gives up on the stream', async () => {
    files.throttleDownloads(20_000);
    const slow = faultyUpload();
    const stream = await faulty.open(slow.source, {});
    await once(stream, 'data');
    stream.destroy();
    await cutOff(slow);
  });
});
