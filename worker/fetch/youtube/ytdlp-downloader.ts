import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { UserError } from '../../../core/errors.js';
import type { OpenOptions, SourceInfo } from '../../../core/sources.js';
import { createOwnedTempDir } from '../../process-temp-dir.js';
import { downloadStream } from '../download-stream.js';
import type { YouTubeCookies } from './cookies.js';
import { watchUrl, type DownloaderIdentity, type YouTubeDownloader } from './downloader.js';
import { DownloadFailure, kindYouTubeReports, type FailureKind } from './failure-kinds.js';

/** The best audio-only format, or the best file with sound where a video has none. */
const FORMAT = 'bestaudio/best';
const PROGRESS_PREFIX = 'stembot-progress';
/** One line per progress step on stdout: bytes so far, then the total or yt-dlp's estimate of it ("NA" when unknown). */
const PROGRESS_TEMPLATE = `download:${PROGRESS_PREFIX} %(progress.downloaded_bytes)s %(progress.total_bytes)s %(progress.total_bytes_estimate)s`;
/** A connection silent this long is given up by yt-dlp itself (and retried by it). */
const SOCKET_TIMEOUT_SECONDS = 30;
/** What is kept of yt-dlp's stderr to tell its failure by: the ERROR line comes last. */
const STDERR_TAIL_CHARS = 16 * 1024;
/** The downloaded file's name in its run folder, before yt-dlp adds the extension. */
const AUDIO_BASENAME = 'audio';

/** The fields of `yt-dlp -J` that describe a video; yt-dlp leaves out or nulls what it does not know. */
const infoSchema = z.object({
  title: z.string(),
  duration: z.number().nullish(),
  live_status: z.string().nullish(),
  is_live: z.boolean().nullish(),
});

