import type { Config } from '../../../core/config.js';
import { UserError } from '../../../core/errors.js';
import { isExecutableFile, searchPathFor } from '../../find-executable.js';
import type { RetryPolicy } from '../retry.js';
import { YouTubeCookies } from './cookies.js';
import type { YouTubeDownloader } from './downloader.js';
import { YtdlDownloader } from './ytdl-downloader.js';
import { YtDlpDownloader } from './ytdlp-downloader.js';

export type YouTubeSettings = Config['youtube'];

export interface InstalledDownloaders {
  ytdl: YtdlDownloader;
  /** Absent where yt-dlp is not installed (or YOUTUBE_DOWNLOADER=ytdl did not look for it). */
  ytdlp: YtDlpDownloader | undefined;
  cookies: YouTubeCookies | undefined;
}

const INSTALL_YTDLP = 'install it (apt install yt-dlp, or a current release with pipx install yt-dlp) or set YTDLP_PATH';

/**
 * The downloaders this machine has, with YOUTUBE_COOKIES loaded (and refused if other users may
 * read it). yt-dlp is looked for at YTDLP_PATH, else on `searchPath`, unless `skipYtDlp`.
 */
export async function installedDownloaders(
  settings: YouTubeSettings,
  options: { tempDir: string; searchPath: string | undefined; skipYtDlp?: boolean; retry?: RetryPolicy },
): Promise<InstalledDownloaders> {
  const cookies = settings.cookiesPath === undefined ? undefined : await YouTubeCookies.load(settings.cookiesPath);
  const program = options.skipYtDlp ? undefined : await locateYtDlp(settings.ytdlpPath, options.searchPath);
  const ytdlp = program ? new YtDlpDownloader({ program, tempDir: options.tempDir, cookies }) : undefined;
  return { ytdl: new YtdlDownloader({ cookies, ...(options.retry ? { retry: options.retry } : {}) }), ytdlp, cookies };
}

async function locateYtDlp(explicit: string | undefined, searchPath: string | undefined): Promise<string | undefined> {
  if (explicit === undefined) return searchPathFor('yt-dlp', searchPath);
  if (!(await isExecutableFile(explicit))) throw new UserError('ytdlp_missing', `YTDLP_PATH points at ${explicit}, which is not an executable file: ${INSTALL_YTDLP}.`);
  return explicit;
}

/** The downloaders YOUTUBE_DOWNLOADER asks for, in the order they are tried. */
export function chosenDownloaders(mode: YouTubeSettings['downloader'], installed: InstalledDownloaders): YouTubeDownloader[] {
  if (mode === 'ytdl') return [installed.ytdl];
  if (mode === 'yt-dlp') {
    if (!installed.ytdlp) throw new UserError('ytdlp_missing', `YOUTUBE_DOWNLOADER is yt-dlp, but yt-dlp was not found on the PATH: ${INSTALL_YTDLP}.`);
    return [installed.ytdlp];
  }
  return installed.ytdlp ? [installed.ytdlp, installed.ytdl] : [installed.ytdl];
}
