import semver from 'semver';
import { defineRoute, principalOf } from '../../http/route.ts';
import { iso } from '../../http/schemas.ts';

interface Row {
  id: string;
  connector_id: string;
  name: string;
  display_name: string;
  version: string;
  latest: string;
  deprecation_message: string | null;
  replacement: string | null;
  created_at: Date;
}

/** The tenant's installed connectors, with newer versions and deprecations of the pinned one. */
export default defineRoute({
  method: 'GET',
  url: '/installations',
  access: { roles: [] },
  schema: {
    summary: "Your tenant's installed connectors",
    tags: ['installations'],
    response: {
      200: {
        type: 'object',
        additionalProperties: false,
        required: ['items'],
        properties: {
          items: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['id', 'connectorId', 'connector', 'displayName', 'version', 'latestVersion', 'updateAvailable', 'deprecation', 'createdAt'],
              properties: {
                id: { type: 'string', format: 'uuid' },
                connectorId: { type: 'string', format: 'uuid' },
                connector: { type: 'string' },
                displayName: { type: 'string' },
                version: { type: 'string' },
                latestVersion: { type: 'string' },
                updateAvailable: { type: 'boolean' },
                deprecation: {
                  type: ['object', 'null'],
                  additionalProperties: false,
                  required: ['message', 'replacement'],
                  properties: { message: { type: 'string' }, replacement: { type: ['string', 'null'] } },
                },
                createdAt: { type: 'string', format: 'date-time' },
              },
            },
          },
        },
      },
    },
  },
  async handler(request, _reply, { db }) {
    const principal = principalOf(request);
    const { rows } = await db.withTenant(principal.tenantId, (tx) =>
      tx.query<Row>(
        `SELECT i.id, i.connector_id, m.name, m.display_name, i.version, m.version AS latest, v.deprecation_message, v.replacement, i.created_at
         FROM connectors.installations i
         JOIN connectors.marketplace m ON m.id = i.connector_id
         LEFT JOIN connectors.connector_versions v ON v.connector_id = i.connector_id AND v.version = i.version
         WHERE i.tenant_id = $1 ORDER BY m.name`,
        [principal.tenantId],
      ),
    );
    return {
      items: rows.map((r) => ({
        id: r.id,
        connectorId: r.connector_id,
        connector: r.name,
        displayName: r.display_name,
        version: r.version,
        latestVersion: r.latest,
        updateAvailable: semver.gt(r.latest, r.version),
        deprecation: r.deprecation_message ? { message: r.deprecation_message, replacement: r.replacement } : null,
        createdAt: iso(r.created_at),
      })),
    };
  },
});
