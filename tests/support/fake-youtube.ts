import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect as netConnect, type AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { YtdlDownloaderOptions } from '../../worker/fetch/youtube/ytdl-downloader.js';

/**
 * YouTube as the two downloaders see it, on 127.0.0.1 (this machine cannot reach the real one):
 *
 * - for ytdl-core, handmade copies of what it fetches: the watch page with its player response, a
 *   player script whose decipher and n functions its parser recognises, and the player API;
 * - for yt-dlp, a page whose JSON-LD names the audio file, which its generic extractor downloads;
 * - the audio bytes for both, at /media/<id>.
 *
 * Each request's Cookie header is recorded, so a test can tell the cookies went along.
 */
export interface FakeVideo {
  title: string;
  seconds: number;
  audio: Buffer;
  /** The format's MIME type in the player response, and the media's Content-Type; default MP3 (as makeSong writes). */
  mimeType?: string;
  /** What YouTube's player response says instead of serving the video (ytdl-core reads it). */
  refuse?: { status: 'LOGIN_REQUIRED' | 'ERROR' | 'UNPLAYABLE'; reason: string };
  /** The HTTP status yt-dlp's page answers with instead (429 is YouTube's "too many requests"). */
  pageStatus?: number;
  /** Serve the audio this many bytes every 50 ms (a slow download to cancel); default all at once. */
  bytesPerTick?: number;
}

export interface SeenRequest {
  method: string;
  path: string;
  cookie: string | undefined;
}

/**
 * Matches ytdl-core's decipher and n-transform patterns (sig.js): the global string table it
 * looks for first, a helper object of reverse/splice/swap steps with the function using it, and
 * an n function with its try/catch. The
 * media URLs carry neither `s` nor `n`, so neither changes them; they only have to parse.
 */
const PLAYER_SCRIPT = [
  'var Tq="x;y;z".split(";");',
  'var Xy={Ab:function(a){a.reverse()},Cd:function(a,b){a.splice(0,b)},Ef:function(a,b){var c=a[0];a[0]=a[b%a.length];a[b%a.length]=c}};',
  'var dec=function(a){a=a.split("");Xy.Ab(a,3);Xy.Cd(a,1);return a.join("")};',
  'var nf=function(a){var b=a.split(""),c=[b];c[0];try{b.reverse()}catch(d){return"enhanced_except_x"+a}return b.join("")};',
  'var sts={signatureTimestamp:20000};',
].join('\n');
/** Debian's yt-dlp, which .ci/run installs: too old for YouTube itself, but its generic extractor reads our pages. */
export const REAL_YTDLP = '/usr/bin/yt-dlp';
const PLAYER_PATH = '/s/player/fake0001/player_ias.vflset/en_US/base.js';

export class FakeYouTube {
  readonly requests: SeenRequest[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly videos: Record<string, FakeVideo>,
  ) {}

