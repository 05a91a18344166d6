import type { Readable } from 'node:stream';
import type { Logger } from '../../../core/logging.js';
import type { OpenOptions, SourceInfo } from '../../../core/sources.js';
import type { YouTubeDownloader } from './downloader.js';
import { DownloadFailure, fallsBack, isVideoFault } from './failure-kinds.js';

export interface FallbackOptions {
  logger: Logger;
  /** Sees every failure of every downloader, the ones another downloader made good included. */
  onFailure: (failure: DownloadFailure, videoId: string) => void;
}

/**
 * Downloaders in order of preference: the first is asked, and when it fails for a reason the next
 * may not share (a bot check, a player it cannot parse, an error it does not explain), the next is
 * asked once. With one downloader it only reports. The log says which one served each request.
 */
export class FallbackDownloader {
  constructor(
    readonly downloaders: readonly YouTubeDownloader[],
    private readonly options: FallbackOptions,
  ) {}

  describe(videoId: string, signal?: AbortSignal): Promise<SourceInfo> {
    return this.first(videoId, 'describe', (downloader) => downloader.describe(videoId, signal));
  }

  /**
   * A download that fails before its first byte falls back like a lookup (YouTube refusing the
   * media URL shows only then); once bytes flow, the stream is the one the reader gets, and a
   * later failure of it is reported as it reaches the reader.
   */
  async download(videoId: string, options: OpenOptions): Promise<Readable> {
    const stream = await this.first(videoId, 'download', async (downloader, last) => {
      const download = await downloader.download(videoId, options);
      return last ? download : firstBytes(download);
    });
    stream.once('error', (error) => {
      if (error instanceof DownloadFailure) this.options.onFailure(error, videoId);
    });
    return stream;
  }

  private async first<T>(videoId: string, purpose: 'describe' | 'download', attempt: (downloader: YouTubeDownloader, last: boolean) => Promise<T>): Promise<T> {
    const failures: DownloadFailure[] = [];
    for (const [index, downloader] of this.downloaders.entries()) {
      const last = index === this.downloaders.length - 1;
      try {
        const result = await attempt(downloader, last);
        const fellBackFrom = failures.map((failure) => `${failure.downloader} (${failure.kind})`);
        const fields = { videoId, purpose, downloader: downloader.name, version: downloader.version, ...(failures.length ? { fellBackFrom } : {}) };
        if (failures.length > 0) this.options.logger.info(fields, 'youtube request served by the fallback downloader');
        else this.options.logger.debug(fields, 'youtube request served');
        return result;
      } catch (error) {
        if (!(error instanceof DownloadFailure)) throw error;
        this.options.onFailure(error, videoId);
        failures.push(error);
        if (last || !fallsBack(error.kind)) break;
      }
    }
    throw reported(failures);
  }
}

/**
 * What the user is told when every downloader failed: a verdict on the video itself where one got
 * that far (the second got past the bot check, and the video is private), else the first failure.
 */
function reported(failures: readonly DownloadFailure[]): DownloadFailure {
  return failures.find((failure) => isVideoFault(failure.kind)) ?? (failures[0] as DownloadFailure);
}

/** Resolves with `stream` once it has bytes to read (or has ended), or rejects with its error. */
function firstBytes(stream: Readable): Promise<Readable> {
  return new Promise((resolve, reject) => {
    const settle = (error?: Error): void => {
      stream.off('readable', onReadable);
      stream.off('error', settle);
      if (error) reject(error);
      else resolve(stream);
    };
    const onReadable = (): void => settle();
    stream.once('readable', onReadable);
    stream.once('error', settle);
  });
}
