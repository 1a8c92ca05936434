import { defineRoute, principalOf, type RouteDefinition } from '../../../../http/route.ts';
import { idParamsSchema } from '../../../../http/schemas.ts';
import { submissionSchema } from '../../../../publishing/schemas.ts';
import type { PublishingServices } from '../../../../publishing/services.ts';
import { getSubmission } from '../../../../publishing/store.ts';

/** `GET /marketplace/submissions/{id}`: checks, hosts, permissions, the diff against the previous version and the decision. */
export default (services: PublishingServices): RouteDefinition =>
  defineRoute<{ Params: { id: string } }>({
    method: 'GET',
    url: '/marketplace/submissions/:id',
    access: { roles: ['publisher', 'reviewer'] },
    schema: { summary: 'One submission with its checks and manifest diff', tags: ['publishing'], params: idParamsSchema, response: { 200: submissionSchema } },
    async handler(request) {
      return getSubmission(services.db, principalOf(request), request.params.id);
    },
  }) as unknown as RouteDefinition;
