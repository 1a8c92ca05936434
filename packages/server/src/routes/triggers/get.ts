import { defineRoute, principalOf } from '../../http/route.ts';
import { subscriptionSchema } from '../../triggers/subscriptions.ts';
import { requireTriggers } from '../../triggers/trigger-service.ts';

/** Every trigger subscription of the caller's tenant, newest first (stopped ones included). */
export default defineRoute({
  method: 'GET',
  url: '/triggers',
  access: { roles: ['tenant_admin'] },
  schema: {
    summary: 'List the tenant\'s trigger subscriptions',
    tags: ['triggers'],
    response: { 200: { type: 'object', required: ['items'], additionalProperties: false, properties: { items: { type: 'array', items: subscriptionSchema } } } },
  },
  async handler(request, _reply, { triggers }) {
    return { items: await requireTriggers(triggers).list(principalOf(request).tenantId) };
  },
});
