import { ProblemError } from '../../../../http/problem.ts';
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
  async handler(request, _reply, { db, triggers }) {
    const principal = principalOf(request);
    const { id } = request.params;
    const service = requireTriggers(triggers);
    // An unknown connection, or another tenant's, is a 404 like on every other connection route: an empty list
    // would tell a typo apart from nothing, and differ from what the sibling routes answer for the same id.
    const { rows } = await db.withTenant(principal.tenantId, (tx) =>
      tx.query('SELECT 1 FROM connectors.connections WHERE id = $1 AND tenant_id = $2', [id, principal.tenantId]),
    );
    if (rows.length === 0) throw new ProblemError('NOT_FOUND', `No connection ${id} in your tenant; list them with GET /connections`);
    return { items: await service.list(principal.tenantId, id) };
  },
});
