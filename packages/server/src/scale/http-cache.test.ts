import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { ROUTES } from '../routes/index.ts';
import { CACHED_ROUTES, installResponseCache, invalidationFor } from './http-cache.ts';
import type { Invalidation, ResponseCache } from './response-cache.ts';

/** The cache's contract in memory: entries per tenant, cleared by invalidations. */
function memoryCache() {
  const entries = new Map<string, unknown>();
  const invalidations: Invalidation[] = [];
  const cache: ResponseCache = {
    async wrap(entry, compute, keep = () => true) {
      const key = `${entry.tenant ?? '-'}:${entry.variant}`;
      if (entries.has(key)) return entries.get(key) as Awaited<ReturnType<typeof compute>>;
      const value = await compute();
      if (keep(value)) entries.set(key, value);
      return value;
    },
    async invalidate(change) {
      invalidations.push(change);
      for (const key of [...entries.keys()]) if (change.catalog || key.startsWith(`${change.tenant}:`)) entries.delete(key);
    },
    close: async () => undefined,
  };
  return { cache, entries, invalidations };
}

describe('response cache on routes', () => {
  it('caches only routes that exist', () => {
    const urls = new Set(ROUTES.map((r) => r.url));
    for (const url of CACHED_ROUTES) expect(urls, url).toContain(url);
  });

  it('invalidates the catalogue and the writer\'s tenant on marketplace and installation writes only', () => {
    expect(invalidationFor('POST', '/marketplace/submissions/:id/approve', 't1')).toEqual({ catalog: true, tenant: 't1' });
    expect(invalidationFor('POST', '/marketplace/install/:id', 't1')).toEqual({ catalog: true, tenant: 't1' });
    expect(invalidationFor('DELETE', '/installations/:id', 't1')).toEqual({ catalog: true, tenant: 't1' });
    expect(invalidationFor('POST', '/marketplace/connectors/:id/versions/:version/yank', undefined)).toEqual({ catalog: true });
    expect(invalidationFor('GET', '/marketplace/search', 't1')).toBeUndefined();
    expect(invalidationFor('POST', '/connectors/:name/execute', 't1')).toBeUndefined();
    expect(invalidationFor('POST', '/connections', 't1')).toBeUndefined();
  });

  it('answers repeated reads from the cache per tenant and drops them after a successful write', async () => {
    const { cache, invalidations } = memoryCache();
    const app = Fastify();
    app.decorateRequest('principal', null);
    app.addHook('preHandler', async (request) => {
      const tenant = request.headers['x-tenant'];
      request.principal = typeof tenant === 'string' ? { keyId: 'k', tenantId: tenant, roles: ['tenant_admin'], isPlatform: false, prefix: 'bos_x' } : null;
    });
    installResponseCache(app, cache);
    let reads = 0;
    app.get('/installations', async (request) => ({ tenant: request.principal?.tenantId, reads: ++reads }));
    app.post('/marketplace/install/:id', async (_request, reply) => reply.code(201).send({ ok: true }));
    app.post('/marketplace/install/:id/fail', async (_request, reply) => reply.code(400).send({ ok: false }));
    const get = async (tenant: string) => (await app.inject({ url: '/installations', headers: { 'x-tenant': tenant } })).json() as { tenant: string; reads: number };

    expect(await get('a')).toEqual({ tenant: 'a', reads: 1 });
    expect(await get('a')).toEqual({ tenant: 'a', reads: 1 });
    expect(await get('b')).toEqual({ tenant: 'b', reads: 2 });
    await app.inject({ method: 'POST', url: '/marketplace/install/x/fail', headers: { 'x-tenant': 'a' } });
    expect(invalidations).toEqual([]);
    await app.inject({ method: 'POST', url: '/marketplace/install/x', headers: { 'x-tenant': 'a' } });
    expect(invalidations).toEqual([{ catalog: true, tenant: 'a' }]);
    expect(await get('a')).toEqual({ tenant: 'a', reads: 3 });
    await app.close();
  });
});
