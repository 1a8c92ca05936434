import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/db.ts';
import { readApiKey } from './api-key.ts';
import { authenticate, authorize } from './authenticate.ts';
import { problemSchema } from './problem.ts';
import type { RouteDefinition, RouteDeps } from './route.ts';

/**
 * Registers one route with the service's contract: its schemas plus the problem envelopes, the OpenAPI security
 * requirement, and the key and role checks its `access` asks for. `deps` reaches the handler; routes built by a
 * factory (publishing) carry their own services and get none.
 */
export function mountRoute(app: FastifyInstance, route: RouteDefinition, db: Db, deps?: RouteDeps): void {
  const { access } = route;
  const label = `${route.method} ${route.url}`;
  app.route({
    method: route.method,
    url: route.url,
    schema: {
      ...route.schema,
      ...(access === 'public' ? {} : { security: access === 'optional' ? [{}, { bearerAuth: [] }, { apiKeyHeader: [] }] : [{ bearerAuth: [] }, { apiKeyHeader: [] }] }),
      response: { ...(route.schema.response as object), '4xx': problemSchema, '5xx': problemSchema },
    },
    preHandler:
      access === 'public'
        ? undefined
        : async (request) => {
            if (access === 'optional') {
              if (readApiKey(request.headers) !== undefined) request.principal = await authenticate(db, request);
              return;
            }
            request.principal = await authenticate(db, request);
            authorize(request.principal, access, label);
          },
    handler: (request, reply) => route.handler(request, reply, deps as RouteDeps),
  });
}
