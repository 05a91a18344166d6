import { UserError } from '../../core/errors.js';
import { formatDuration } from '../../core/quotas/quota-ledger.js';
import { parseYouTubeUrl } from '../../core/youtube.js';
import type { YouTubeDownloader } from '../fetch/youtube/downloader.js';
import { chosenDownloaders, installedDownloaders, type InstalledDownloaders, type YouTubeSettings } from '../fetch/youtube/downloaders.js';
import { DownloadFailure, operatorAdvice } from '../fetch/youtube/failure-kinds.js';
import type { YouTubeCommandDeps } from './youtube-command.js';

/** A downloader's own words are long; the check shows their start (the whole is in the worker's log). */
const DETAIL_CHARS = 300;

/** What `stembot youtube check` does (see youtube-command.ts), loaded only when it runs. */
export async function checkYouTube(deps: YouTubeCommandDeps, link: string, say: (line: string) => void): Promise<void> {
  const parsed = parseYouTubeUrl(link);
  if (!parsed.ok) throw new UserError(parsed.code, parsed.message);
  // One try each: the check says what works now; the worker's retries would only make it slower.
  const installed = await installedDownloaders(deps.settings, { tempDir: deps.tempDir, searchPath: deps.searchPath, retry: { attempts: 1, firstDelayMs: 0 } });
  // For its version; a yt-dlp that does not run shows below, in its own line.
  await installed.ytdlp?.ready.catch(() => undefined);
  say(describeSetup(deps.settings, installed));
  if (!installed.ytdlp) say('yt-dlp: not installed (apt install yt-dlp, or a current release with pipx install yt-dlp; or set YTDLP_PATH)');
  let working = 0;
  for (const downloader of [installed.ytdlp, installed.ytdl]) {
    if (!downloader) continue;
    const result = await tryDownloader(downloader, parsed.videoId);
    if (result.ok) working += 1;
    say(`${downloader.name} ${downloader.version}: ${result.line}`);
  }
  if (working === 0) throw new UserError('youtube_failed', 'No downloader could get that video (see above).');
}

function describeSetup(settings: YouTubeSettings, installed: InstalledDownloaders): string {
  const cookies = installed.cookies ? `with ${installed.cookies.count} cookies from ${installed.cookies.file}` : 'without cookies (YOUTUBE_COOKIES is not set)';
  let order: string;
  try {
    order = chosenDownloaders(settings.downloader, installed)
      .map((downloader) => downloader.name)
      .join(', then ');
  } catch (error) {
    order = error instanceof UserError ? error.message : String(error);
  }
  return `YOUTUBE_DOWNLOADER=${settings.downloader}: ${order}; ${cookies}`;
}

/** Thrown into a download once its first bytes have arrived: the check has seen enough. */
const ENOUGH = new Error('the first bytes arrived');

async function tryDownloader(downloader: YouTubeDownloader, videoId: string): Promise<{ ok: boolean; line: string }> {
  const started = performance.now();
  try {
    const info = await downloader.describe(videoId);
    await firstBytes(downloader, videoId);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    return { ok: true, line: `ok: "${info.title}" (${formatDuration(info.durationSeconds)}), audio flowing after ${seconds} s` };
  } catch (error) {
    if (!(error instanceof DownloadFailure)) throw error;
    const advice = operatorAdvice(error.kind);
    const detail = error.detail.split('\n')[0]?.slice(0, DETAIL_CHARS);
    return { ok: false, line: [`failed (${error.kind}): ${error.message}`, advice ? `  what to do: ${advice}` : '', detail ? `  it said: ${detail}` : ''].filter(Boolean).join('\n') };
  }
}

/** Starts the download and stops it at its first bytes (yt-dlp reports them as progress, ytdl as a chunk). */
async function firstBytes(downloader: YouTubeDownloader, videoId: string): Promise<void> {
  const enough = new AbortController();
  try {
    const stream = await downloader.download(videoId, { signal: enough.signal, onProgress: (fraction) => fraction > 0 && enough.abort(ENOUGH) });
    for await (const _chunk of stream) break;
  } catch (error) {
    if (error !== ENOUGH) throw error;
  }
}
