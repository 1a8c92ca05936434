import { findExecution } from '../../../execution/executions.ts';
import { ProblemError } from '../../../http/problem.ts';
import { defineRoute, principalOf } from '../../../http/route.ts';
import { idParamsSchema } from '../../../http/schemas.ts';

/** One execution of the caller's tenant: status queued|running|succeeded|failed, with its result or error. */
export default defineRoute<{ Params: { id: string } }>({
  method: 'GET',
  url: '/executions/:id',
  access: { roles: ['tenant_admin'] },
  schema: {
    summary: 'Read an execution',
    tags: ['execution'],
    params: idParamsSchema,
    response: {
      200: {
        type: 'object',
        required: ['id', 'connector', 'version', 'action', 'status', 'createdAt'],
        properties: {
          id: { type: 'string', format: 'uuid' },
          connector: { type: 'string' },
          version: { type: 'string' },
          action: { type: 'string' },
          connectionId: { type: ['string', 'null'] },
          status: { type: 'string', enum: ['queued', 'running', 'succeeded', 'failed'] },
          result: {},
          error: { type: ['object', 'null'], additionalProperties: true },
          meta: { type: ['object', 'null'], additionalProperties: true },
          createdAt: { type: 'string', format: 'date-time' },
          finishedAt: { type: ['string', 'null'], format: 'date-time' },
        },
      },
    },
  },
  async handler(request, _reply, { db }) {
    const principal = principalOf(request);
    const found = await findExecution(db, principal.tenantId, request.params.id);
    if (!found) throw new ProblemError('NOT_FOUND', `No execution ${request.params.id} in your tenant`);
    return found;
  },
});
