import type { Readable } from 'node:stream';
import type { RequestSource } from './db/entities/separation-request.js';

/** What is known about a source before any quota is spent. */
export interface SourceInfo {
  title: string;
  durationSeconds: number;
}

export interface OpenOptions {
  signal?: AbortSignal;
  /** Share of the download done, 0..1, when the size is known. */
  onProgress?: (fraction: number) => void;
}

/**
 * Where audio comes from. Core only describes the contract; the implementations (YouTube through
 * ytdl-core, platform file URLs over HTTP) live with the worker and are handed to core by the
 * process that composes them. Refusals are UserErrors worded for chat.
 */
export interface SourceFetcher {
  /** Title and duration, or a specific refusal (live, private, unavailable, too big). */
  inspect(source: RequestSource, signal?: AbortSignal): Promise<SourceInfo>;
  /** The audio bytes, streamed, for the decoder. */
  open(source: RequestSource, options: OpenOptions): Promise<Readable>;
}

export interface SourceFetchers {
  youtube: SourceFetcher;
  attachment: SourceFetcher;
}

export function fetcherFor(fetchers: SourceFetchers, source: RequestSource): SourceFetcher {
  return source.kind === 'youtube' ? fetchers.youtube : fetchers.attachment;
}

/** The identity of the audio for cache and dedupe: the video, or the platform file (query strings sign, not identify). */
export function sourceKeyOf(source: RequestSource): string {
  if (source.kind === 'youtube') return `youtube:${source.videoId}`;
  const url = new URL(source.url);
  return `attachment:${source.platform}:${url.host}${url.pathname}`;
}
