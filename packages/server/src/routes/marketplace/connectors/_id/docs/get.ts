import type { ConnectorManifest } from '@businessos/connector-sdk';
import { generateDocs } from '@businessos/connector-sdk/host';
import { defineRoute } from '../../../../../http/route.ts';
import { ProblemError } from '../../../../../http/problem.ts';
import { findListing, listingParamsSchema } from '../../../shared.ts';

/** Markdown documentation of a connector's latest published version, generated from its manifest. */
export default defineRoute<{ Params: { id: string } }>({
  method: 'GET',
  url: '/marketplace/connectors/:id/docs',
  access: 'optional',
  schema: {
    summary: 'Generated Markdown docs of a connector',
    description: 'Auth, permissions, every action and trigger with parameters, outputs and examples, as `text/markdown`.',
    tags: ['marketplace'],
    params: listingParamsSchema,
    produces: ['text/markdown'],
    response: { 200: { type: 'string', description: 'Markdown' } },
  },
  async handler(request, reply, { db }) {
    const manifest = await db.withTenant(request.principal?.tenantId ?? null, async (tx) => {
      const listing = await findListing(tx, request.params.id);
      const { rows } = await tx.query<{ manifest: ConnectorManifest }>(
        `SELECT manifest FROM connectors.connector_versions WHERE connector_id = $1 AND version = $2 AND status IN ('published', 'yanked')`,
        [listing.id, listing.version],
      );
      const row = rows[0];
      if (!row) throw new ProblemError('NOT_FOUND', `Connector "${request.params.id}" has no published version with a manifest`);
      return row.manifest;
    });
    // A string payload with a non-JSON type is sent as is.
    reply.type('text/markdown; charset=utf-8');
    return generateDocs(manifest);
  },
});
