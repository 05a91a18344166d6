import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import type { Readable } from 'node:stream';
import ipaddr from 'ipaddr.js';
import { Agent, request, type Dispatcher } from 'undici';
import { UserError } from '../../core/errors.js';

/**
 * Which hosts a download may reach. Hosts are `host[:port]` as in a URL's `host`. A platform's own
 * file hosts are public: https only, and only while they resolve to public addresses. Hosts the
 * operator configured (DISCORD_API_URL pointing at a proxy, or the test servers) are trusted as
 * they are, loopback and plain http included.
 */
export interface HostRules {
  publicHosts: readonly string[];
  configuredHosts: readonly string[];
}

export interface GuardedGetOptions {
  signal?: AbortSignal | undefined;
  headers?: Record<string, string>;
  /** What a refused hop is called in the user's message ("Discord", "Slack"). */
  platformName: string;
}

export interface GuardedResponse {
  /** The URL that answered, after the redirects that were followed. */
  url: URL;
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable & AsyncIterable<Uint8Array>;
}

/** Discord's CDN redirects at most once in practice; a chain longer than this is not a file host's. */
export const MAX_REDIRECTS = 3;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Between the request and the answer's headers, and between two chunks of its body. */
const IDLE_TIMEOUT_MS = 30_000;

/** ipaddr.js's names for the ranges a public file host never resolves to (only `unicast` is public). */
const isPublicAddress = (address: string): boolean => ipaddr.isValid(address) && ipaddr.process(address).range() === 'unicast';

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A GET that follows redirects itself, re-checking every hop against the host rules, and whose
 * connections to public hosts refuse private addresses at connect time (so a DNS answer that
 * changes between the check and the connection cannot point it inside). undici rather than the
 * global fetch: fetch has no way to hook name resolution per connection.
 */
export class GuardedHttp {
  private readonly agent: Dispatcher;

  constructor(
    private readonly rules: HostRules,
    /** Name resolution; tests hand in one that answers a private address for a public name. */
    resolve: typeof dnsLookup = dnsLookup,
  ) {
    const configured = new Set(rules.configuredHosts.map((host) => new URL(`http://${host}`).hostname));
    const lookup = (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
      resolve(hostname, { ...options, all: true }, (error, addresses) => {
        if (error) return callback(error, []);
        const usable = configured.has(hostname) ? addresses : addresses.filter((entry) => isPublicAddress(entry.address));
        if (usable.length === 0) return callback(Object.assign(new Error(`${hostname} resolves only to private addresses`), { code: 'STEMBOT_PRIVATE_ADDRESS' }), []);
        if (options.all) return callback(null, usable);
        return callback(null, usable[0]!.address, usable[0]!.family);
      });
    };
    this.agent = new Agent({ connect: { lookup }, headersTimeout: IDLE_TIMEOUT_MS, bodyTimeout: IDLE_TIMEOUT_MS });
  }

  /**
   * The one form of a URL every later step uses, or a refusal: http(s) only, no credentials, a
   * host the rules allow, https unless the operator configured the host.
   */
  canonical(raw: string | URL, platformName: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw refusedHost(platformName);
    }
    const configured = this.rules.configuredHosts.includes(url.host);
    const allowed = configured || (this.rules.publicHosts.includes(url.host) && url.protocol === 'https:');
    if (!allowed || url.username !== '' || url.password !== '' || (url.protocol !== 'https:' && url.protocol !== 'http:')) throw refusedHost(platformName);
    url.hash = '';
    return url;
  }

  async get(raw: string | URL, options: GuardedGetOptions): Promise<GuardedResponse> {
    let url = this.canonical(raw, options.platformName);
    for (let hop = 0; ; hop += 1) {
      const reply = await this.request(url, options);
      const location = reply.headers.location;
      if (!REDIRECT_STATUSES.has(reply.statusCode) || typeof location !== 'string') return { url, ...reply };
      // The redirect's own body is not wanted; its connection goes back to the pool.
      await reply.body.dump().catch(() => undefined);
      if (hop >= MAX_REDIRECTS) throw new UserError('attachment_redirects', `The file host sent the download on too many redirects; upload the file to ${options.platformName} again.`);
      url = this.canonical(new URL(location, url), options.platformName);
    }
  }

  private async request(url: URL, options: GuardedGetOptions): Promise<{ statusCode: number; headers: GuardedResponse['headers']; body: Dispatcher.ResponseData['body'] }> {
    try {
      // undici's request follows no redirects unless told to: each hop comes back here to be checked.
      const reply = await request(url, { method: 'GET', dispatcher: this.agent, signal: options.signal, headers: options.headers });
      return { statusCode: reply.statusCode, headers: reply.headers, body: reply.body };
    } catch (error) {
      if ((error as { code?: unknown }).code === 'STEMBOT_PRIVATE_ADDRESS' || (error as { cause?: { code?: unknown } }).cause?.code === 'STEMBOT_PRIVATE_ADDRESS') {
        throw refusedHost(options.platformName, error);
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function refusedHost(platformName: string, cause?: unknown): UserError {
  return new UserError('attachment_host', `Only files uploaded to ${platformName} itself can be separated.`, { cause });
}
