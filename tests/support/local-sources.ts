import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { RequestSource } from '../../core/db/entities/separation-request.js';
import { UserError } from '../../core/errors.js';
import type { OpenOptions, SourceFetcher, SourceInfo } from '../../core/sources.js';
import { probeAudio } from '../../worker/audio/probe.js';

/**
 * YouTube stands in for by local files: this machine cannot reach YouTube, so everything after the
 * download runs on audio the test made, keyed by video id. Counts opens, so a test can tell
 * whether the engine ran.
 */
export class LocalVideoSource implements SourceFetcher {
  readonly opened: string[] = [];

  constructor(
    private readonly ffprobe: string,
    private readonly videos: Record<string, string>,
  ) {}

  async inspect(source: RequestSource): Promise<SourceInfo> {
    const file = this.fileOf(source);
    const probe = await probeAudio(this.ffprobe, file);
    return { title: `Local ${source.kind === 'youtube' ? source.videoId : ''}`, durationSeconds: probe.durationSeconds ?? 0 };
  }

  async open(source: RequestSource, options: OpenOptions): Promise<Readable> {
    const file = this.fileOf(source);
    this.opened.push(file);
    options.onProgress?.(1);
    return createReadStream(file, { signal: options.signal });
  }

  private fileOf(source: RequestSource): string {
    const file = source.kind === 'youtube' ? this.videos[source.videoId] : undefined;
    if (!file) throw new UserError('video_unavailable', "That video is unavailable (removed, blocked or mistyped); check the link.");
    return file;
  }
}