/** Title and duration from `yt-dlp -J`'s JSON, or the refusal of a live, upcoming or lengthless video. */
export function describeYtDlpInfo(json: unknown, by: DownloaderIdentity): SourceInfo {
  const parsed = infoSchema.safeParse(json);
  if (!parsed.success) throw new DownloadFailure('unknown', by, { detail: `unexpected -J output: ${parsed.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`).join('; ')}` });
  const info = parsed.data;
  if (info.live_status === 'is_upcoming') throw new DownloadFailure('upcoming', by);
  // post_live: the stream has ended but YouTube has not finished processing it into a video yet.
  if (info.is_live || info.live_status === 'is_live' || info.live_status === 'post_live') throw new DownloadFailure('live', by);
  const seconds = info.duration ?? 0;
  if (!(seconds > 0)) throw new DownloadFailure('unavailable', by, { message: 'That video has no length we can read; check the link.' });
  return { title: info.title, durationSeconds: seconds };
}

/** yt-dlp's own words for a YouTube player it can no longer read (the fix is a newer yt-dlp). */
const PLAYER_PARSE = /nsig extraction failed|signature extraction failed|unable to extract|failed to extract any player response|n-parameter|some formats may be missing|requested format is not available/i;
const NETWORK = /urlopen error|timed out|name resolution|name or service not known|connection (?:refused|reset|aborted)|network is unreachable|no route to host|remote end closed|incompleteread/i;

/** The kind of a failed yt-dlp run, from what it printed on stderr. */
export function classifyYtDlpError(stderr: string): FailureKind {
  const errors = errorLines(stderr) || stderr;
  return kindYouTubeReports(errors) ?? (PLAYER_PARSE.test(stderr) ? 'player_parse' : NETWORK.test(errors) ? 'network' : 'unknown');
}

const errorLines = (stderr: string): string =>
  stderr
    .split('\n')
    .filter((line) => line.startsWith('ERROR:'))
    .join('\n');

/** Share of the download done, from one of the progress lines PROGRESS_TEMPLATE makes; undefined for any other line. */
export function progressOf(line: string): number | undefined {
  const [prefix, downloaded, total, estimate] = line.trim().split(' ');
  if (prefix !== PROGRESS_PREFIX) return undefined;
  const whole = Number(total) > 0 ? Number(total) : Number(estimate);
  return Number(downloaded) >= 0 && whole > 0 ? Math.min(1, Number(downloaded) / whole) : 0;
}

export interface YtDlpDownloaderOptions {
  /** The yt-dlp program: YTDLP_PATH, or the one found on the PATH. */
  program: string;
  /** TEMP_DIR: each run has a folder of its own there, removed with everything in it when the run is over. */
  tempDir: string;
  /** YOUTUBE_COOKIES, handed to yt-dlp as a copy in the run's folder. */
  cookies?: YouTubeCookies | undefined;
  /** Longest a metadata lookup may take; default 60 s. */
  describeTimeoutMs?: number;
  /** Longest a download may take; default 10 minutes. */
  downloadTimeoutMs?: number;
  /**
   * Tests only: the page yt-dlp is pointed at for a video id (a local server's, which its generic
   * extractor reads). Not a setting: users' links are parsed to a video id and always go to YouTube.
   */
  urlFor?: (videoId: string) => string;
}

/**
 * YouTube through the yt-dlp program, which follows YouTube's changes within days and is what most
 * people run. It is started with an argument array (no shell), reads no configuration of its own,
 * writes only into a folder of ours, and is killed with whatever it started when the job is
 * cancelled or it runs past its time.
 */
export class YtDlpDownloader implements YouTubeDownloader {
  readonly name = 'yt-dlp';
  /** What `yt-dlp --version` printed: read in the background, so that start-up does not wait on Python; `unknown` until then. */
  version = 'unknown';
  /** Settles once the version is read; rejects with a UserError when the program does not run. */
  readonly ready: Promise<void>;

  constructor(private readonly options: YtDlpDownloaderOptions) {
    this.ready = versionOf(options.program).then((version) => {
      this.version = version;
    });
    // Whoever needs the outcome awaits `ready`; a program that does not run fails each use anyway.
    this.ready.catch(() => undefined);
  }

  async describe(videoId: string, signal?: AbortSignal): Promise<SourceInfo> {
    const dir = await createOwnedTempDir(this.options.tempDir);
    try {
      const stdout = await this.run(dir, ['-J', '-f', FORMAT, '--', this.urlOf(videoId)], { signal, timeoutMs: this.options.describeTimeoutMs ?? 60_000 });
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch (error) {
        throw new DownloadFailure('unknown', this, { detail: 'yt-dlp -J printed no JSON', cause: error });
      }
      return describeYtDlpInfo(json, this);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Downloads the whole file into the run's folder (yt-dlp retries and resumes within it), then
   * streams it from there; the folder goes when the stream closes, read to the end or not.
   */
  async download(videoId: string, options: OpenOptions): Promise<Readable> {
    const dir = await createOwnedTempDir(this.options.tempDir);
    try {
      const args = ['-f', FORMAT, '--quiet', '--progress', '--newline', '--progress-template', PROGRESS_TEMPLATE, '-o', `${AUDIO_BASENAME}.%(ext)s`, '--', this.urlOf(videoId)];
      await this.run(dir, args, {
        signal: options.signal,
        timeoutMs: this.options.downloadTimeoutMs ?? 10 * 60_000,
        onLine: (line) => {
          const fraction = progressOf(line);
          if (fraction !== undefined) options.onProgress?.(fraction);
        },
      });
      const file = await this.downloadedFile(dir);
      options.onProgress?.(1);
      const body = createReadStream(file);
      body.once('close', () => void rm(dir, { recursive: true, force: true }));
      return downloadStream(body, { signal: options.signal, abort: () => body.destroy(), explain: (error) => error });
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  private urlOf(videoId: string): string {
    return this.options.urlFor?.(videoId) ?? watchUrl(videoId);
  }

  private async downloadedFile(dir: string): Promise<string> {
    const names = await readdir(dir);
    const name = names.find((entry) => entry.startsWith(`${AUDIO_BASENAME}.`) && !entry.endsWith('.part'));
    if (!name) throw new DownloadFailure('unknown', this, { detail: 'yt-dlp finished without writing a file' });
    return path.join(dir, name);
  }

  /**
   * Runs yt-dlp in `dir` (its working folder, so nothing it writes lands elsewhere) and resolves
   * with what it printed on stdout. A cancel or the time limit kills its whole process group (a
   * download may have started ffmpeg) and rejects once it is gone, so its files can be removed.
   */
  private async run(dir: string, args: string[], options: { signal?: AbortSignal | undefined; timeoutMs: number; onLine?: (line: string) => void }): Promise<string> {
    options.signal?.throwIfAborted();
    const cookies = this.options.cookies ? ['--cookies', await this.options.cookies.copyInto(dir)] : [];
    const common = ['--ignore-config', '--no-cache-dir', '--no-playlist', '--no-colors', '--socket-timeout', String(SOCKET_TIMEOUT_SECONDS), ...cookies];
    const child = spawn(this.options.program, [...common, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stopped: unknown;
    const stop = (reason: unknown): void => {
      if (stopped !== undefined) return;
      stopped = reason;
      if (child.pid !== undefined) killGroup(child.pid);
    };
    const onAbort = (): void => stop(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => stop(new DownloadFailure('network', this, { detail: `yt-dlp ran past its ${Math.round(options.timeoutMs / 1000)} s limit` })), options.timeoutMs);
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (options.onLine) options.onLine(line);
        else stdout += `${line}\n`;
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS)));
    try {
      const code = await new Promise<number | null>((resolve, reject) => {
        child.once('error', reject);
        child.once('close', resolve);
      });
      if (stopped !== undefined) throw stopped;
      if (code !== 0) throw new DownloadFailure(classifyYtDlpError(stderr), this, { detail: errorLines(stderr) || stderr.trim().split('\n').at(-1) || `exit code ${code}` });
      return stdout + partial;
    } catch (error) {
      if (error instanceof DownloadFailure || error === stopped) throw error;
      // The program could not be started (removed since start-up, say).
      throw new DownloadFailure('unknown', this, { detail: `yt-dlp could not be run: ${(error as Error).message}`, cause: error });
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }
}

/** What `program --version` prints, or a UserError when it does not run. */
function versionOf(program: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 15_000 });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.once('error', (error) => reject(new UserError('ytdlp_missing', `${program} could not be run (${error.message}); install yt-dlp or fix YTDLP_PATH.`)));
    child.once('close', (code) => {
      if (code === 0 && out.trim() !== '') resolve(out.trim());
      else reject(new UserError('ytdlp_missing', `${program} --version failed (exit ${code}); install a working yt-dlp or fix YTDLP_PATH.`));
    });
  });
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
