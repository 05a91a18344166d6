/**
 * Reads one YouTube video link the way people paste it in chat: with or without a scheme, from any
 * of YouTube's hosts and path shapes, wrapped in Discord/Slack angle brackets, with share-tracking
 * parameters in any order. Pure: it only looks at the text, never at the network.
 *
 * A link is accepted only when the WHATWG URL parser puts it on one of YouTube's own hosts (exact
 * match, so `youtube.com.evil.example` and `evil.example/?v=` are refused) and it names exactly
 * one video. `startSeconds` is present only for a positive start time from `t=`, `start=` or a
 * `#t=` fragment; an unreadable time is ignored rather than refusing the link.
 */

/** One short chat sentence per refusal, saying what to do instead. */
const REFUSALS = {
  empty: 'Send a YouTube video link, like https://youtu.be/dQw4w9WgXcQ.',
  not_a_link: "That doesn't look like a web link; paste a YouTube video link, like https://youtu.be/dQw4w9WgXcQ.",
  not_youtube: 'Only YouTube links work here; paste a video link from youtube.com or youtu.be.',
  playlist_without_video: "That's a playlist, not a video; open the video you want and paste its link.",
  channel_page: "That's a channel page, not a video; open one of its videos and paste that link.",
  search_page: "That's a search results page; open the video you want and paste its link.",
  malformed_video_id: "The video id in that link looks cut off or mistyped; copy the link again with YouTube's Share button.",
  no_video: "That YouTube link doesn't point to a video; open the video and paste its link.",
} as const;

export type YouTubeRefusalCode = keyof typeof REFUSALS;
export const YOUTUBE_REFUSAL_CODES = Object.keys(REFUSALS) as YouTubeRefusalCode[];

export type YouTubeLink =
  | { ok: true; videoId: string; startSeconds?: number }
  | { ok: false; code: YouTubeRefusalCode; message: string };

const VIDEO_ID = /^[A-Za-z0-9_-]{11}$/;
const SHORT_HOST = 'youtu.be';
const YOUTUBE_HOSTS = new Set([
  'youtube.com',
  'www.youtube.com',
  'm.youtube.com',
  'music.youtube.com',
  'gaming.youtube.com',
  'youtube-nocookie.com',
  'www.youtube-nocookie.com',
]);
/** Routes whose next path segment is the video id: /shorts/ID, /live/ID, /embed/ID, /v/ID. */
const ID_ROUTES = new Set(['shorts', 'live', 'embed', 'v']);
const CHANNEL_ROUTES = new Set(['channel', 'c', 'user']);
/** A scheme has no dot, so `youtube.com:443/watch` reads as a host with a port, not a scheme. */
const SCHEME = /^[a-z][a-z0-9+-]*:/i;
/** `90`, `90s`, `1m30s`, `1h2m3s` (YouTube's own `t=` forms). */
const TIMESTAMP = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$/i;

export function parseYouTubeUrl(text: string): YouTubeLink {
  const link = unwrap(text);
  if (link === '') return refuse('empty');
  const url = toUrl(link);
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) return refuse('not_a_link');
  // YouTube never hands out links with a user name; one there is the classic disguise for a host.
  if (url.username !== '' || url.password !== '') return refuse('not_youtube');
  const host = url.hostname.replace(/\.$/, '');
  const [first = '', second = ''] = url.pathname.split('/').filter((segment) => segment !== '');
  if (host === SHORT_HOST) return video(first, url);
  if (!YOUTUBE_HOSTS.has(host)) return refuse('not_youtube');
  return readRoute(first.toLowerCase(), second, url);
}

/** Drops whitespace, Discord/Slack `<...>` wrapping and Slack's `|label` suffix. */
function unwrap(text: string): string {
  const inner = text.trim().replace(/^</, '').replace(/>$/, '');
  return (inner.split('|')[0] ?? '').trim();
}

/** Parses with the WHATWG URL parser; a link pasted without a scheme is read as https. */
function toUrl(link: string): URL | undefined {
  if (/\s/.test(link)) return undefined;
  const schemeless = !SCHEME.test(link);
  let url: URL;
  try {
    url = new URL(schemeless ? `https://${link.replace(/^\/\//, '')}` : link);
  } catch {
    return undefined;
  }
  // Without a scheme, a single word ("hello") would otherwise parse as a host name.
  if (schemeless && !url.hostname.replace(/\.$/, '').includes('.')) return undefined;
  return url;
}

function readRoute(route: string, next: string, url: URL): YouTubeLink {
  if (route === 'watch') return watchPage(url);
  if (route === 'playlist' || (route === 'embed' && next === 'videoseries')) return refuse('playlist_without_video');
  if (route === 'results') return refuse('search_page');
  if (route.startsWith('@') || CHANNEL_ROUTES.has(route)) return refuse('channel_page');
  if (ID_ROUTES.has(route)) return video(next, url);
  return refuse('no_video');
}

function watchPage(url: URL): YouTubeLink {
  const id = url.searchParams.get('v');
  if (id !== null) return video(id, url);
  return refuse(url.searchParams.has('list') ? 'playlist_without_video' : 'no_video');
}

function video(id: string, url: URL): YouTubeLink {
  if (!VIDEO_ID.test(id)) return refuse('malformed_video_id');
  const startSeconds = startOf(url);
  return startSeconds === undefined ? { ok: true, videoId: id } : { ok: true, videoId: id, startSeconds };
}

/** First readable of `t=`, `start=`, then `#t=`. */
function startOf(url: URL): number | undefined {
  const fragment = new URLSearchParams(url.hash.slice(1));
  for (const value of [url.searchParams.get('t'), url.searchParams.get('start'), fragment.get('t')]) {
    const seconds = value === null ? undefined : toSeconds(value);
    if (seconds !== undefined) return seconds;
  }
  return undefined;
}

function toSeconds(value: string): number | undefined {
  const match = value === '' ? null : TIMESTAMP.exec(value);
  if (match === null) return undefined;
  const [, hours = '0', minutes = '0', seconds = '0'] = match;
  const total = Number(hours) * 3600 + Number(minutes) * 60 + Number(seconds);
  return Number.isSafeInteger(total) && total > 0 ? total : undefined;
}

function refuse(code: YouTubeRefusalCode): YouTubeLink {
  return { ok: false, code, message: REFUSALS[code] };
}
