import { once } from 'node:events';
import type { lookup } from 'node:dns';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RequestSource } from '../../../core/db/entities/separation-request.js';
import { UserError } from '../../../core/errors.js';
import { locateFfmpeg } from '../../../worker/audio/ffmpeg.js';
import { AttachmentFetcher } from '../../../worker/fetch/attachment-fetcher.js';
import type { FfmpegTools } from '../../../worker/audio/ffmpeg.js';
import { hlsPlaylist, makeLyingMp3 } from '../../support/hostile-files.js';
import { FakeDiscord } from '../../support/fake-discord/index.js';
import { makeSong } from '../../support/stembot-harness.js';
import { captureLogger, makeTempDir } from '../../support/services.js';
import { rejectsWithUserError } from '../../support/user-error.js';

let server: Server;
let host: string;
let songBytes: Buffer;
let temp: { dir: string; remove(): Promise<void> };
let fetcher: AttachmentFetcher;
let tools: FfmpegTools;
/** A server inside the network that no upload may make us reach: it records every request it gets. */
let internal: Server;
let internalUrl: string;
const internalHits: string[] = [];
let lyingBytes: Buffer;
/** Downloads of the slow upload in progress right now, and the most there ever were at once. */
let slowActive = 0;
let slowMostAtOnce = 0;

