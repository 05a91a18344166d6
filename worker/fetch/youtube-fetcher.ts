import type { Readable } from 'node:stream';
import type { RequestSource } from '../../core/db/entities/separation-request.js';
import type { Logger } from '../../core/logging.js';
import { youtubeFailures } from '../../core/metrics.js';
import type { OpenOptions, SourceFetcher, SourceInfo } from '../../core/sources.js';
import type { YouTubeDownloader } from './youtube/downloader.js';
import { chosenDownloaders, installedDownloaders, type YouTubeSettings } from './youtube/downloaders.js';
import { FallbackDownloader } from './youtube/fallback.js';
import { FAILURE_KINDS, isVideoFault, operatorAdvice, type DownloadFailure } from './youtube/failure-kinds.js';

/** A downloader's own words can run long (ytdl-core may quote a whole page): the log line keeps the start. */
const DETAIL_CHARS = 500;

export interface YouTubeFetcherOptions {
  /** In the order they are asked: the one YOUTUBE_DOWNLOADER names, or for `auto` yt-dlp (when installed) then ytdl. */
  downloaders: readonly YouTubeDownloader[];
  logger: Logger;
  /**
   * How long a downloader's failure kind stays out of the log after its warning; default 10
   * minutes. When YouTube blocks the server every request fails alike: one line says so, the
   * next counts the ones in between, and the metric counts each.
   */
  quietMs?: number;
}

/**
 * YouTube videos as a source: metadata at submit, audio bytes in the worker, through the configured
 * downloaders. Users get the failure's short message; operators get a warning per downloader and
 * kind of failure, with the downloader's version and what to do, and stembot_youtube_failures_total.
 */
export class YouTubeFetcher implements SourceFetcher {
  private readonly downloaders: FallbackDownloader;
  private readonly lastWarning = new Map<string, { at: number; since: number }>();

  constructor(private readonly options: YouTubeFetcherOptions) {
    for (const downloader of options.downloaders) for (const kind of FAILURE_KINDS) youtubeFailures.inc({ kind, downloader: downloader.name }, 0);
    this.downloaders = new FallbackDownloader(options.downloaders, { logger: options.logger, onFailure: (failure, videoId) => this.report(failure, videoId) });
  }

  inspect(source: RequestSource, signal?: AbortSignal): Promise<SourceInfo> {
    return this.downloaders.describe(videoIdOf(source), signal);
  }

  open(source: RequestSource, options: OpenOptions): Promise<Readable> {
    return this.downloaders.download(videoIdOf(source), options);
  }

  private report(failure: DownloadFailure, videoId: string): void {
    youtubeFailures.inc({ kind: failure.kind, downloader: failure.downloader });
    const fields = { videoId, kind: failure.kind, downloader: failure.downloader, version: failure.version, detail: failure.detail.slice(0, DETAIL_CHARS) };
    if (isVideoFault(failure.kind)) {
      this.options.logger.debug(fields, 'youtube refused the video');
      return;
    }
    const key = `${failure.downloader}/${failure.kind}`;
    const now = Date.now();
    const last = this.lastWarning.get(key);
    if (last && now - last.at < (this.options.quietMs ?? 10 * 60_000)) {
      last.since += 1;
      return;
    }
    this.lastWarning.set(key, { at: now, since: 0 });
    this.options.logger.warn({ ...fields, ...(last?.since ? { alikeSinceLastWarning: last.since } : {}), advice: operatorAdvice(failure.kind) }, 'youtube download failed');
  }
}

/**
 * The fetcher YOUTUBE_DOWNLOADER, YOUTUBE_COOKIES and YTDLP_PATH describe. A setting that cannot
 * work (yt-dlp asked for and missing, a cookies file others may read) stops start-up with a UserError.
 */
export async function createYouTubeFetcher(settings: YouTubeSettings, deps: { tempDir: string; searchPath: string | undefined; logger: Logger }): Promise<YouTubeFetcher> {
  const installed = await installedDownloaders(settings, { tempDir: deps.tempDir, searchPath: deps.searchPath, skipYtDlp: settings.downloader === 'ytdl' });
  const downloaders = chosenDownloaders(settings.downloader, installed);
  const announce = (): void => {
    const names = downloaders.map((downloader) => `${downloader.name} ${downloader.version}`);
    deps.logger.info({ setting: settings.downloader, downloaders: names, cookies: installed.cookies?.count ?? 0 }, 'youtube downloaders ready');
  };
  // yt-dlp's version is read while the rest starts; the line waits for it.
  if (installed.ytdlp && settings.downloader !== 'ytdl') {
    installed.ytdlp.ready.then(announce, (error: unknown) => deps.logger.warn({ err: (error as Error).message }, 'yt-dlp does not run: its YouTube requests will fail'));
  } else {
    announce();
  }
  if (settings.downloader === 'auto' && !installed.ytdlp) deps.logger.info('yt-dlp is not installed, so YouTube downloads have no second downloader to fall back on (see YouTube in the README)');
  return new YouTubeFetcher({ downloaders, logger: deps.logger });
}

function videoIdOf(source: RequestSource): string {
  if (source.kind !== 'youtube') throw new Error('the YouTube fetcher only takes YouTube sources');
  return source.videoId;
}
