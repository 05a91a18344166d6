import { UserError, type UserErrorCode } from '../../../core/errors.js';
import type { DownloaderIdentity } from './downloader.js';

/**
 * Why a downloader could not describe or fetch a video, sorted by whose fault it is. `fallback`:
 * the other downloader may well not share the problem (it talks to YouTube as another client,
 * and parses its player with other code), so `auto` tries it once. The video's own refusals and
 * an unreachable network are the same for every downloader.
 */
const KINDS = {
  /** YouTube answers "Sign in to confirm you're not a bot", 429 or 403: it refuses this server's address or session. */
  bot_check: {
    blame: 'youtube',
    fallback: true,
    code: 'youtube_blocked',
    message: 'YouTube is refusing this server right now; try again later, or upload the file.',
    advice: "set YOUTUBE_COOKIES to a signed-in session's cookies.txt, or install a current yt-dlp (see YouTube in the README)",
  },
  /** The downloader cannot read YouTube's player any more (it changed): the fix is a newer downloader. */
  player_parse: {
    blame: 'downloader',
    fallback: true,
    code: 'youtube_changed',
    message: "YouTube changed something our downloader can't follow yet; try again later, or upload the file.",
    advice: 'update this downloader: a current yt-dlp release, or a newer @distube/ytdl-core',
  },
  /** Anything else the downloader reports (an error text we do not know, a crash, no output). */
  unknown: {
    blame: 'downloader',
    fallback: true,
    code: 'youtube_failed',
    message: "YouTube wouldn't give us that video right now; try again later, or upload the file.",
    advice: 'run `stembot youtube check <link>` and read the downloader\'s own words in `detail`',
  },
  /** No connection to YouTube, or one that stalled past the downloader's time limit. */
  network: { blame: 'network', fallback: false, code: 'youtube_unreachable', message: 'YouTube could not be reached; try again later.', advice: "check this server's connection to YouTube (DNS, firewall, proxy)" },
  unavailable: { blame: 'video', fallback: false, code: 'video_unavailable', message: 'That video is unavailable (removed, blocked or mistyped); check the link.' },
  private: { blame: 'video', fallback: false, code: 'video_private', message: "That video is private or for members only, so it can't be separated." },
  age_restricted: { blame: 'video', fallback: false, code: 'age_restricted', message: "That video is age-restricted, so it can't be downloaded; try another upload of the song." },
  live: { blame: 'video', fallback: false, code: 'live_stream', message: "Live streams can't be separated; try again once the stream has ended and been uploaded." },
  upcoming: { blame: 'video', fallback: false, code: 'upcoming', message: "That video hasn't premiered yet; try again once it has." },
} as const satisfies Record<string, { blame: 'youtube' | 'downloader' | 'network' | 'video'; fallback: boolean; code: UserErrorCode; message: string; advice?: string }>;

export type FailureKind = keyof typeof KINDS;
export const FAILURE_KINDS = Object.keys(KINDS) as FailureKind[];

/** Whether the other downloader is worth a try after this failure. */
export const fallsBack = (kind: FailureKind): boolean => KINDS[kind].fallback;
/** Whether the video itself is the reason (private, removed, live...): nothing for the operator to do. */
export const isVideoFault = (kind: FailureKind): boolean => KINDS[kind].blame === 'video';
/** What the operator can do about a failure of this kind; none for the video's own refusals. */
export const operatorAdvice = (kind: FailureKind): string | undefined => {
  const entry = KINDS[kind];
  return 'advice' in entry ? entry.advice : undefined;
};

/**
 * A downloader's failure as the user reads it (a UserError whose code and message follow from the
 * kind), with what the operator's log line needs: which downloader, its version, and the
 * downloader's own words (`detail`, which may be long and is never shown in chat).
 */
export class DownloadFailure extends UserError {
  readonly downloader: string;
  readonly version: string;
  readonly detail: string;

  constructor(
    readonly kind: FailureKind,
    by: DownloaderIdentity,
    options: { detail?: string; message?: string; cause?: unknown } = {},
  ) {
    super(KINDS[kind].code, options.message ?? KINDS[kind].message, { cause: options.cause });
    this.downloader = by.name;
    this.version = by.version;
    this.detail = options.detail ?? (options.cause instanceof Error ? options.cause.message : '');
  }
}

/**
 * YouTube's own refusal texts (its playability reasons and HTTP answers), which both downloaders
 * pass on in their error messages. The bot check comes before the other "Sign in" texts.
 */
const YOUTUBE_SAYS: readonly [RegExp, FailureKind][] = [
  [/not a bot|unusual traffic|content isn['’]t available, try again later|too many requests|(?:HTTP Error|Status code:) 4(?:03|29)\b/i, 'bot_check'],
  [/confirm your age|age[- ]restricted|inappropriate for some users/i, 'age_restricted'],
  [/private video|video is private|members[- ]only|join this channel/i, 'private'],
  [/live event will begin|premieres? in|premiere will begin/i, 'upcoming'],
  [/video unavailable|video is (?:unavailable|not available)|available in your country|no longer available|has been removed|been terminated|does not exist|(?:HTTP Error|Status code:) 4(?:04|10)\b/i, 'unavailable'],
];

/** The kind YouTube's own words in a downloader's error name, if any. */
export function kindYouTubeReports(text: string): FailureKind | undefined {
  return YOUTUBE_SAYS.find(([pattern]) => pattern.test(text))?.[1];
}
