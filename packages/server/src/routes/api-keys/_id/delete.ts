import { keyActor, recordAudit } from '../../../audit.ts';
import { ProblemError } from '../../../http/problem.ts';
import { defineRoute, principalOf } from '../../../http/route.ts';
import { idParamsSchema } from '../../../http/schemas.ts';
import { API_KEY_COLUMNS, apiKeySchema, apiKeyView, type ApiKeyRow } from '../shared.ts';

/** Revokes a key of the caller's tenant. Idempotent; another tenant's key is a 404. */
export default defineRoute<{ Params: { id: string } }>({
  method: 'DELETE',
  url: '/api-keys/:id',
  access: { roles: ['tenant_admin'] },
  schema: {
    summary: 'Revoke an API key',
    tags: ['tenants'],
    params: idParamsSchema,
    response: { 200: apiKeySchema },
  },
  async handler(request, _reply, { db }) {
    const principal = principalOf(request);
    const { id } = request.params;
    const row = await db.withTenant(principal.tenantId, async (tx) => {
      const updated = await tx.query<ApiKeyRow>(
        `UPDATE connectors.api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 AND tenant_id = $2 RETURNING ${API_KEY_COLUMNS}`,
        [id, principal.tenantId],
      );
      const key = updated.rows[0];
      if (!key) return undefined;
      await recordAudit(tx, { tenantId: principal.tenantId, actor: keyActor(principal.keyId), action: 'api_key.revoke', targetType: 'api_key', targetId: id });
      return key;
    });
    if (!row) throw new ProblemError('NOT_FOUND', `No API key ${id} in your tenant; list keys with GET /api-keys`);
    return apiKeyView(row);
  },
});
