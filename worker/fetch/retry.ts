import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryPolicy {
  attempts: number;
  /** Delay before the second try; doubled for each try after. */
  firstDelayMs: number;
}

/** Retries `work` while `isTransient(error)`; a permanent error, or the last try's, is thrown as is. */
export async function withRetries<T>(work: () => Promise<T>, isTransient: (error: unknown) => boolean, policy: RetryPolicy, signal?: AbortSignal): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= policy.attempts || !isTransient(error) || signal?.aborted) throw error;
      await sleep(policy.firstDelayMs * 2 ** (attempt - 1), undefined, { signal });
    }
  }
}

const NETWORK_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET']);

/** Connection-level failures: worth another try later, and not the user's fault. */
export function isNetworkError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current && depth < 4; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    if (current instanceof Error && /timed? ?out|socket hang up|fetch failed/i.test(current.message)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
