import type { RecordedRequest } from './http.js';

export interface RateLimitRule {
  method?: string;
  /** A route template (`/webhooks/:app/:token/messages/:message`) or a pattern tested against the concrete path. */
  route?: string | RegExp;
  /** How many matching requests get a 429; default 1. */
  count?: number;
  /** Seconds, as Discord sends them; default 1. */
  retryAfter?: number;
  /** A global limit sets `x-ratelimit-global` and `global: true`. */
  global?: boolean;
}

interface PendingLimit {
  rule: RateLimitRule;
  remaining: number;
}

/** Answers the next N matching requests with 429 the way Discord does: headers and a JSON body. */
export class RateLimiter {
  private readonly pending: PendingLimit[] = [];

  add(rule: RateLimitRule): void {
    this.pending.push({ rule, remaining: rule.count ?? 1 });
  }

  /** Returns the 429 answer for this request, or undefined to let it through. */
  take(request: RecordedRequest, nowMs: number): { headers: Record<string, string>; body: unknown } | undefined {
    const limit = this.pending.find((p) => p.remaining > 0 && matches(p.rule, request));
    if (!limit) return undefined;
    limit.remaining -= 1;
    const retryAfter = limit.rule.retryAfter ?? 1;
    const global = limit.rule.global ?? false;
    const headers: Record<string, string> = {
      'retry-after': String(Math.ceil(retryAfter)),
      'x-ratelimit-limit': '5',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': ((nowMs + retryAfter * 1000) / 1000).toFixed(3),
      'x-ratelimit-reset-after': retryAfter.toFixed(3),
      'x-ratelimit-bucket': bucketOf(request),
      'x-ratelimit-scope': global ? 'global' : 'user',
      ...(global ? { 'x-ratelimit-global': 'true' } : {}),
    };
    return { headers, body: { message: 'You are being rate limited.', retry_after: retryAfter, global } };
  }
}

/** The bucket hash of a route. */
function bucketOf(request: RecordedRequest): string {
  return `fake-${(request.route ?? request.path).replace(/[^a-z]/gi, '')}`;
}

/**
 * Discord names the bucket on every answer, not only on a 429: discord.js moves a route's later
 * requests to the bucket's own queue when it first hears its hash, so a hash first heard on a 429
 * would let the next request skip the wait that 429 set.
 */
export function bucketHeaders(request: RecordedRequest): Record<string, string> {
  return { 'x-ratelimit-bucket': bucketOf(request), 'x-ratelimit-limit': '5', 'x-ratelimit-remaining': '4', 'x-ratelimit-reset-after': '1.000', 'x-ratelimit-scope': 'user' };
}

function matches(rule: RateLimitRule, request: RecordedRequest): boolean {
  if (rule.method && rule.method.toUpperCase() !== request.method) return false;
  if (rule.route === undefined) return true;
  return typeof rule.route === 'string' ? rule.route === request.route : rule.route.test(request.path);
}