const listen = async (handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<[Server, string]> => {
  const listening = createServer(handler);
  await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
  return [listening, `127.0.0.1:${(listening.address() as AddressInfo).port}`];
};

beforeAll(async () => {
  temp = await makeTempDir('stembot-attachments-');
  tools = await locateFfmpeg({ searchPath: process.env.PATH });
  songBytes = await readFile(await makeSong(tools.ffmpeg, path.join(temp.dir, 'song.mp3'), 5));
  lyingBytes = await makeLyingMp3(tools.ffmpeg, path.join(temp.dir, 'liar.mp3'), 10, 300);
  [internal, internalUrl] = await listen((req, res) => {
    internalHits.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': songBytes.length }).end(songBytes);
  });
  [server, host] = await listen((req, res) => {
    if (req.url?.startsWith('/attachments/1/song.mp3')) return res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': songBytes.length }).end(songBytes);
    if (req.url?.startsWith('/attachments/2/notes.mp3')) return res.writeHead(200, { 'content-type': 'audio/mpeg' }).end('these are my notes, not a song\n'.repeat(50));
    if (req.url?.startsWith('/attachments/4/playlist.mp3')) return res.writeHead(200, { 'content-type': 'audio/mpeg' }).end(hlsPlaylist(`http://${internalUrl}/seg.ts`));
    if (req.url?.startsWith('/attachments/5/away.mp3')) return res.writeHead(302, { location: `http://${internalUrl}/secret.mp3` }).end();
    if (req.url?.startsWith('/attachments/6/moved.mp3')) return res.writeHead(301, { location: '/attachments/1/song.mp3?moved=1' }).end();
    if (req.url?.startsWith('/attachments/7/loop.mp3')) return res.writeHead(302, { location: '/attachments/7/loop.mp3' }).end();
    if (req.url?.startsWith('/attachments/8/liar.mp3')) return res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': lyingBytes.length }).end(lyingBytes);
    if (req.url?.startsWith('/attachments/9/slow.mp3')) {
      slowActive += 1;
      slowMostAtOnce = Math.max(slowMostAtOnce, slowActive);
      res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': songBytes.length }).write(songBytes.subarray(0, 1000));
      setTimeout(() => {
        slowActive -= 1;
        res.end(songBytes.subarray(1000));
      }, 150);
      return;
    }
    res.writeHead(404).end();
  });
  fetcher = new AttachmentFetcher({ tools, tempDir: temp.dir, logger: captureLogger('silent').logger, extraHosts: { discord: [host] }, retry: { attempts: 1, firstDelayMs: 10 } });
});
afterAll(async () => {
  await fetcher.close();
  server.close();
  internal.close();
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

  it('leaves nothing behind in the temp directory once an upload is inspected', async () => {
    await fetcher.inspect(upload('1/song.mp3'));
    await rejectsWithUserError(fetcher.inspect(upload('2/notes.mp3')));
    expect(await readdir(temp.dir)).toEqual(expect.not.arrayContaining([expect.stringMatching(/-\d+-/)]));
  });

  it('follows a redirect that stays on the platform’s file host', async () => {
    expect((await fetcher.inspect(upload('6/moved.mp3'))).durationSeconds).toBeGreaterThan(4.9);
  });
});

describe('hostile uploads', () => {
  afterEach(() => {
    internalHits.length = 0;
  });

  it('refuses an HLS playlist posing as song.mp3 without fetching the segment it names', async () => {
    const error = await rejectsWithUserError(fetcher.inspect(upload('4/playlist.mp3')));
    expect(error).toMatchObject({ code: 'audio_container', message: expect.stringMatching(/^playlist\.mp3: That file is not an audio file/) });
    expect(internalHits).toEqual([]);
  });

  it('does not follow a redirect off the file host, neither to inspect nor to download', async () => {
    expect(await rejectsWithUserError(fetcher.inspect(upload('5/away.mp3')))).toMatchObject({ code: 'attachment_host', message: 'Only files uploaded to Discord itself can be separated.' });
    expect((await rejectsWithUserError(fetcher.open(upload('5/away.mp3'), {}))).code).toBe('attachment_host');
    expect(internalHits).toEqual([]);
  });

  it('gives up on a redirect loop', async () => {
    expect((await rejectsWithUserError(fetcher.inspect(upload('7/loop.mp3')))).code).toBe('attachment_redirects');
  });

  it('reads a URL the way it is fetched: a backslash-and-at trick stays on the allowed host', async () => {
    const tricky = upload('1/song.mp3', { url: `http://${host}\\@${internalUrl}/attachments/1/song.mp3` });
    expect((await rejectsWithUserError(fetcher.inspect(tricky))).code).toBe('attachment_gone');
    expect(internalHits).toEqual([]);
  });

  it('refuses URLs with credentials, other schemes and other ports of an allowed host', async () => {
    for (const url of [`http://user:pw@${host}/attachments/1/song.mp3`, `file:///etc/passwd`, `http://${host.split(':')[0]}:1/attachments/1/song.mp3`]) {
      expect((await rejectsWithUserError(fetcher.inspect(upload('1/song.mp3', { url })))).code).toBe('attachment_host');
    }
  });

  it('does not connect to a platform file host whose name resolves to a private address', async () => {
    const lied: typeof lookup = ((_host: string, _options: unknown, callback: (error: null, addresses: { address: string; family: number }[]) => void) =>
      callback(null, [{ address: '127.0.0.1', family: 4 }])) as unknown as typeof lookup;
    const rebound = new AttachmentFetcher({ tools, tempDir: temp.dir, logger: captureLogger('silent').logger, resolve: lied, retry: { attempts: 1, firstDelayMs: 10 } });
    try {
      const source = upload('1/song.mp3', { url: 'https://cdn.discordapp.com/attachments/1/2/song.mp3' });
      expect((await rejectsWithUserError(rebound.inspect(source))).code).toBe('attachment_host');
    } finally {
      await rebound.close();
    }
  });

  it('checks at most 4 uploads at once, lets 16 wait, and turns the next away', async () => {
    const outcomes: Promise<string>[] = [];
    for (let i = 0; i < 21; i += 1) {
      outcomes.push(fetcher.inspect(upload('9/slow.mp3')).then(() => 'checked', (error: UserError) => error.code));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await Promise.all(outcomes)).toEqual([...Array<string>(20).fill('checked'), 'busy']);
    expect(slowMostAtOnce).toBe(4);
  });

  it('charges the length the frames add up to, not the 10 s the header claims', async () => {
    const info = await fetcher.inspect(upload('8/liar.mp3'));
    expect(info.durationSeconds).toBeGreaterThan(300);
  });
});

describe('attachments that fail mid-download', () => {
  /** The platform's file host: its downloads can be slowed down and cut off. */
  let files: FakeDiscord;
  let faulty: AttachmentFetcher;
  beforeAll(async () => {
    files = await FakeDiscord.start();
    faulty = new AttachmentFetcher({ tools, logger: captureLogger('silent').logger, extraHosts: { discord: [new URL(files.url).host] }, retry: { attempts: 1, firstDelayMs: 10 } });
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
