import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { inspect } from 'node:util';
import type ytdl from '@distube/ytdl-core';
import { UserError } from '../../../core/errors.js';

/** One line of a Netscape cookies file. */
export interface NetscapeCookie {
  domain: string;
  /** The second field: TRUE when the cookie is sent to the domain's subdomains too. */
  includeSubdomains: boolean;
  path: string;
  secure: boolean;
  /** Unix seconds; 0 for a session cookie. */
  expires: number;
  name: string;
  value: string;
  httpOnly: boolean;
}

/** Browsers' exporters mark HttpOnly cookies by prefixing the domain, on what is otherwise a comment line. */
const HTTP_ONLY_PREFIX = '#HttpOnly_';

/**
 * Parses the Netscape cookies.txt format that browsers' export extensions, curl and yt-dlp write:
 * one cookie a line as seven tab-separated fields. Written here rather than taken from npm: the
 * format is that one line, and the parsers there are unmaintained and skip the HttpOnly prefix.
 * Problems name the line, never its content: the file is a signed-in session.
 */
export function parseNetscapeCookies(text: string): NetscapeCookie[] {
  if (/^\s*[[{]/.test(text)) throw cookieProblem('is JSON; export the cookies in the Netscape format (cookies.txt) instead');
  const cookies: NetscapeCookie[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.replace(/\r$/, '');
    const httpOnly = line.startsWith(HTTP_ONLY_PREFIX);
    if (line.trim() === '' || (line.startsWith('#') && !httpOnly)) continue;
    const fields = (httpOnly ? line.slice(HTTP_ONLY_PREFIX.length) : line).split('\t');
    const [domain, includeSubdomains, cookiePath, secure, expires, name, value] = fields;
    if (fields.length !== 7 || !domain || !name || !/^\d+$/.test(expires ?? '')) {
      throw cookieProblem(`line ${index + 1} is not a Netscape cookie line (seven tab-separated fields: domain, subdomains, path, secure, expiry, name, value)`);
    }
    cookies.push({ domain, includeSubdomains: includeSubdomains === 'TRUE', path: cookiePath || '/', secure: secure === 'TRUE', expires: Number(expires), name, value: value ?? '', httpOnly });
  }
  return cookies;
}

const isYouTubeDomain = (domain: string): boolean => /(?:^|\.)youtube\.com$/i.test(domain);

/**
 * The operator's YOUTUBE_COOKIES file: a signed-in YouTube session, which YouTube asks of servers
 * in data centres before it serves them. It is a secret like a password: refused while other
 * users may read it (as ssh refuses a private key), and never logged: printing this object shows
 * only how many cookies it holds.
 */
export class YouTubeCookies {
  private constructor(
    readonly file: string,
    private readonly text: string,
    private readonly cookies: readonly NetscapeCookie[],
  ) {}

  static async load(file: string): Promise<YouTubeCookies> {
    const resolved = path.resolve(file);
    const mode = await stat(resolved).then(
      (stats) => stats.mode,
      (error: NodeJS.ErrnoException) => {
        throw cookieProblem(`could not be read (${error.code ?? error.message})`);
      },
    );
    if ((mode & 0o077) !== 0) {
      throw cookieProblem(`may be read by other users (mode ${(mode & 0o777).toString(8)}); it holds a signed-in session: run chmod 600 ${resolved}`);
    }
    const text = await readFile(resolved, 'utf8');
    const cookies = parseNetscapeCookies(text);
    if (!cookies.some((cookie) => isYouTubeDomain(cookie.domain))) throw cookieProblem('has no youtube.com cookies; export them from a browser signed in to YouTube');
    return new YouTubeCookies(resolved, text, cookies);
  }

  get count(): number {
    return this.cookies.length;
  }

  /**
   * The youtube.com cookies as ytdl-core's agent takes them (its jar refuses other sites' cookies,
   * which an export of the whole browser holds too).
   */
  forYtdl(): ytdl.Cookie[] {
    return this.cookies
      .filter((cookie) => isYouTubeDomain(cookie.domain))
      .map((cookie) => ({
        name: cookie.name,
        value: cookie.value,
        domain: cookie.domain,
        path: cookie.path,
        secure: cookie.secure,
        httpOnly: cookie.httpOnly,
        hostOnly: !cookie.includeSubdomains,
        ...(cookie.expires > 0 ? { expirationDate: cookie.expires } : {}),
      }));
  }

  /**
   * A copy of the file in `dir`, readable by this user only, for yt-dlp: it writes its cookie jar
   * back into the file it is given, which must not be the operator's.
   */
  async copyInto(dir: string): Promise<string> {
    const copy = path.join(dir, 'cookies.txt');
    await writeFile(copy, this.text, { mode: 0o600 });
    return copy;
  }

  toJSON(): string {
    return this.toString();
  }

  toString(): string {
    return `[${this.count} YouTube cookies]`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

function cookieProblem(problem: string): UserError {
  return new UserError('youtube_cookies', `YOUTUBE_COOKIES ${problem}.`);
}
