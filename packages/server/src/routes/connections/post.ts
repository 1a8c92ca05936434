import { keyActor, recordAudit } from '../../audit.ts';
import { ProblemError } from '../../http/problem.ts';
import { defineRoute, principalOf } from '../../http/route.ts';
import { splitConnectionInput } from '../../installations/setup.ts';
import { findInstallation } from '../../installations/shared.ts';
import { CONNECTION_SELECT, connectionSchema, connectionView, type ConnectionRow } from './shared.ts';

interface Body {
  installationId: string;
  name: string;
  credentials?: Record<string, string>;
  fields?: Record<string, string>;
}

const stringMap = { type: 'object', maxProperties: 50, additionalProperties: { type: 'string', maxLength: 8192 } } as const;

/** Creates a connection of an installed connector; secrets go to the vault (encrypted), never into plain columns. */
export default defineRoute<{ Body: Body }>({
  method: 'POST',
  url: '/connections',
  access: { roles: ['tenant_admin'] },
  schema: {
    summary: 'Connect an account to an installed connector',
    description: 'Send the inputs the install answer listed: `credentials` (apiKey, token, username, password) and `fields`. OAuth2 connectors connect through the authorize URL instead.',
    tags: ['connections'],
    body: {
      type: 'object',
      required: ['installationId', 'name'],
      additionalProperties: false,
      properties: {
        installationId: { type: 'string', format: 'uuid' },
        name: { type: 'string', minLength: 1, maxLength: 200 },
        credentials: stringMap,
        fields: stringMap,
      },
    },
    response: { 201: connectionSchema },
  },
  async handler(request, reply, { db, vault }) {
    const principal = principalOf(request);
    const body = request.body;
    const { installation, split } = await db.withTenant(principal.tenantId, async (tx) => {
      const found = await findInstallation(tx, body.installationId);
      return { installation: found, split: splitConnectionInput(found.manifest.auth, body) };
    });
    const auth = installation.manifest.auth;
    if (auth.type === 'oauth2' && auth.grant === 'authorization_code') {
      throw new ProblemError('INVALID_INPUT', `${installation.name} connects with OAuth2: open the authorizeUrl from POST /marketplace/install/${installation.connector_id}`, { type: 'use-oauth' });
    }
    if (split.errors.length > 0) {
      throw new ProblemError('INVALID_INPUT', `The connection inputs do not match ${installation.name}'s form: ${split.errors[0]!.path} ${split.errors[0]!.message}`, { errors: split.errors });
    }
    const hasSecrets = Object.keys(split.credentials).length > 0;
    if (hasSecrets && !vault) {
      throw new ProblemError('NOT_IMPLEMENTED', 'This service has no master key, so it cannot store credentials; the operator sets BOS_MASTER_KEY', { status: 503 });
    }
    const created = await db.withTenant(principal.tenantId, async (tx) => {
      const inserted = await tx.query<{ id: string }>(
        'INSERT INTO connectors.connections (tenant_id, installation_id, name, fields) VALUES ($1, $2, $3, $4) RETURNING id',
        [principal.tenantId, installation.id, body.name, JSON.stringify(split.fields)],
      );
      const id = inserted.rows[0]!.id;
      await recordAudit(tx, { tenantId: principal.tenantId, actor: keyActor(principal.keyId), action: 'connection.create', targetType: 'connection', targetId: id, details: { connector: installation.name } });
      return id;
    });
    if (hasSecrets) {
      try {
        await vault!.putCredentials(principal.tenantId, created, split.credentials);
      } catch (error) {
        // Never leave a connection that claims to exist without its credentials.
        await db.withTenant(principal.tenantId, (tx) => tx.query('DELETE FROM connectors.connections WHERE id = $1', [created]));
        throw error;
      }
    }
    const { rows } = await db.withTenant(principal.tenantId, (tx) => tx.query<ConnectionRow>(`${CONNECTION_SELECT} WHERE c.id = $1`, [created]));
    return reply.code(201).send(connectionView(rows[0]!));
  },
});
