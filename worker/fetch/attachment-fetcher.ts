import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { lookup as dnsLookup } from 'node:dns';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pLimit from 'p-limit';
import type { RequestSource } from '../../core/db/entities/separation-request.js';
import type { Platform } from '../../core/db/entities/tenant.js';
import { UserError } from '../../core/errors.js';
import type { Logger } from '../../core/logging.js';
import type { OpenOptions, SourceFetcher, SourceInfo } from '../../core/sources.js';
import type { FfmpegTools } from '../audio/ffmpeg.js';
import { measureAudioSeconds, probeAudio } from '../audio/probe.js';
import { assertAudioContainer } from '../audio/sniff.js';
import { createOwnedTempDir } from '../process-temp-dir.js';
import { downloadStream } from './download-stream.js';
import { GuardedHttp, type GuardedResponse } from './guarded-http.js';
import { isNetworkError, withRetries, type RetryPolicy } from './retry.js';

/** Where each platform serves uploaded files. A request may only point the worker at these. */
export const PLATFORM_FILE_HOSTS: Record<Platform, string[]> = {
  discord: ['cdn.discordapp.com', 'media.discordapp.net'],
  slack: ['files.slack.com'],
};

const PLATFORM_NAMES: Record<Platform, string> = { discord: 'Discord', slack: 'Slack' };

/** Larger uploads are refused before any byte is fetched (Discord's boosted limit is 500 MiB). */
export const MAX_ATTACHMENT_BYTES = 200 * 1024 * 1024;

/** The whole download an upload's inspection may take: 200 MiB at under 2 MB/s is a host in trouble. */
const INSPECT_DOWNLOAD_MS = 120_000;
/**
 * Uploads inspected at once by one process, and how many more may wait their turn. Each holds up
 * to MAX_ATTACHMENT_BYTES on disk and a probe: a crowd of submits cannot pile up without bound.
 */
const CONCURRENT_INSPECTIONS = 4;
const WAITING_INSPECTIONS = 16;

export interface AttachmentFetcherOptions {
  /** Extra hosts per platform: the host of a configured DISCORD_API_URL / SLACK_API_URL serves files too. */
  extraHosts?: Partial<Record<Platform, string[]>>;
  /**
   * Slack files need a bot token of the workspace that holds them: with OAuth installs each
   * workspace has its own. Given the file's workspace (recorded at submit, else read off its URL),
   * answers the token; may throw a UserError (the workspace uninstalled the app). Wins over `slackBotToken`.
   */
  slackToken?: (teamId: string | undefined) => Promise<string | undefined>;
  /** The one bot token of a single-workspace install (SLACK_BOT_TOKEN), where no `slackToken` is given. */
  slackBotToken?: string | undefined;
  /** An upload is sniffed, probed and measured as a local file, never as a URL. */
  tools: FfmpegTools;
  /** Where an upload is held while it is inspected (TEMP_DIR). Default: the system's temp directory/stembot. */
  tempDir?: string;
  logger: Logger;
  retry?: RetryPolicy;
  /** Name resolution for the platforms' file hosts; tests hand in one that answers a private address. */
  resolve?: typeof dnsLookup;
}

type Attachment = Extract<RequestSource, { kind: 'attachment' }>;
/** `inspect`: the whole file read at submit to check it; `download`: the worker's, for the decoder. */
type DownloadPurpose = 'inspect' | 'download';

/** Uploaded audio, fetched only from the platform's own file URLs (never an arbitrary user URL). */
export class AttachmentFetcher implements SourceFetcher {
  private readonly http: Record<Platform, GuardedHttp>;
  private readonly inspections = pLimit(CONCURRENT_INSPECTIONS);

  constructor(private readonly options: AttachmentFetcherOptions) {
    const rulesFor = (platform: Platform) => ({ publicHosts: PLATFORM_FILE_HOSTS[platform], configuredHosts: options.extraHosts?.[platform] ?? [] });
    this.http = { discord: new GuardedHttp(rulesFor('discord'), options.resolve), slack: new GuardedHttp(rulesFor('slack'), options.resolve) };
  }

  /**
   * Downloads the upload to a temp file and reads it there: its first bytes must be an audio
   * container, ffprobe must find an audio stream, and the length that counts is the one its packets
   * add up to, not the one its header claims.
   */
  async inspect(source: RequestSource, signal?: AbortSignal): Promise<SourceInfo> {
    const attachment = this.check(source);
    if (this.inspections.pendingCount >= WAITING_INSPECTIONS) throw new UserError('busy', 'Too many uploads are being checked right now; try again in a minute.');
    return this.inspections(() => this.inspectHeld(attachment, signal));
  }

