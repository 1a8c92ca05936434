import { describe, expect, it } from 'vitest';
import { createCircuitBreakers } from './circuit-breaker.ts';
import { defaultRetryPolicy, isRetryableFailure, retryDelayMs } from './retry.ts';
import { createFakeClock } from '../testing/fake-clock.ts';

describe('retry policy', () => {
  it('retries 429, 5xx, network errors and timeouts only', () => {
    expect(isRetryableFailure({ code: 'RATE_LIMITED', message: '' })).toBe(true);
    expect(isRetryableFailure({ code: 'UPSTREAM_ERROR', message: '', upstreamStatus: 503 })).toBe(true);
    expect(isRetryableFailure({ code: 'NETWORK_ERROR', message: '' })).toBe(true);
    expect(isRetryableFailure({ code: 'UPSTREAM_ERROR', message: '', upstreamStatus: 302 })).toBe(false);
    expect(isRetryableFailure({ code: 'INVALID_INPUT', message: '' })).toBe(false);
    expect(isRetryableFailure({ code: 'SANDBOX_DEADLINE', message: '' })).toBe(false);
  });

  it('backs off exponentially with full jitter and honours Retry-After up to the cap', () => {
    const p = { ...defaultRetryPolicy, maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000 };
    const net = { code: 'NETWORK_ERROR' as const, message: '' };
    expect(retryDelayMs(1, net, p, () => 0.999)).toBe(99);
    expect(retryDelayMs(3, net, p, () => 0.5)).toBe(200);
    expect(retryDelayMs(4, net, p, () => 0.999)).toBe(799);
    expect(retryDelayMs(1, net, p, () => 0)).toBe(0);
    expect(retryDelayMs(5, net, p)).toBeUndefined();
    expect(retryDelayMs(1, { code: 'RATE_LIMITED', message: '', retryAfter: 2 }, p, () => 0.5)).toBe(2000);
    expect(retryDelayMs(1, { code: 'RATE_LIMITED', message: '', retryAfter: 3600 }, p)).toBeUndefined();
  });
});

describe('circuit breaker', () => {
  it('opens after consecutive failures, probes once after the cool-off, and closes on success', () => {
    const clock = createFakeClock();
    const b = createCircuitBreakers({ failureThreshold: 3, cooldownMs: 10_000, clock });
    const key = 'acme|api.acme.test';
    b.failure(key);
    b.failure(key);
    b.success(key); // success resets the count
    b.failure(key);
    b.failure(key);
    expect(b.state(key)).toBe('closed');
    b.failure(key);
    expect(b.state(key)).toBe('open');
    expect(() => b.check(key)).toThrow(expect.objectContaining({ code: 'CIRCUIT_OPEN', retryAfter: 10 }));
    clock.advance(10_000);
    expect(b.state(key)).toBe('half-open');
    b.check(key); // the probe
    expect(() => b.check(key)).toThrow(expect.objectContaining({ code: 'CIRCUIT_OPEN' }));
    b.failure(key); // probe failed: open again
    expect(b.state(key)).toBe('open');
    clock.advance(10_000);
    b.check(key);
    b.success(key);
    expect(b.state(key)).toBe('closed');
    expect(() => b.check(key)).not.toThrow();
    expect(b.state('other|host')).toBe('closed');
  });
});
