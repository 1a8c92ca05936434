import { defineRoute, principalOf, type RouteDefinition } from '../../../http/route.ts';
import { submissionSchema } from '../../../publishing/schemas.ts';
import type { PublishingServices } from '../../../publishing/services.ts';
import { listSubmissions, type SubmissionView } from '../../../publishing/store.ts';

/** `GET /marketplace/submissions`: a publisher's own submissions; for reviewers, every tenant's (the queue with `?status=pending`). */
export default (services: PublishingServices): RouteDefinition =>
  defineRoute<{ Querystring: { status?: SubmissionView['status']; mine?: boolean; limit: number; offset: number } }>({
    method: 'GET',
    url: '/marketplace/submissions',
    access: { roles: ['publisher', 'reviewer'] },
    schema: {
      summary: 'List submissions (publishers: their own; reviewers: all, `?status=pending` is the review queue)',
      tags: ['publishing'],
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          status: { type: 'string', enum: ['pending', 'approved', 'rejected'] },
          mine: { type: 'boolean', default: false, description: 'Reviewers: only your own tenant\'s submissions' },
          limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
          // An exact number PostgreSQL's bigint OFFSET accepts.
          offset: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 },
        },
      },
      response: { 200: { type: 'object', additionalProperties: false, required: ['items'], properties: { items: { type: 'array', items: submissionSchema } } } },
    },
    async handler(request) {
      const q = request.query;
      return { items: await listSubmissions(services.db, principalOf(request), { ...(q.status ? { status: q.status } : {}), mine: q.mine ?? false, limit: q.limit ?? 20, offset: q.offset ?? 0 }) };
    },
  }) as unknown as RouteDefinition;
