import { randomUUID } from 'node:crypto';
import type { ConnectorManifest, OAuth2AuthSpec } from '@businessos/connector-sdk';
import { buildAuthorizeUrl, createPkcePair, resolveConfigRef } from '@businessos/connector-sdk/host';
import semver from 'semver';
import { keyActor, recordAudit } from '../../../../audit.ts';
import type { Queryable } from '../../../../db/db.ts';
import { ProblemError } from '../../../../http/problem.ts';
import { defineRoute, principalOf, type RouteDeps } from '../../../../http/route.ts';
import { iso } from '../../../../http/schemas.ts';
import { formFields, signState, stateKey, type FormField } from '../../../../installations/setup.ts';
import { formFieldSchema } from '../../../../installations/shared.ts';
import { findListing, listingParamsSchema } from '../../shared.ts';

interface Body {
  version?: string;
  connectionName?: string;
  fields?: Record<string, string>;
}

interface Setup {
  type: 'none' | 'form' | 'oauth2';
  authType: string;
  fields: FormField[];
  authorizeUrl?: string | null;
  state?: string;
  expiresAt?: string;
  detail?: string;
}

const STATE_TTL_MS = 10 * 60_000;

async function oauthSetup(tx: Queryable, deps: RouteDeps, tenantId: string, installationId: string, manifest: ConnectorManifest, spec: OAuth2AuthSpec, body: Body): Promise<Setup> {
  const fields = formFields(spec);
  const base: Setup = { type: 'oauth2', authType: 'oauth2', fields, authorizeUrl: null };
  if (spec.grant !== 'authorization_code') return { ...base, type: 'form', detail: 'Client-credentials grant: create a connection with POST /connections; the platform supplies the client credentials' };
  if (!deps.vault || !deps.config.masterKey) return { ...base, detail: 'OAuth setup needs a master key (BOS_MASTER_KEY) to sign its state; ask the operator to configure one' };
  const platform = deps.config.oauthApps[manifest.name] ?? {};
  try {
    resolveConfigRef(spec.clientId, platform);
  } catch {
    return { ...base, detail: `The platform has no OAuth app for ${manifest.name}; the operator sets its client id in BOS_OAUTH_APPS` };
  }
  const given = body.fields ?? {};
  const missing = fields.filter((f) => f.in === 'fields' && f.required && !given[f.name] && f.default === undefined);
  if (missing.length > 0) return { ...base, detail: `Install again with fields ${missing.map((f) => f.name).join(', ')}: the authorize URL depends on them` };

  const pkce = spec.pkce ? createPkcePair() : undefined;
  const id = randomUUID();
  const state = signState(id, stateKey(deps.config.masterKey));
  const redirectUri = `${deps.config.publicUrl}/oauth/callback`;
  const expiresAt = new Date(Date.now() + STATE_TTL_MS);
  const authorizeUrl = buildAuthorizeUrl({ spec, redirectUri, state, ...(pkce ? { codeChallenge: pkce.challenge } : {}), fields: given, config: platform });
  await tx.query(
    `INSERT INTO connectors.oauth_states (id, tenant_id, installation_id, connection_name, code_verifier, redirect_uri, fields, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [id, tenantId, installationId, body.connectionName ?? manifest.displayName, pkce?.verifier ?? null, redirectUri, JSON.stringify(given), expiresAt],
  );
  return { ...base, authorizeUrl, state, expiresAt: iso(expiresAt)! };
}

/** Adds a connector (pinned version) to the tenant and says what auth setup it needs. Installing again re-pins. */
export default defineRoute<{ Params: { id: string }; Body: Body | undefined }>({
  method: 'POST',
  url: '/marketplace/install/:id',
  access: { roles: ['tenant_admin'] },
  schema: {
    summary: 'Install a connector for your tenant',
    description: 'Pins the latest (or the given) published version. The answer says how to connect: a form (API key, basic, fields) or an OAuth2 authorize URL (PKCE, signed single-use state, callback /oauth/callback).',
    tags: ['installations'],
    params: listingParamsSchema,
    body: {
      type: 'object',
      additionalProperties: false,
      properties: {
        version: { type: 'string', maxLength: 64, description: 'A published version; default the latest' },
        connectionName: { type: 'string', minLength: 1, maxLength: 200, description: 'Name of the connection an OAuth2 flow creates' },
        fields: { type: 'object', additionalProperties: { type: 'string', maxLength: 2000 }, description: 'Connection fields an OAuth2 authorize URL needs (e.g. shop)' },
      },
    },
    response: {
      '2xx': {
        type: 'object',
        additionalProperties: false,
        required: ['installation', 'setup'],
        properties: {
          installation: {
            type: 'object',
            additionalProperties: false,
            required: ['id', 'connectorId', 'connector', 'version', 'createdAt'],
            properties: {
              id: { type: 'string', format: 'uuid' },
              connectorId: { type: 'string', format: 'uuid' },
              connector: { type: 'string' },
              version: { type: 'string' },
              createdAt: { type: 'string', format: 'date-time' },
            },
          },
          setup: {
            type: 'object',
            additionalProperties: false,
            required: ['type', 'authType', 'fields'],
            properties: {
              type: { type: 'string', enum: ['none', 'form', 'oauth2'] },
              authType: { type: 'string' },
              fields: { type: 'array', items: formFieldSchema },
              authorizeUrl: { type: ['string', 'null'] },
              state: { type: 'string' },
              expiresAt: { type: 'string', format: 'date-time' },
              detail: { type: 'string' },
            },
          },
        },
      },
    },
  },
  async handler(request, reply, deps) {
    const principal = principalOf(request);
    const body = request.body ?? {};
    if (body.version !== undefined && !semver.valid(body.version)) {
      throw new ProblemError('INVALID_INPUT', `"${body.version}" is not a semantic version (e.g. 1.2.3)`, { errors: [{ path: '/version', in: 'body', message: 'must be a semantic version' }] });
    }
    const result = await deps.db.withTenant(principal.tenantId, async (tx) => {
      const listing = await findListing(tx, request.params.id);
      const version = body.version ?? listing.version;
      const found = await tx.query<{ status: string; manifest: ConnectorManifest }>('SELECT status, manifest FROM connectors.connector_versions WHERE connector_id = $1 AND version = $2', [listing.id, version]);
      const row = found.rows[0];
      if (!row || (row.status !== 'published' && row.status !== 'yanked')) throw new ProblemError('NOT_FOUND', `${listing.name} has no published version ${version}; see GET /marketplace/connectors/${listing.id}/versions`);
      if (row.status === 'yanked') throw new ProblemError('CONFLICT', `${listing.name}@${version} was yanked; install another version`, { type: 'version-yanked' });
      const inst = await tx.query<{ id: string; created_at: Date; inserted: boolean }>(
        `INSERT INTO connectors.installations (tenant_id, connector_id, version) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, connector_id) DO UPDATE SET version = EXCLUDED.version, updated_at = now()
         RETURNING id, created_at, (xmax = 0) AS inserted`,
        [principal.tenantId, listing.id, version],
      );
      const installation = inst.rows[0]!;
      await recordAudit(tx, { tenantId: principal.tenantId, actor: keyActor(principal.keyId), action: installation.inserted ? 'connector.install' : 'connector.repin', targetType: 'installation', targetId: installation.id, details: { connector: listing.name, version } });
      const auth = row.manifest.auth;
      const setup: Setup =
        auth.type === 'oauth2'
          ? await oauthSetup(tx, deps, principal.tenantId, installation.id, row.manifest, auth, body)
          : { type: auth.type === 'none' && formFields(auth).length === 0 ? 'none' : 'form', authType: auth.type, fields: formFields(auth) };
      return {
        inserted: installation.inserted,
        body: { installation: { id: installation.id, connectorId: listing.id, connector: listing.name, version, createdAt: iso(installation.created_at) }, setup },
      };
    });
    if (!result.inserted && deps.triggers) {
      // Re-pinned: polling follows the version's interval now. Best effort: the next poll would follow it anyway.
      await deps.triggers.reschedulePolling(principal.tenantId, result.body.installation.id).catch(() => 0);
    }
    return reply.code(result.inserted ? 201 : 200).send(result.body);
  },
});
