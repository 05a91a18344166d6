import type { Command } from 'commander';
import type { YouTubeSettings } from '../fetch/youtube/downloaders.js';

export interface YouTubeCommandDeps {
  /** YOUTUBE_DOWNLOADER, YOUTUBE_COOKIES and YTDLP_PATH. */
  settings: YouTubeSettings;
  /** TEMP_DIR, where yt-dlp's run folders go. */
  tempDir: string;
  /** Where yt-dlp is looked for without YTDLP_PATH (the caller passes process.env.PATH). */
  searchPath: string | undefined;
  /** Results; default process.stdout. */
  stdout?: NodeJS.WritableStream;
}

/**
 * `stembot youtube check <link>`: what an operator runs when users report YouTube failures. Every
 * installed downloader is tried on the video, whatever YOUTUBE_DOWNLOADER says: its description,
 * then its first bytes. Exits non-zero when none works.
 */
export function registerYouTubeCommand(program: Command, getDeps: () => YouTubeCommandDeps): void {
  program
    .command('youtube')
    .description('YouTube downloads')
    .command('check')
    .description('try each installed downloader (yt-dlp, ytdl) on a video: its title and length, then its first bytes')
    .argument('<link>', 'a YouTube video link')
    .action(async (link: string) => {
      const deps = getDeps();
      const out = deps.stdout ?? process.stdout;
      // Loaded here: the downloaders and the quota module take about a second to load, which
      // every other command would pay at start.
      const { checkYouTube } = await import('./youtube-check.js');
      await checkYouTube(deps, link, (line) => void out.write(`${line}\n`));
    });
}

