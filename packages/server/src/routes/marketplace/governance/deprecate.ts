import { defineRoute, principalOf, type RouteDefinition } from '../../../http/route.ts';
import { idParamsSchema } from '../../../http/schemas.ts';
import type { PublishingServices } from '../../../publishing/services.ts';
import { deprecateConnector } from '../../../publishing/store.ts';

/** `POST /marketplace/connectors/{id}/deprecate` (the connector's publisher or a reviewer). */
export default (services: PublishingServices): RouteDefinition =>
  defineRoute<{ Params: { id: string }; Body: { message: string; replacement?: string } }>({
    method: 'POST',
    url: '/marketplace/connectors/:id/deprecate',
    access: { roles: ['publisher', 'reviewer'] },
    schema: {
      summary: 'Deprecate a connector with a message and an optional replacement',
      tags: ['publishing'],
      params: idParamsSchema,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['message'],
        properties: { message: { type: 'string', minLength: 1, maxLength: 2000 }, replacement: { type: 'string', minLength: 1, maxLength: 255, description: 'Name of the connector to use instead' } },
      },
      response: {
        200: {
          type: 'object',
          additionalProperties: false,
          required: ['id', 'name', 'deprecation'],
          properties: {
            id: { type: 'string', format: 'uuid' },
            name: { type: 'string' },
            deprecation: { type: 'object', additionalProperties: false, required: ['message', 'replacement'], properties: { message: { type: 'string' }, replacement: { type: ['string', 'null'] } } },
          },
        },
      },
    },
    async handler(request) {
      return deprecateConnector(services.db, principalOf(request), request.params.id, request.body);
    },
  }) as unknown as RouteDefinition;
