import { describe, expect, it } from 'vitest';
import { ApiError, createApiClient, isApiError, withQuery } from './client.ts';

function fakeFetch(status: number, body: unknown, contentType = 'application/problem+json') {
  const calls: { url: string; init: RequestInit | undefined }[] = [];
  const f = async (input: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(input), init });
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers: { 'content-type': contentType } });
  };
  return { f: f as typeof fetch, calls };
}

describe('API client', () => {
  it('sends the key as a bearer token, never in the URL', async () => {
    const { f, calls } = fakeFetch(200, { results: [], total: 0, totalIsLowerBound: false, page: 1, pageSize: 20, facets: { categories: [] } }, 'application/json');
    const api = createApiClient({ getKey: () => 'bos_secret', fetch: f });
    await api.search({ q: 'slack', category: '', page: 2 });
    expect(calls[0]?.url).toBe('/marketplace/search?q=slack&page=2');
    expect((calls[0]?.init?.headers as Record<string, string>).authorization).toBe('Bearer bos_secret');
    expect(calls[0]?.url).not.toContain('bos_secret');
  });

  it('throws the problem envelope as an ApiError with code and detail', async () => {
    const { f } = fakeFetch(422, { status: 422, code: 'VALIDATION', detail: '/params/text: required', errors: [{ path: '/params/text', message: 'required' }] });
    const api = createApiClient({ getKey: () => 'k', fetch: f });
    const err = await api.execute('slack', { action: 'post', params: {}, connection: 'c' }).catch((e: unknown) => e);
    expect(isApiError(err)).toBe(true);
    expect(err).toMatchObject({ status: 422, code: 'VALIDATION', detail: '/params/text: required', routeMissing: false });
    expect((err as ApiError).problem.errors?.[0]?.path).toBe('/params/text');
  });

  it('tells a missing route from a missing resource', async () => {
    const missingRoute = new ApiError({ status: 404, code: 'NOT_FOUND', detail: 'No route POST /connections/x/test; see /openapi.json for the routes' });
    const missingThing = new ApiError({ status: 404, code: 'NOT_FOUND', detail: 'No connector abc' });
    expect(missingRoute.routeMissing).toBe(true);
    expect(missingThing.routeMissing).toBe(false);
  });

  it('describes an answer without an envelope, and a network failure', async () => {
    const { f } = fakeFetch(502, '<html>Bad gateway</html>', 'text/html');
    const err = await createApiClient({ getKey: () => null, fetch: f }).installations().catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 502, code: 'INTERNAL', detail: 'GET /installations answered 502 without an error envelope' });
    const down = (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    const net = await createApiClient({ getKey: () => null, fetch: down }).installations().catch((e: unknown) => e);
    expect(net).toMatchObject({ status: 0, code: 'UNAVAILABLE' });
    expect((net as ApiError).detail).toContain('fetch failed');
  });

  it('builds query strings without empty values', () => {
    expect(withQuery('/x', { a: '', b: undefined, c: 0, d: 'y z' })).toBe('/x?c=0&d=y+z');
    expect(withQuery('/x', {})).toBe('/x');
  });
});
