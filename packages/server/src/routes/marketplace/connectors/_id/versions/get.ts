import semver from 'semver';
import { defineRoute } from '../../../../../http/route.ts';
import { iso } from '../../../../../http/schemas.ts';
import { findListing, listingParamsSchema } from '../../../shared.ts';

interface VersionRow {
  version: string;
  status: 'published' | 'yanked';
  artifact_sha256: string | null;
  deprecation_message: string | null;
  replacement: string | null;
  created_at: Date;
  published_at: Date | null;
}

/** Published and yanked versions of a connector, newest first. */
export default defineRoute<{ Params: { id: string } }>({
  method: 'GET',
  url: '/marketplace/connectors/:id/versions',
  access: 'optional',
  schema: {
    summary: 'Versions of a connector',
    tags: ['marketplace'],
    params: listingParamsSchema,
    response: {
      200: {
        type: 'object',
        additionalProperties: false,
        required: ['connectorId', 'latestVersion', 'items'],
        properties: {
          connectorId: { type: 'string', format: 'uuid' },
          latestVersion: { type: 'string' },
          items: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['version', 'status', 'artifactSha256', 'deprecation', 'publishedAt'],
              properties: {
                version: { type: 'string' },
                status: { type: 'string', enum: ['published', 'yanked'] },
                artifactSha256: { type: ['string', 'null'] },
                deprecation: {
                  type: ['object', 'null'],
                  additionalProperties: false,
                  required: ['message', 'replacement'],
                  properties: { message: { type: 'string' }, replacement: { type: ['string', 'null'] } },
                },
                publishedAt: { type: ['string', 'null'], format: 'date-time' },
              },
            },
          },
        },
      },
    },
  },
  async handler(request, _reply, { db }) {
    return db.withTenant(request.principal?.tenantId ?? null, async (tx) => {
      const listing = await findListing(tx, request.params.id);
      const { rows } = await tx.query<VersionRow>(
        `SELECT version, status, artifact_sha256, deprecation_message, replacement, created_at, published_at
         FROM connectors.connector_versions WHERE connector_id = $1 AND status IN ('published', 'yanked')`,
        [listing.id],
      );
      rows.sort((a, b) => semver.rcompare(a.version, b.version));
      return {
        connectorId: listing.id,
        latestVersion: listing.version,
        items: rows.map((r) => ({
          version: r.version,
          status: r.status,
          artifactSha256: r.artifact_sha256,
          deprecation: r.deprecation_message ? { message: r.deprecation_message, replacement: r.replacement } : null,
          publishedAt: iso(r.published_at),
        })),
      };
    });
  },
});
