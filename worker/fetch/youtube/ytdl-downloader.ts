import { PassThrough, pipeline, type Readable } from 'node:stream';
import ytdl from '@distube/ytdl-core';
import type { buildConnector } from 'undici';
import type { OpenOptions, SourceInfo } from '../../../core/sources.js';
import { downloadStream } from '../download-stream.js';
import { isNetworkError, withRetries, type RetryPolicy } from '../retry.js';
import type { YouTubeCookies } from './cookies.js';
import type { DownloaderIdentity, YouTubeDownloader } from './downloader.js';
import { DownloadFailure, kindYouTubeReports, type FailureKind } from './failure-kinds.js';

/** The parts of ytdl-core's video details that decide whether a video can be separated. */
export interface VideoDetails {
  title: string;
  lengthSeconds: string;
  isLiveContent: boolean;
  isUpcoming?: boolean;
  age_restricted: boolean;
}

/** Title and duration of a video, or why it cannot be separated (live, upcoming, age-restricted). */
export function describeVideo(details: VideoDetails, by: DownloaderIdentity): SourceInfo {
  const seconds = Number(details.lengthSeconds);
  if (details.isLiveContent && !(seconds > 0)) throw new DownloadFailure('live', by);
  if (details.isUpcoming) throw new DownloadFailure('upcoming', by);
  if (details.age_restricted) throw new DownloadFailure('age_restricted', by);
  if (!(seconds > 0)) throw new DownloadFailure('unavailable', by, { message: 'That video has no length we can read; check the link.' });
  return { title: details.title, durationSeconds: seconds };
}

/**
 * ytdl-core's own words for "YouTube's player or pages no longer look as we expect": its decipher
 * and n-transform extraction failing leaves formats without URLs, which it reports as none playable.
 */
const PLAYER_PARSE = /could not (?:parse|find|extract)|error when parsing watch\.html|unable to find html5player|no playable formats|failed to find any playable formats|malformed response|can't cut unsupported json/i;

/** The kind of a ytdl-core failure: its errors are English prose (YouTube's reasons passed on, or its own). */
export function classifyYtdlError(error: unknown): FailureKind {
  if (isNetworkError(error)) return 'network';
  const message = error instanceof Error ? error.message : String(error);
  return kindYouTubeReports(message) ?? (PLAYER_PARSE.test(message) ? 'player_parse' : 'unknown');
}

export interface YtdlDownloaderOptions {
  /** YOUTUBE_COOKIES, sent with every request to YouTube through ytdl-core's cookie agent. */
  cookies?: YouTubeCookies | undefined;
  /** Retries of a lookup that met a network error; default 3 tries, 1 s apart then doubling. */
  retry?: RetryPolicy;
  /**
   * Tests only: opens the connections for ytdl-core's requests to YouTube's pages and APIs (to a
   * local stand-in speaking plain HTTP). Not a setting: users' links are parsed to a video id, and
   * YouTube is the only place it is looked up.
   */
  connect?: buildConnector.connector;
}

/**
 * YouTube through @distube/ytdl-core, in this process: the maintained fork of ytdl-core (the
 * original stopped following YouTube's player changes in 2023). It needs YTDL_NO_UPDATE=1 so it
 * does not check for updates at run time.
 */
export class YtdlDownloader implements YouTubeDownloader {
  readonly name = 'ytdl';
  // ytdl-core's typings call it a number; it is package.json's version string.
  readonly version = String(ytdl.version);
  /** One agent for the process: its jar keeps the cookies, and the ones YouTube sets on the way. */
  private readonly agent: ytdl.Agent;

  constructor(private readonly options: YtdlDownloaderOptions = {}) {
    process.env.YTDL_NO_UPDATE ??= '1';
    this.agent = ytdl.createAgent(options.cookies?.forYtdl() ?? [], options.connect ? { connect: options.connect } : {});
  }

  async describe(videoId: string, signal?: AbortSignal): Promise<SourceInfo> {
    const info = await this.info(videoId, signal);
    return describeVideo(info.videoDetails, this);
  }

  async download(videoId: string, options: OpenOptions): Promise<Readable> {
    const info = await this.info(videoId, options.signal);
    let format: ytdl.videoFormat;
    try {
      format = ytdl.chooseFormat(info.formats, { quality: 'highestaudio', filter: 'audioonly' });
    } catch (error) {
      throw this.failure(error);
    }
    const download = ytdl.downloadFromInfo(info, { format, highWaterMark: 1 << 22, agent: this.agent });
    download.on('progress', (_chunk: number, downloaded: number, total: number) => options.onProgress?.(total > 0 ? downloaded / total : 0));
    // ytdl takes no signal; its stream is ended by hand, and the listener goes with the stream.
    const stop = (): void => void download.destroy();
    options.signal?.addEventListener('abort', stop, { once: true });
    download.once('close', () => options.signal?.removeEventListener('abort', stop));
    // ytdl reports a failed download as an 'error' event, possibly before anyone reads: pipeline
    // listens from now on and hands the error to `body`, where the reader meets it.
    const body = new PassThrough();
    pipeline(download, body, () => undefined);
    return downloadStream(body, { signal: options.signal, abort: stop, explain: (error) => this.failure(error) });
  }

  private async info(videoId: string, signal?: AbortSignal): Promise<ytdl.videoInfo> {
    try {
      return await withRetries(() => ytdl.getInfo(videoId, { agent: this.agent }), isNetworkError, this.options.retry ?? { attempts: 3, firstDelayMs: 1000 }, signal);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw this.failure(error);
    }
  }

  private failure(error: unknown): DownloadFailure {
    return new DownloadFailure(classifyYtdlError(error), this, { cause: error });
  }
}
