import type { Queryable } from '../../../../../../../db/db.ts';
import type { Principal } from '../../../../../../../http/api-key.ts';
import { ProblemError } from '../../../../../../../http/problem.ts';
import { governedListing } from '../../../../../../../publishing/store.ts';

/** Params of the npm routes of a version. */
export const versionParamsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'version'],
  properties: { id: { type: 'string', format: 'uuid' }, version: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

/**
 * The version `version` of listing `connectorId` for the npm routes: the caller must govern the listing (its
 * publisher or a reviewer), the listing must be global and the version published or yanked.
 */
export async function npmTargetVersion(tx: Queryable, principal: Principal, connectorId: string, version: string): Promise<{ versionId: string; name: string }> {
  const listing = await governedListing(tx, principal, connectorId);
  const row = (
    await tx.query<{ id: string; status: string; tenant_id: string | null }>(
      `SELECT v.id, v.status, m.tenant_id FROM connectors.connector_versions v JOIN connectors.marketplace m ON m.id = v.connector_id
       WHERE v.connector_id = $1 AND v.version = $2`,
      [listing.id, version],
    )
  ).rows[0];
  if (!row) throw new ProblemError('NOT_FOUND', `${listing.name} has no version ${version}; see GET /marketplace/connectors/${listing.id}/versions`);
  if (row.tenant_id !== null) {
    throw new ProblemError('CONFLICT', `${listing.name} is a private connector; only public connectors are published to the npm registry, so it stays visible to its tenant alone`, { type: 'npm-private-connector' });
  }
  if (row.status !== 'published' && row.status !== 'yanked') {
    throw new ProblemError('CONFLICT', `${listing.name}@${version} is ${row.status}; only an approved version can be published to npm`, { type: 'version-not-published' });
  }
  return { versionId: row.id, name: listing.name };
}
