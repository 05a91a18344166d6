import { PassThrough, pipeline, type Readable } from 'node:stream';
import ytdl from '@distube/ytdl-core';
import type { RequestSource } from '../../core/db/entities/separation-request.js';
import { UserError } from '../../core/errors.js';
import type { Logger } from '../../core/logging.js';
import type { OpenOptions, SourceFetcher, SourceInfo } from '../../core/sources.js';
import { downloadStream } from './download-stream.js';
import { isNetworkError, withRetries, type RetryPolicy } from './retry.js';

/** The parts of ytdl-core's video details that decide whether a video can be separated. */
export interface VideoDetails {
  title: string;
  lengthSeconds: string;
  isLiveContent: boolean;
  isUpcoming?: boolean;
  age_restricted: boolean;
}

/** Title and duration of a video, or why it cannot be separated (live, upcoming, age-restricted). */
export function describeVideo(details: VideoDetails): SourceInfo {
  const seconds = Number(details.lengthSeconds);
  if (details.isLiveContent && !(seconds > 0)) throw new UserError('live_stream', "Live streams can't be separated; try again once the stream has ended and been uploaded.");
  if (details.isUpcoming) throw new UserError('upcoming', "That video hasn't premiered yet; try again once it has.");
  if (details.age_restricted) throw new UserError('age_restricted', "That video is age-restricted, so it can't be downloaded; try another upload of the song.");
  if (!(seconds > 0)) throw new UserError('video_unavailable', 'That video has no length we can read; check the link.');
  return { title: details.title, durationSeconds: seconds };
}

/**
 * YouTube through @distube/ytdl-core: the maintained fork of ytdl-core (the original stopped
 * following YouTube's player changes in 2023). It needs YTDL_NO_UPDATE=1 so it does not check
 * for updates at run time.
 */
export class YouTubeFetcher implements SourceFetcher {
  constructor(
    private readonly logger: Logger,
    private readonly retry: RetryPolicy = { attempts: 3, firstDelayMs: 1000 },
  ) {
    process.env.YTDL_NO_UPDATE ??= '1';
  }

  async inspect(source: RequestSource, signal?: AbortSignal): Promise<SourceInfo> {
    const info = await this.info(source, signal);
    return describeVideo(info.videoDetails);
  }

  async open(source: RequestSource, options: OpenOptions): Promise<Readable> {
    const info = await this.info(source, options.signal);
    const format = ytdl.chooseFormat(info.formats, { quality: 'highestaudio', filter: 'audioonly' });
    const download = ytdl.downloadFromInfo(info, { format, highWaterMark: 1 << 22 });
    download.on('progress', (_chunk: number, downloaded: number, total: number) => options.onProgress?.(total > 0 ? downloaded / total : 0));
    // ytdl takes no signal; its stream is ended by hand, and the listener goes with the stream.
    const stop = (): void => void download.destroy();
    options.signal?.addEventListener('abort', stop, { once: true });
    download.once('close', () => options.signal?.removeEventListener('abort', stop));
    // ytdl reports a failed download as an 'error' event, possibly before anyone reads: pipeline
    // listens from now on and hands the error to `body`, where the reader meets it.
    const body = new PassThrough();
    pipeline(download, body, () => undefined);
    return downloadStream(body, {
      signal: options.signal,
      abort: stop,
      explain: (error) => (isNetworkError(error) ? this.explain(error, info.videoDetails.videoId) : error),
    });
  }

  private async info(source: RequestSource, signal?: AbortSignal): Promise<ytdl.videoInfo> {
    if (source.kind !== 'youtube') throw new Error('the YouTube fetcher only takes YouTube sources');
    try {
      return await withRetries(() => ytdl.getInfo(source.videoId), isNetworkError, this.retry, signal);
    } catch (error) {
      throw this.explain(error, source.videoId);
    }
  }

  /** ytdl-core's errors are English prose; these are the ones users meet, as chat-sized answers. */
  private explain(error: unknown, videoId: string): Error {
    if (isNetworkError(error)) {
      this.logger.warn({ videoId, err: (error as Error).message }, 'YouTube unreachable');
      return new UserError('youtube_unreachable', 'YouTube could not be reached; try again later.', { cause: error });
    }
    const message = error instanceof Error ? error.message : String(error);
    if (/private/i.test(message)) return new UserError('video_private', "That video is private, so it can't be separated.", { cause: error });
    if (/sign in to confirm your age|age/i.test(message)) return new UserError('age_restricted', "That video is age-restricted, so it can't be downloaded; try another upload of the song.", { cause: error });
    if (/unavailable|not found|removed|does not exist|status code: 410|status code: 404/i.test(message)) {
      return new UserError('video_unavailable', "That video is unavailable (removed, blocked or mistyped); check the link.", { cause: error });
    }
    this.logger.error({ videoId, err: message }, 'YouTube lookup failed');
    return new UserError('youtube_failed', "YouTube wouldn't give us that video right now; try again later.", { cause: error });
  }
}
