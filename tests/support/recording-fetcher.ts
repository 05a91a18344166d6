import type { Readable } from 'node:stream';
import type { RequestSource } from '../../core/db/entities/separation-request.js';
import type { OpenOptions, SourceFetcher, SourceInfo } from '../../core/sources.js';

/** A real fetcher that notes every source it was asked to look at or open, so a test can tell that none was. */
export class RecordingFetcher implements SourceFetcher {
  readonly inspected: RequestSource[] = [];
  readonly opened: RequestSource[] = [];

  constructor(private readonly inner: SourceFetcher) {}

  inspect(source: RequestSource, signal?: AbortSignal): Promise<SourceInfo> {
    this.inspected.push(source);
    return this.inner.inspect(source, signal);
  }

  open(source: RequestSource, options: OpenOptions): Promise<Readable> {
    this.opened.push(source);
    return this.inner.open(source, options);
  }
}