  private async inspectHeld(attachment: Attachment, signal: AbortSignal | undefined): Promise<SourceInfo> {
    const dir = await createOwnedTempDir(this.options.tempDir ?? path.join(tmpdir(), 'stembot'));
    try {
      const file = path.join(dir, 'upload');
      await this.download(attachment, file, signal);
      const duration = await this.measure(file, signal).catch((error: unknown) => {
        if (error instanceof UserError) throw new UserError(error.code, `${attachment.filename}: ${error.message}`, { cause: error });
        throw new UserError('attachment_unreadable', `${attachment.filename} could not be read as audio; send an mp3, m4a, opus, ogg, wav or flac file.`, { cause: error });
      });
      if (!(duration > 0)) throw new UserError('audio_empty', `${attachment.filename} has no audio in it.`);
      return { title: attachment.filename, durationSeconds: duration };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async open(source: RequestSource, options: OpenOptions & { purpose?: DownloadPurpose }): Promise<Readable> {
    const attachment = this.check(source);
    // Aborted when the reader gives up on the download (the decoder failed), as well as on a cancel.
    const transfer = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, transfer.signal]) : transfer.signal;
    const headers = await this.headersFor(attachment, options.purpose ?? 'download');
    const response = await withRetries(
      async () => {
        const reply = await this.http[attachment.platform].get(attachment.url, { signal, headers, platformName: PLATFORM_NAMES[attachment.platform] });
        if (reply.statusCode >= 500) {
          discard(reply.body);
          throw Object.assign(new Error(`file host answered ${reply.statusCode}`), { code: 'ECONNRESET' });
        }
        return reply;
      },
      isNetworkError,
      this.options.retry ?? { attempts: 3, firstDelayMs: 1000 },
      options.signal,
    ).catch((error: unknown) => {
      throw isNetworkError(error) ? unreachable(error) : error;
    });
    if (response.statusCode < 200 || response.statusCode >= 300) {
      discard(response.body);
      throw new UserError('attachment_gone', `${attachment.filename} is no longer available (HTTP ${response.statusCode}); upload it again.`);
    }
    const total = Number(response.headers['content-length'] ?? attachment.bytes) || attachment.bytes;
    if (total > MAX_ATTACHMENT_BYTES) {
      discard(response.body);
      throw tooBig(attachment.filename);
    }
    let received = 0;
    return downloadStream(response.body, {
      signal: options.signal,
      abort: () => transfer.abort(),
      // The cap counts bytes as they arrive: a host that under-states content-length is cut off all the same.
      onChunk: (bytes) => {
        received += bytes;
        if (received > MAX_ATTACHMENT_BYTES) throw tooBig(attachment.filename);
        options.onProgress?.(total > 0 ? Math.min(1, received / total) : 0);
      },
      // A connection reset halfway is as passing as one before the first byte: the job is retried.
      explain: (error) => (isNetworkError(error) ? unreachable(error) : error),
    });
  }

  /** Closes the kept-alive connections to the file hosts. */
  async close(): Promise<void> {
    await Promise.all(Object.values(this.http).map((http) => http.close()));
  }

  private async download(attachment: Attachment, file: string, signal: AbortSignal | undefined): Promise<void> {
    const deadline = AbortSignal.timeout(INSPECT_DOWNLOAD_MS);
    const bounded = signal ? AbortSignal.any([signal, deadline]) : deadline;
    try {
      await pipeline(await this.open(attachment, { signal: bounded, purpose: 'inspect' }), createWriteStream(file));
    } catch (error) {
      if (deadline.aborted && !signal?.aborted) throw new UserError('attachment_slow', `${attachment.filename} took too long to download; try again later.`, { cause: error });
      throw error;
    }
  }

  private async measure(file: string, signal: AbortSignal | undefined): Promise<number> {
    await assertAudioContainer(file);
    const probe = await probeAudio(this.options.tools.ffprobe, file, { signal });
    const measured = await measureAudioSeconds(this.options.tools.ffmpeg, file, { signal });
    return measured > 0 ? measured : (probe.durationSeconds ?? 0);
  }

  private check(source: RequestSource): Attachment {
    if (source.kind !== 'attachment') throw new Error('the attachment fetcher only takes attachments');
    // Throws the platform's refusal for any URL its rules do not allow; later hops are checked as they come.
    const url = this.http[source.platform].canonical(source.url, PLATFORM_NAMES[source.platform]);
    if (source.bytes > MAX_ATTACHMENT_BYTES) throw tooBig(source.filename);
    return { ...source, url: url.href };
  }

  private async headersFor(attachment: Attachment, purpose: DownloadPurpose): Promise<Record<string, string>> {
    // The purpose in the user agent tells the look at submit from the worker's download in a file host's logs.
    const agent = { 'user-agent': `stembot (${purpose})` };
    if (attachment.platform !== 'slack') return agent;
    const token = this.options.slackToken ? await this.options.slackToken(attachment.teamId ?? slackTeamOfUrl(attachment.url)) : this.options.slackBotToken;
    return token ? { ...agent, authorization: `Bearer ${token}` } : agent;
  }
}

/** The workspace in a Slack file URL's path, `/files-pri/T…-F…/…`, for requests stored before the team id was recorded. */
export function slackTeamOfUrl(url: string): string | undefined {
  return /^\/files-pri\/([A-Z0-9]+)-F[A-Z0-9]+\//.exec(new URL(url).pathname)?.[1];
}

/** An answer whose body is not wanted: read off and dropped, so its connection is freed and no error goes unheard. */
function discard(body: GuardedResponse['body']): void {
  body.on('error', () => undefined);
  body.resume();
}

function unreachable(cause: unknown): UserError {
  return new UserError('attachment_unreachable', 'The uploaded file could not be downloaded; try again later.', { cause });
}

function tooBig(filename: string): UserError {
  return new UserError('attachment_too_big', `${filename} is larger than ${MAX_ATTACHMENT_BYTES / 1024 / 1024} MiB; send a shorter or more compressed file.`);
}
