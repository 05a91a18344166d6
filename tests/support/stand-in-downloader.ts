import { PassThrough, type Readable } from 'node:stream';
import type { OpenOptions, SourceInfo } from '../../core/sources.js';
import type { DownloaderName, YouTubeDownloader } from '../../worker/fetch/youtube/downloader.js';
import { DownloadFailure, type FailureKind } from '../../worker/fetch/youtube/failure-kinds.js';

/**
 * A backend that fails with a given kind, or describes a video and serves a few bytes: the
 * stand-in the issue asks for, so each kind of failure can be had on demand (the real backends are
 * tested against local servers).
 */
export class StandInDownloader implements YouTubeDownloader {
  readonly version = '1.0';
  calls = 0;

  constructor(
    readonly name: DownloaderName,
    private readonly behaviour: { fails?: FailureKind; failsAfterBytes?: FailureKind; failsBeforeBytes?: FailureKind },
  ) {}

  async describe(): Promise<SourceInfo> {
    this.calls += 1;
    if (this.behaviour.fails) throw new DownloadFailure(this.behaviour.fails, this);
    return { title: `from ${this.name}`, durationSeconds: 10 };
  }

  async download(_videoId: string, _options: OpenOptions): Promise<Readable> {
    this.calls += 1;
    if (this.behaviour.fails) throw new DownloadFailure(this.behaviour.fails, this);
    const body = new PassThrough();
    setTimeout(() => {
      if (this.behaviour.failsBeforeBytes) return void body.destroy(new DownloadFailure(this.behaviour.failsBeforeBytes, this));
      body.write(`bytes from ${this.name}`);
      if (this.behaviour.failsAfterBytes) setTimeout(() => body.destroy(new DownloadFailure(this.behaviour.failsAfterBytes as FailureKind, this)), 10);
      else body.end();
    }, 10);
    return body;
  }
}

