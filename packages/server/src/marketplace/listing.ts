import type { ConnectorManifest } from '@businessos/connector-sdk';
import semver from 'semver';
import type { Queryable } from '../db/db.ts';

/** Words search should find a connector by besides its name and description: its actions and triggers. */
export function keywordsOf(manifest: ConnectorManifest): string {
  const words = new Set<string>();
  for (const item of [...manifest.actions, ...manifest.triggers]) {
    words.add(item.displayName);
    if (item.group) words.add(item.group);
  }
  return [...words].join(' ');
}

/** How a listing is created from a manifest. */
export interface PublishListingOptions {
  /** NULL for a global listing. */
  tenantId: string | null;
  npmPackage: string;
  verified: boolean;
  artifactSha256?: string | null;
}

/**
 * Creates (or finds) the listing for `manifest.name`, adds the version as published when it is new, and moves the
 * listing's latest version forward when this one is higher. Runs in the caller's transaction.
 * @returns the listing id and whether the version was added by this call.
 */
export async function publishManifestListing(tx: Queryable, manifest: ConnectorManifest, options: PublishListingOptions): Promise<{ connectorId: string; added: boolean }> {
  const scope = options.tenantId === null ? 'tenant_id IS NULL' : 'tenant_id = $2';
  const findParams = options.tenantId === null ? [manifest.name] : [manifest.name, options.tenantId];
  let found = await tx.query<{ id: string; version: string | null }>(`SELECT id, version FROM connectors.marketplace WHERE name = $1 AND ${scope}`, findParams);
  if (!found.rows[0]) {
    await tx.query(
      `INSERT INTO connectors.marketplace (tenant_id, name, description, author, npm_package, category, display_name, icon, homepage, verified, approved)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, true)
       ON CONFLICT DO NOTHING`,
      [options.tenantId, manifest.name, manifest.description, manifest.author ?? null, options.npmPackage, manifest.category, manifest.displayName, manifest.icon ?? null, manifest.homepage ?? null, options.verified],
    );
    found = await tx.query(`SELECT id, version FROM connectors.marketplace WHERE name = $1 AND ${scope}`, findParams);
  }
  const listing = found.rows[0]!;
  const inserted = await tx.query(
    `INSERT INTO connectors.connector_versions (connector_id, tenant_id, version, manifest, artifact_sha256, status, published_at)
     VALUES ($1, $2, $3, $4, $5, 'published', now())
     ON CONFLICT (connector_id, version) DO NOTHING`,
    [listing.id, options.tenantId, manifest.version, JSON.stringify(manifest), options.artifactSha256 ?? null],
  );
  if (listing.version === null || semver.gt(manifest.version, listing.version)) {
    await tx.query(
      `UPDATE connectors.marketplace
       SET version = $2, description = $3, author = $4, category = $5, display_name = $6, icon = $7, homepage = $8, keywords = $9, approved = true, updated_at = now()
       WHERE id = $1`,
      [listing.id, manifest.version, manifest.description, manifest.author ?? null, manifest.category, manifest.displayName, manifest.icon ?? null, manifest.homepage ?? null, keywordsOf(manifest)],
    );
  }
  return { connectorId: listing.id, added: inserted.rowCount > 0 };
}
