import type { AuthSpec, ConnectorManifest } from '@businessos/connector-sdk';
import { defineRoute } from '../../../../http/route.ts';
import { iso } from '../../../../http/schemas.ts';
import { listingSummary } from '../../../../marketplace/search.ts';
import { findListing, listingParamsSchema, listingSummarySchema } from '../../shared.ts';

const anyObject = { type: 'object', additionalProperties: true } as const;

/** The auth a tenant will be asked for, without anything secret a manifest might carry (client secrets). */
function publicAuth(auth: AuthSpec): Record<string, unknown> {
  if (auth.type !== 'oauth2') return { ...auth };
  const { clientSecret: _secret, clientId: _id, ...rest } = auth;
  return rest;
}

/** Everything a tenant needs to decide on a connector: actions, triggers, auth, hosts and permissions. */
export default defineRoute<{ Params: { id: string } }>({
  method: 'GET',
  url: '/marketplace/connectors/:id',
  access: 'optional',
  schema: {
    summary: 'Connector detail',
    tags: ['marketplace'],
    params: listingParamsSchema,
    response: {
      200: {
        type: 'object',
        additionalProperties: false,
        required: [...listingSummarySchema.required, 'author', 'homepage', 'npmPackage', 'createdAt', 'auth', 'hosts', 'permissions', 'runtime', 'actions', 'triggers'],
        properties: {
          ...listingSummarySchema.properties,
          author: { type: ['string', 'null'] },
          homepage: { type: ['string', 'null'] },
          npmPackage: { type: 'string' },
          createdAt: { type: 'string', format: 'date-time' },
          auth: anyObject,
          baseUrl: { type: 'string' },
          hosts: { type: 'array', items: { type: 'string' } },
          permissions: { type: 'array', items: { type: 'string' } },
          runtime: { type: 'string', enum: ['sandbox', 'process'] },
          actions: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'displayName', 'description', 'params', 'idempotent'],
              properties: {
                name: { type: 'string' },
                displayName: { type: 'string' },
                description: { type: 'string' },
                group: { type: 'string' },
                params: anyObject,
                output: anyObject,
                idempotent: { type: 'boolean' },
              },
            },
          },
          triggers: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'displayName', 'description', 'type'],
              properties: {
                name: { type: 'string' },
                displayName: { type: 'string' },
                description: { type: 'string' },
                group: { type: 'string' },
                type: { type: 'string', enum: ['webhook', 'polling'] },
                output: anyObject,
              },
            },
          },
        },
      },
    },
  },
  async handler(request, _reply, { db }) {
    return db.withTenant(request.principal?.tenantId ?? null, async (tx) => {
      const row = await findListing(tx, request.params.id);
      const { rows } = await tx.query<{ manifest: ConnectorManifest }>('SELECT manifest FROM connectors.connector_versions WHERE connector_id = $1 AND version = $2', [row.id, row.version]);
      const manifest = rows[0]!.manifest;
      return {
        ...listingSummary(row),
        author: row.author,
        homepage: row.homepage,
        npmPackage: row.npm_package,
        createdAt: iso(row.created_at),
        auth: publicAuth(manifest.auth),
        ...(manifest.baseUrl ? { baseUrl: manifest.baseUrl } : {}),
        hosts: manifest.hosts,
        permissions: manifest.permissions,
        runtime: manifest.runtime,
        actions: manifest.actions.map((a) => ({ name: a.name, displayName: a.displayName, description: a.description, ...(a.group ? { group: a.group } : {}), params: a.params, ...(a.output ? { output: a.output } : {}), idempotent: a.idempotent })),
        triggers: manifest.triggers.map((t) => ({ name: t.name, displayName: t.displayName, description: t.description, ...(t.group ? { group: t.group } : {}), type: t.type, ...(t.output ? { output: t.output } : {}) })),
      };
    });
  },
});
