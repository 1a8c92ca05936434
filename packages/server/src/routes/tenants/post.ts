import { keyActor, recordAudit } from '../../audit.ts';
import { generateApiKey } from '../../http/api-key.ts';
import { defineRoute, principalOf } from '../../http/route.ts';
import { timestampSchema, uuidSchema, iso } from '../../http/schemas.ts';
import { API_KEY_COLUMNS, apiKeyView, createdApiKeySchema, type ApiKeyRow } from '../api-keys/shared.ts';

interface Body {
  name: string;
  keyName?: string;
}

/** Platform admin creates a tenant and its first key (tenant_admin + publisher). */
export default defineRoute<{ Body: Body }>({
  method: 'POST',
  url: '/tenants',
  access: { roles: ['reviewer'] },
  schema: {
    summary: 'Create a tenant with its first API key (platform admin)',
    tags: ['tenants'],
    body: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 200 },
        keyName: { type: 'string', minLength: 1, maxLength: 200, default: 'initial admin key' },
      },
    },
    response: {
      201: {
        type: 'object',
        required: ['tenant', 'apiKey'],
        additionalProperties: false,
        properties: {
          tenant: {
            type: 'object',
            required: ['id', 'name', 'createdAt'],
            additionalProperties: false,
            properties: { id: uuidSchema, name: { type: 'string' }, createdAt: timestampSchema },
          },
          apiKey: createdApiKeySchema,
        },
      },
    },
  },
  async handler(request, reply, { db }) {
    const principal = principalOf(request);
    const key = generateApiKey();
    // Creating a tenant crosses tenants by nature: an owner transaction, audited.
    const result = await db.transaction(async (tx) => {
      const tenant = await tx.query<{ id: string; name: string; created_at: Date }>(
        'INSERT INTO connectors.tenants (name) VALUES ($1) RETURNING id, name, created_at',
        [request.body.name],
      );
      const t = tenant.rows[0]!;
      const inserted = await tx.query<ApiKeyRow>(
        `INSERT INTO connectors.api_keys (tenant_id, name, prefix, key_hash, roles, created_by)
         VALUES ($1, $2, $3, $4, ARRAY['tenant_admin', 'publisher'], $5) RETURNING ${API_KEY_COLUMNS}`,
        [t.id, request.body.keyName ?? 'initial admin key', key.prefix, key.hash, principal.keyId],
      );
      await recordAudit(tx, { tenantId: principal.tenantId, actor: keyActor(principal.keyId), action: 'tenant.create', targetType: 'tenant', targetId: t.id, details: { name: t.name } });
      await recordAudit(tx, { tenantId: t.id, actor: keyActor(principal.keyId), action: 'api_key.create', targetType: 'api_key', targetId: inserted.rows[0]!.id });
      return { tenant: { id: t.id, name: t.name, createdAt: iso(t.created_at) }, apiKey: { ...apiKeyView(inserted.rows[0]!), secret: key.secret } };
    });
    return reply.code(201).send(result);
  },
});
