import { defineRoute, principalOf, type RouteDefinition } from '../../../../../http/route.ts';
import { ProblemError } from '../../../../../http/problem.ts';
import { idParamsSchema } from '../../../../../http/schemas.ts';
import { submissionSchema } from '../../../../../publishing/schemas.ts';
import type { PublishingServices } from '../../../../../publishing/services.ts';
import { decideSubmission } from '../../../../../publishing/store.ts';

/** `POST /marketplace/submissions/{id}/reject` (reviewers). */
export default (services: PublishingServices): RouteDefinition =>
  defineRoute<{ Params: { id: string }; Body: { notes?: string } | undefined }>({
    method: 'POST',
    url: '/marketplace/submissions/:id/reject',
    access: { roles: ['reviewer'] },
    schema: {
      summary: 'Reject a submission with notes the publisher sees',
      tags: ['publishing'],
      params: idParamsSchema,
      body: { type: 'object', additionalProperties: false, required: ['notes'], properties: { notes: { type: 'string', minLength: 1, maxLength: 10000 } } },
      response: { 200: submissionSchema },
    },
    async handler(request) {
      const notes = request.body?.notes?.trim();
      if (!notes) {
        throw new ProblemError('INVALID_INPUT', 'A rejection needs notes telling the publisher what to fix', { errors: [{ path: '/notes', in: 'body', message: 'is required and may not be blank' }] });
      }
      return decideSubmission(services.db, principalOf(request), request.params.id, 'rejected', notes || undefined);
    },
  }) as unknown as RouteDefinition;
