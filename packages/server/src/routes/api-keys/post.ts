import { keyActor, recordAudit } from '../../audit.ts';
import { generateApiKey, ROLES, type Role } from '../../http/api-key.ts';
import { ProblemError } from '../../http/problem.ts';
import { defineRoute, principalOf } from '../../http/route.ts';
import { API_KEY_COLUMNS, apiKeyView, createdApiKeySchema, type ApiKeyRow } from './shared.ts';

interface Body {
  name: string;
  roles: Role[];
}

/** A tenant admin creates another key for the same tenant. */
export default defineRoute<{ Body: Body }>({
  method: 'POST',
  url: '/api-keys',
  access: { roles: ['tenant_admin'] },
  schema: {
    summary: 'Create an API key for your tenant (shown once)',
    tags: ['tenants'],
    body: {
      type: 'object',
      required: ['name', 'roles'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 200 },
        roles: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...ROLES] } },
      },
    },
    response: { 201: createdApiKeySchema },
  },
  async handler(request, reply, { db }) {
    const principal = principalOf(request);
    if (request.body.roles.includes('reviewer') && !principal.isPlatform) {
      throw new ProblemError('FORBIDDEN', 'Only the platform tenant can hold the reviewer role; choose tenant_admin and/or publisher', {
        type: 'missing-role',
        errors: [{ path: '/roles', in: 'body', message: 'reviewer is reserved to the platform tenant' }],
      });
    }
    const key = generateApiKey();
    const row = await db.withTenant(principal.tenantId, async (tx) => {
      const inserted = await tx.query<ApiKeyRow>(
        `INSERT INTO connectors.api_keys (tenant_id, name, prefix, key_hash, roles, created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${API_KEY_COLUMNS}`,
        [principal.tenantId, request.body.name, key.prefix, key.hash, request.body.roles, principal.keyId],
      );
      await recordAudit(tx, { tenantId: principal.tenantId, actor: keyActor(principal.keyId), action: 'api_key.create', targetType: 'api_key', targetId: inserted.rows[0]!.id, details: { roles: request.body.roles } });
      return inserted.rows[0]!;
    });
    return reply.code(201).send({ ...apiKeyView(row), secret: key.secret });
  },
});
