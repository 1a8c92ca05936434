import { defineRoute, principalOf } from '../../../../http/route.ts';
import { idParamsSchema } from '../../../../http/schemas.ts';
import { subscriptionSchema } from '../../../../triggers/subscriptions.ts';
import { requireTriggers } from '../../../../triggers/trigger-service.ts';

/** The trigger subscriptions of one connection (stopped ones included, as history), newest first. */
export default defineRoute<{ Params: { id: string } }>({
  method: 'GET',
  url: '/connections/:id/triggers',
  access: { roles: ['tenant_admin'] },
  schema: {
    summary: 'List the triggers enabled on a connection',
    tags: ['triggers'],
    params: idParamsSchema,
    response: { 200: { type: 'object', required: ['items'], additionalProperties: false, properties: { items: { type: 'array', items: subscriptionSchema } } } },
  },
  async handler(request, _reply, { triggers }) {
    const principal = principalOf(request);
    return { items: await requireTriggers(triggers).list(principal.tenantId, request.params.id) };
  },
});
