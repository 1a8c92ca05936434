import { defineRoute, principalOf, type RouteDefinition } from '../../../../../http/route.ts';
import { idParamsSchema } from '../../../../../http/schemas.ts';
import { submissionSchema } from '../../../../../publishing/schemas.ts';
import type { PublishingServices } from '../../../../../publishing/services.ts';
import { decideSubmission } from '../../../../../publishing/store.ts';

/** `POST /marketplace/submissions/{id}/approve` (reviewers). */
export default (services: PublishingServices): RouteDefinition =>
  defineRoute<{ Params: { id: string }; Body: { notes?: string } | undefined }>({
    method: 'POST',
    url: '/marketplace/submissions/:id/approve',
    access: { roles: ['reviewer'] },
    schema: {
      summary: 'Approve a submission: the version is published (immutable) and listed',
      tags: ['publishing'],
      params: idParamsSchema,
      body: { type: 'object', additionalProperties: false, required: [], properties: { notes: { type: 'string', minLength: 0, maxLength: 10000 } } },
      response: { 200: submissionSchema },
    },
    async handler(request) {
      const notes = request.body?.notes?.trim();
      return decideSubmission(services.db, principalOf(request), request.params.id, 'approved', notes || undefined);
    },
  }) as unknown as RouteDefinition;
