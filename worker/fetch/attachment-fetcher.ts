import type { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { RequestSource } from '../../core/db/entities/separation-request.js';
import type { Platform } from '../../core/db/entities/tenant.js';
import { UserError } from '../../core/errors.js';
import type { Logger } from '../../core/logging.js';
import type { OpenOptions, SourceFetcher, SourceInfo } from '../../core/sources.js';
import { probeAudio } from '../audio/probe.js';
import { downloadStream } from './download-stream.js';
import { isNetworkError, withRetries, type RetryPolicy } from './retry.js';

/** Where each platform serves uploaded files. A request may only point the worker at these. */
export const PLATFORM_FILE_HOSTS: Record<Platform, string[]> = {
  discord: ['cdn.discordapp.com', 'media.discordapp.net'],
  slack: ['files.slack.com'],
};

/** Larger uploads are refused before any byte is fetched (Discord's boosted limit is 500 MiB). */
export const MAX_ATTACHMENT_BYTES = 200 * 1024 * 1024;

export interface AttachmentFetcherOptions {
  /** Extra hosts per platform: the host of a configured DISCORD_API_URL / SLACK_API_URL serves files too. */
  extraHosts?: Partial<Record<Platform, string[]>>;
  /** Slack files need the bot token. */
  slackBotToken?: string;
  ffprobe: string;
  logger: Logger;
  retry?: RetryPolicy;
}

type Attachment = Extract<RequestSource, { kind: 'attachment' }>;

/** Uploaded audio, fetched only from the platform's own file URLs (never an arbitrary user URL). */
export class AttachmentFetcher implements SourceFetcher {
  constructor(private readonly options: AttachmentFetcherOptions) {}

  async inspect(source: RequestSource, signal?: AbortSignal): Promise<SourceInfo> {
    const attachment = this.check(source);
    const probe = await probeAudio(this.options.ffprobe, attachment.url, { signal }).catch((error: unknown) => {
      if (error instanceof UserError) throw new UserError(error.code, `${attachment.filename}: ${error.message}`, { cause: error });
      throw new UserError('attachment_unreadable', `${attachment.filename} could not be read as audio; send an mp3, m4a, opus, ogg, wav or flac file.`, { cause: error });
    });
    const duration = probe.durationSeconds ?? 0;
    if (!(duration > 0)) throw new UserError('audio_empty', `${attachment.filename} has no audio in it.`);
    return { title: attachment.filename, durationSeconds: duration };
  }

  async open(source: RequestSource, options: OpenOptions): Promise<Readable> {
    const attachment = this.check(source);
    // Aborted when the reader gives up on the download (the decoder failed), as well as on a cancel.
    const transfer = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, transfer.signal]) : transfer.signal;
    const response = await withRetries(
      async () => {
        const reply = await fetch(attachment.url, { signal, headers: this.headersFor(attachment) });
        if (reply.status >= 500) throw Object.assign(new Error(`file host answered ${reply.status}`), { code: 'ECONNRESET' });
        return reply;
      },
      isNetworkError,
      this.options.retry ?? { attempts: 3, firstDelayMs: 1000 },
      options.signal,
    ).catch((error: unknown) => {
      throw isNetworkError(error) ? unreachable(error) : error;
    });
    if (!response.ok || !response.body) throw new UserError('attachment_gone', `${attachment.filename} is no longer available (HTTP ${response.status}); upload it again.`);
    const total = Number(response.headers.get('content-length') ?? attachment.bytes) || attachment.bytes;
    if (total > MAX_ATTACHMENT_BYTES) throw tooBig(attachment.filename);
    let received = 0;
    return downloadStream(response.body as WebReadableStream<Uint8Array>, {
      signal: options.signal,
      abort: () => transfer.abort(),
      onChunk: (bytes) => {
        received += bytes;
        if (received > MAX_ATTACHMENT_BYTES) throw tooBig(attachment.filename);
        options.onProgress?.(total > 0 ? Math.min(1, received / total) : 0);
      },
      // A connection reset halfway is as passing as one before the first byte: the job is retried.
      explain: (error) => (isNetworkError(error) ? unreachable(error) : error),
    });
  }

  private check(source: RequestSource): Attachment {
    if (source.kind !== 'attachment') throw new Error('the attachment fetcher only takes attachments');
    const host = new URL(source.url).host;
    const allowed = [...PLATFORM_FILE_HOSTS[source.platform], ...(this.options.extraHosts?.[source.platform] ?? [])];
    if (!allowed.includes(host)) throw new UserError('attachment_host', `Only files uploaded to ${source.platform === 'discord' ? 'Discord' : 'Slack'} itself can be separated.`);
    if (source.bytes > MAX_ATTACHMENT_BYTES) throw tooBig(source.filename);
    return source;
  }

  private headersFor(attachment: Attachment): Record<string, string> {
    return attachment.platform === 'slack' && this.options.slackBotToken ? { authorization: `Bearer ${this.options.slackBotToken}` } : {};
  }
}

function unreachable(cause: unknown): UserError {
  return new UserError('attachment_unreachable', 'The uploaded file could not be downloaded; try again later.', { cause });
}

function tooBig(filename: string): UserError {
  return new UserError('attachment_too_big', `${filename} is larger than ${MAX_ATTACHMENT_BYTES / 1024 / 1024} MiB; send a shorter or more compressed file.`);
}