  static async start(videos: Record<string, FakeVideo>): Promise<FakeYouTube> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const fake = new FakeYouTube(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, videos);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void fake.handle(req, res).catch(() => res.destroy()));
    return fake;
  }

  /** yt-dlp's page for a video (its `urlFor` option). */
  readonly pageFor = (videoId: string): string => `${this.url}/page/${videoId}`;

  /**
   * ytdl-core's connections to YouTube's hosts, opened to this server instead (its `connect`
   * option): the requests keep their https URLs, and so the cookie jar's view of them.
   */
  readonly connect: NonNullable<YtdlDownloaderOptions['connect']> = (_options, callback) => {
    const socket = netConnect(Number(new URL(this.url).port), '127.0.0.1');
    socket.once('connect', () => callback(null, socket));
    socket.once('error', (error) => callback(error, null));
  };

  /**
   * A stand-in for the yt-dlp program (as YTDLP_PATH) that runs the real one with YouTube's watch
   * links swapped for this server's pages, and notes each run's pid and arguments, so a test can
   * reach the real yt-dlp through the CLI and see what it was given.
   */
  async ytDlpWrapper(dir: string): Promise<{ program: string; runs: () => Promise<{ pid: number; args: string[] }[]> }> {
    const program = path.join(dir, 'yt-dlp');
    const log = path.join(dir, 'yt-dlp-runs.log');
    const script = [
      '#!/bin/sh',
      `printf '%s\\n' "$$ $*" >> '${log}'`,
      'for arg; do',
      '  shift',
      '  case "$arg" in',
      `    https://www.youtube.com/watch?v=*) set -- "$@" "${this.url}/page/\${arg#*v=}" ;;`,
      '    *) set -- "$@" "$arg" ;;',
      '  esac',
      'done',
      `exec ${REAL_YTDLP} "$@"`,
    ].join('\n');
    await writeFile(program, `${script}\n`, { mode: 0o755 });
    const runs = async () =>
      (await readFile(log, 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [pid = '', ...args] = line.split(' ');
          return { pid: Number(pid), args };
        });
    return { program, runs };
  }

  /** Cookie headers of the requests whose path starts with `prefix`. */
  cookiesSentTo(prefix: string): (string | undefined)[] {
    return this.requests.filter((request) => request.path.startsWith(prefix)).map((request) => request.cookie);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, cookie: req.headers.cookie });
    const [, route = '', id = ''] = url.pathname.split('/');
    if (route === 'watch') return this.watchPage(res, url.searchParams.get('v') ?? '');
    if (url.pathname === PLAYER_PATH) return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(PLAYER_SCRIPT);
    if (url.pathname === '/youtubei/v1/player') return this.json(res, this.playerResponse(url.searchParams.get('id') ?? ''));
    if (route === 'page') return this.ytDlpPage(res, id);
    if (route === 'media') return this.media(res, id);
    res.writeHead(404).end();
  }

  private watchPage(res: ServerResponse, videoId: string): void {
    const body = [
      '<!doctype html><html><head>',
      `<script>ytcfg.set({"jsUrl":"${PLAYER_PATH}"});</script></head><body>`,
      `<script>var ytInitialPlayerResponse = ${JSON.stringify(this.playerResponse(videoId))};</script>`,
      '<script>var ytInitialData = {"contents":{"twoColumnWatchNextResults":{}}};</script>',
      '</body></html>',
    ].join('\n');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body);
  }

  /** The player response as YouTube's watch page and player API give it, trimmed to what ytdl-core reads. */
  private playerResponse(videoId: string): Record<string, unknown> {
    const video = this.videos[videoId];
    if (!video) return { playabilityStatus: { status: 'ERROR', reason: 'Video unavailable' } };
    const details = { videoId, title: video.title, lengthSeconds: String(video.seconds), author: 'Fake Channel', channelId: 'UCfakechannel000000000', thumbnail: { thumbnails: [] }, isLiveContent: false, isPrivate: false };
    if (video.refuse) return { playabilityStatus: video.refuse, videoDetails: details };
    const format = {
      itag: 140,
      url: `${this.url}/media/${videoId}`,
      mimeType: video.mimeType ?? 'audio/mpeg',
      bitrate: 130_000,
      contentLength: String(video.audio.length),
      audioQuality: 'AUDIO_QUALITY_MEDIUM',
      approxDurationMs: String(video.seconds * 1000),
      audioSampleRate: '44100',
      audioChannels: 2,
    };
    return {
      playabilityStatus: { status: 'OK' },
      streamingData: { adaptiveFormats: [format] },
      videoDetails: details,
      microformat: { playerMicroformatRenderer: { title: { simpleText: video.title }, lengthSeconds: String(video.seconds), category: 'Music', isFamilySafe: true } },
    };
  }

  private ytDlpPage(res: ServerResponse, videoId: string): void {
    const video = this.videos[videoId];
    if (!video || video.pageStatus) return void res.writeHead(video?.pageStatus ?? 404).end();
    const jsonLd = { '@context': 'https://schema.org', '@type': 'VideoObject', name: video.title, duration: `PT${video.seconds}S`, contentUrl: `${this.url}/media/${videoId}`, uploadDate: '2024-01-01' };
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><html><head><title>${video.title}</title><script type="application/ld+json">${JSON.stringify(jsonLd)}</script></head><body></body></html>`);
  }

  private async media(res: ServerResponse, videoId: string): Promise<void> {
    const video = this.videos[videoId];
    if (!video) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': (video.mimeType ?? 'audio/mpeg').split(';')[0] as string, 'content-length': video.audio.length });
    const step = video.bytesPerTick ?? video.audio.length;
    for (let offset = 0; offset < video.audio.length && !res.destroyed; offset += step) {
      res.write(video.audio.subarray(offset, offset + step));
      if (offset + step < video.audio.length) await sleep(50);
    }
    res.end();
  }

  private json(res: ServerResponse, body: unknown): void {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
  }
}
