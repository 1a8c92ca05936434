import { describe, expect, it } from 'vitest';
import { ConnectorError, ERROR_CATALOGUE, RateLimitedError, fromErrorData, isConnectorError, isRetryable, toErrorData } from './errors.ts';
import { errorFromResponse, parseRetryAfter } from './http.ts';

describe('error catalogue', () => {
  it('round-trips through plain data, as across the sandbox boundary', () => {
    const e = new RateLimitedError(7, 'slow down');
    const data = JSON.parse(JSON.stringify(e.toJSON()));
    expect(data).toEqual({ code: 'RATE_LIMITED', message: 'slow down', retryAfter: 7 });
    const back = fromErrorData(data);
    expect(back).toBeInstanceOf(ConnectorError);
    expect(isConnectorError(data)).toBe(true);
    expect(isRetryable(back.code)).toBe(true);
  });

  it('turns unknown throwables into INTERNAL and unknown codes are not recognised', () => {
    expect(toErrorData(new TypeError('x is undefined'))).toEqual({ code: 'INTERNAL', message: 'x is undefined' });
    expect(toErrorData('boom')).toEqual({ code: 'INTERNAL', message: 'boom' });
    expect(isConnectorError({ code: 'MADE_UP', message: 'x' })).toBe(false);
    expect(fromErrorData({ code: 'MADE_UP' as never, message: 'x' }).code).toBe('INTERNAL');
  });

  it('maps every status to a catalogue code', () => {
    for (const entry of Object.values(ERROR_CATALOGUE)) expect(entry.status).toBeGreaterThanOrEqual(400);
  });
});

describe('errorFromResponse', () => {
  const req = { method: 'POST' as const, url: '/v1/charges' };
  it('maps provider answers to codes a caller can act on', () => {
    expect(errorFromResponse(req, { status: 401, headers: {}, data: {} }).code).toBe('AUTH_FAILED');
    expect(errorFromResponse(req, { status: 404, headers: {}, data: {} }).code).toBe('NOT_FOUND');
    expect(errorFromResponse(req, { status: 422, headers: {}, data: { error: { message: 'amount too small' } } }).message).toContain('amount too small');
    expect(errorFromResponse(req, { status: 503, headers: {}, data: '' }).code).toBe('UPSTREAM_ERROR');
    // 4xx answers other than 408/429 must never be classed retryable.
    for (const status of [402, 403, 405, 410, 412, 413, 418]) expect(isRetryable(errorFromResponse(req, { status, headers: {}, data: {} }).code)).toBe(false);
    expect(errorFromResponse(req, { status: 402, headers: {}, data: {} }).code).toBe('NON_RETRYABLE');
    const limited = errorFromResponse(req, { status: 429, headers: { 'Retry-After': '12' }, data: {} });
    expect(limited).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 12, upstreamStatus: 429 });
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});
