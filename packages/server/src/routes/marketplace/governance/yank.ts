import { defineRoute, principalOf, type RouteDefinition } from '../../../http/route.ts';
import type { PublishingServices } from '../../../publishing/services.ts';
import { yankVersion } from '../../../publishing/store.ts';

/** `POST /marketplace/connectors/{id}/versions/{version}/yank`: no new installs of that version; existing ones keep running. */
export default (services: PublishingServices): RouteDefinition =>
  defineRoute<{ Params: { id: string; version: string }; Body: { reason?: string } | undefined }>({
    method: 'POST',
    url: '/marketplace/connectors/:id/versions/:version/yank',
    access: { roles: ['publisher', 'reviewer'] },
    schema: {
      summary: 'Yank a published version',
      tags: ['publishing'],
      params: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'version'],
        properties: { id: { type: 'string', format: 'uuid' }, version: { type: 'string', minLength: 1, maxLength: 64 } },
      },
      body: { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', maxLength: 2000 } } },
      response: {
        200: {
          type: 'object',
          additionalProperties: false,
          required: ['id', 'name', 'version', 'status'],
          properties: { id: { type: 'string', format: 'uuid' }, name: { type: 'string' }, version: { type: 'string' }, status: { type: 'string', enum: ['yanked'] } },
        },
      },
    },
    async handler(request) {
      return yankVersion(services.db, principalOf(request), request.params.id, request.params.version, request.body?.reason);
    },
  }) as unknown as RouteDefinition;
