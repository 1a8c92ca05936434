import type { ErrorData } from '@businessos/connector-sdk';

export interface RetryPolicy {
  /** Attempts in all, the first included (default 3). */
  maxAttempts: number;
  /** Base of the exponential backoff (default 200 ms). */
  baseDelayMs: number;
  /** Largest backoff before jitter (default 10 s). */
  maxDelayMs: number;
  /** Largest Retry-After the runtime waits for (default 30 s); a longer one ends the retries and is passed to the caller. */
  maxRetryAfterMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 10_000, maxRetryAfterMs: 30_000 };

/** 429, 5xx, network errors and HTTP timeouts may succeed on a second try; nothing else is retried. */
export function isRetryableFailure(error: ErrorData): boolean {
  switch (error.code) {
    case 'RATE_LIMITED':
    case 'NETWORK_ERROR':
    case 'TIMEOUT':
      return true;
    case 'UPSTREAM_ERROR':
      return error.upstreamStatus === undefined || error.upstreamStatus >= 500;
    default:
      return false;
  }
}

/**
 * How long to wait before attempt `attempt + 1` after a failure: exponential backoff with full jitter
 * (a uniform draw in [0, min(max, base·2^(attempt-1))]), or the provider's Retry-After when it is longer.
 * Answers undefined when the failure must not be retried or the attempts are used up.
 */
export function retryDelayMs(attempt: number, error: ErrorData, policy: RetryPolicy, random: () => number = Math.random): number | undefined {
  if (attempt >= policy.maxAttempts || !isRetryableFailure(error)) return undefined;
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jitter = Math.floor(random() * ceiling);
  if (typeof error.retryAfter === 'number' && error.retryAfter > 0) {
    const asked = error.retryAfter * 1000;
    if (asked > policy.maxRetryAfterMs) return undefined;
    return Math.max(asked, jitter);
  }
  return jitter;
}
