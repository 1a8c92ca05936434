import { defineRoute, principalOf } from '../../http/route.ts';
import { CONNECTION_SELECT, connectionSchema, connectionView, type ConnectionRow } from './shared.ts';

/** The tenant's connections with their status; credentials are never returned. */
export default defineRoute({
  method: 'GET',
  url: '/connections',
  access: { roles: [] },
  schema: {
    summary: "Your tenant's connections",
    tags: ['connections'],
    response: { 200: { type: 'object', additionalProperties: false, required: ['items'], properties: { items: { type: 'array', items: connectionSchema } } } },
  },
  async handler(request, _reply, { db }) {
    const principal = principalOf(request);
    const { rows } = await db.withTenant(principal.tenantId, (tx) => tx.query<ConnectionRow>(`${CONNECTION_SELECT} WHERE c.tenant_id = $1 ORDER BY c.created_at`, [principal.tenantId]));
    return { items: rows.map(connectionView) };
  },
});
