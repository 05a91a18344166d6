import type { Readable } from 'node:stream';
import type { OpenOptions, SourceInfo } from '../../../core/sources.js';

export type DownloaderName = 'ytdl' | 'yt-dlp';

/** What an operator's log line and `stembot youtube check` name a downloader by. */
export interface DownloaderIdentity {
  readonly name: DownloaderName;
  /** The library's or program's own version: the first thing to check when YouTube changes. */
  readonly version: string;
}

/**
 * One way of getting a YouTube video's audio. Every backend gives the same description (title and
 * duration, or the same refusals) and a stream of the audio file's bytes, so nothing after it knows
 * which one ran. Failures are DownloadFailures, whose kind says whether the other backend is worth
 * a try; a cancel rejects with the signal's reason.
 */
export interface YouTubeDownloader extends DownloaderIdentity {
  describe(videoId: string, signal?: AbortSignal): Promise<SourceInfo>;
  download(videoId: string, options: OpenOptions): Promise<Readable>;
}

/** The link every backend is given for a video id: users' links are parsed to an id, never passed on. */
export const watchUrl = (videoId: string): string => `https://www.youtube.com/watch?v=${videoId}`;
