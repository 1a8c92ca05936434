import type { FastifyInstance, RouteHandlerMethod } from 'fastify';
import type { Invalidation, ResponseCache } from './response-cache.ts';

/** Read routes answered through the cache (their answers depend only on the store, the caller's tenant and roles). */
export const CACHED_ROUTES: ReadonlySet<string> = new Set([
  '/marketplace/search',
  '/marketplace/connectors/:id',
  '/marketplace/connectors/:id/versions',
  '/marketplace/connectors/:id/reviews',
  '/installations',
  '/connectors/nodes',
]);

/**
 * What a successful write to `url` invalidates: writes under `/marketplace/` (publish, approve, deprecate, yank,
 * install, ratings) change the catalogue; writes under `/installations` (uninstall, upgrade) change the catalogue's
 * install counts and the caller's installed connectors. Prefix rules, so a new route there is covered.
 */
export function invalidationFor(method: string, url: string, tenant: string | undefined): Invalidation | undefined {
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return undefined;
  if (url.startsWith('/marketplace/') || url === '/installations' || url.startsWith('/installations/')) return { catalog: true, ...(tenant ? { tenant } : {}) };
  return undefined;
}

/**
 * Puts `cache` in front of {@link CACHED_ROUTES} and invalidates after successful writes, before the response is
 * sent (so the writer's next read, from any API process, already misses). Call before routes are registered.
 */
export function installResponseCache(app: FastifyInstance, cache: ResponseCache): void {
  app.addHook('onRoute', (route) => {
    if (route.method !== 'GET' || !CACHED_ROUTES.has(route.url)) return;
    const handler = route.handler;
    const cached: RouteHandlerMethod = async function (request, reply) {
      const principal = request.principal;
      // Roles are part of the variant: nothing a reviewer may see is served to a tenant admin.
      const variant = JSON.stringify([route.url, request.params, request.query, principal ? [...principal.roles].sort() : null]);
      return cache.wrap(
        { tenant: principal?.tenantId ?? null, variant },
        async () => handler.call(this, request, reply) as Promise<unknown>,
        // Only plain JSON answers are kept; a handler that sent its own reply is left alone.
        (value) => reply.statusCode === 200 && value !== null && typeof value === 'object' && value !== reply,
      );
    };
    route.handler = cached;
  });
  app.addHook('onSend', async (request, reply, payload) => {
    if (reply.statusCode >= 300) return payload;
    const change = invalidationFor(request.method, request.routeOptions.url ?? '', request.principal?.tenantId);
    if (change) {
      await cache.invalidate(change).catch((error: unknown) => request.log.error({ err: error }, 'cache invalidation failed: cached reads may be stale until they expire'));
    }
    return payload;
  });
}
