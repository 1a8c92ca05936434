import { defineRoute, principalOf } from '../../http/route.ts';
import { API_KEY_COLUMNS, apiKeySchema, apiKeyView, type ApiKeyRow } from './shared.ts';

/** Lists the tenant's keys (prefix and roles, never the secret). */
export default defineRoute({
  method: 'GET',
  url: '/api-keys',
  access: { roles: ['tenant_admin'] },
  schema: {
    summary: "List your tenant's API keys",
    tags: ['tenants'],
    response: {
      200: { type: 'object', required: ['items'], additionalProperties: false, properties: { items: { type: 'array', items: apiKeySchema } } },
    },
  },
  async handler(request, _reply, { db }) {
    const principal = principalOf(request);
    // RLS limits this to the caller's tenant; the explicit filter states the intent.
    const { rows } = await db.withTenant(principal.tenantId, (tx) =>
      tx.query<ApiKeyRow>(`SELECT ${API_KEY_COLUMNS} FROM connectors.api_keys WHERE tenant_id = $1 ORDER BY created_at`, [principal.tenantId]),
    );
    return { items: rows.map(apiKeyView) };
  },
});
