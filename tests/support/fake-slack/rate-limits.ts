export interface RateLimitRule {
  /** Web API method, e.g. `chat.update`. */
  method: string;
  /** Only calls made with this workspace's token; default any. */
  teamId?: string;
  /** How many matching calls get a 429; default 1. */
  count?: number;
  /** Seconds, sent as `Retry-After`; default 1. */
  retryAfter?: number;
}

/** Answers the next N matching calls the way Slack does: HTTP 429, `Retry-After`, `{ ok: false, error: 'ratelimited' }`. */
export class RateLimiter {
  private readonly pending: { rule: RateLimitRule; remaining: number }[] = [];

  add(rule: RateLimitRule): void {
    this.pending.push({ rule, remaining: rule.count ?? 1 });
  }

  /** The `Retry-After` seconds for this call, or undefined to let it through. */
  take(method: string, teamId: string | undefined): number | undefined {
    const limit = this.pending.find((p) => p.remaining > 0 && p.rule.method === method && (p.rule.teamId === undefined || p.rule.teamId === teamId));
    if (!limit) return undefined;
    limit.remaining -= 1;
    return limit.rule.retryAfter ?? 1;
  }
}

export interface LostAnswerRule {
  /** Web API method, e.g. `files.completeUploadExternal`. */
  method: string;
  /** Only calls made with this workspace's token; default any. */
  teamId?: string;
  /** How many matching calls lose their answer; default 1. */
  count?: number;
}

/**
 * Calls that take effect but whose answer never reaches the app the way it should: Slack did the
 * work, then the app sees HTTP 500 (`internal_error`), as when a poster dies or its connection
 * breaks right after the call went through.
 */
export class LostAnswers {
  private readonly pending: { rule: LostAnswerRule; remaining: number }[] = [];

  add(rule: LostAnswerRule): void {
    this.pending.push({ rule, remaining: rule.count ?? 1 });
  }

  /** Whether this call's answer is to be lost (counted when it is). */
  take(method: string, teamId: string | undefined): boolean {
    const rule = this.pending.find((p) => p.remaining > 0 && p.rule.method === method && (p.rule.teamId === undefined || p.rule.teamId === teamId));
    if (!rule) return false;
    rule.remaining -= 1;
    return true;
  }
}
