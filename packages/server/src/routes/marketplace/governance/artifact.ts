import { defineRoute, principalOf, type RouteDefinition } from '../../../http/route.ts';
import { ProblemError } from '../../../http/problem.ts';
import type { PublishingServices } from '../../../publishing/services.ts';
import { readArtifact } from '../../../publishing/store.ts';

/**
 * `GET /artifacts/{sha256}`: a connector bundle by its content address. Published global versions for any key,
 * private ones for their tenant, pending ones for their publisher and reviewers; 404 otherwise.
 */
export default (services: PublishingServices): RouteDefinition =>
  defineRoute<{ Params: { sha256: string } }>({
    method: 'GET',
    url: '/artifacts/:sha256',
    access: { roles: [] },
    schema: {
      summary: 'Download a connector bundle by sha256',
      tags: ['publishing'],
      params: { type: 'object', additionalProperties: false, required: ['sha256'], properties: { sha256: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'Hex sha256 (lower case)' } } },
      response: { 200: { description: 'The bundle bytes (connector.js)', type: 'string', format: 'binary' } },
    },
    async handler(request, reply) {
      const bytes = await readArtifact(services.db, principalOf(request), request.params.sha256);
      if (!bytes) throw new ProblemError('NOT_FOUND', `No artifact ${request.params.sha256} visible to this key`);
      return reply
        .header('content-type', 'text/javascript; charset=utf-8')
        .header('x-content-sha256', request.params.sha256)
        .header('cache-control', 'private, max-age=31536000, immutable')
        .send(bytes);
    },
  }) as unknown as RouteDefinition;
