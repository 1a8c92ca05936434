import type { Db } from '../db/db.ts';

/** What the runtime's npm artifact store asks the marketplace (see `createNpmArtifactStore`). */
export interface MarketplaceNpmLookup {
  /** The npm package a global connector `name@version` was published as on `registry` (else its listing's npm_package). */
  packageFor(name: string, version: string): Promise<string | undefined>;
  /** The sha256 the marketplace recorded for the version that `pkg@version` is, when there is one. */
  recordedSha256(pkg: string, version: string): Promise<string | undefined>;
}

/**
 * The marketplace side of installing from npm: maps connector names to packages and answers the recorded sha256 of
 * a published (or yanked) version, so a package republished or altered on the registry is refused by the runtime.
 * Reads global listings only, as an anonymous reader (row-level security applies).
 * @example createNpmArtifactStore({ registry, cache, ...createMarketplaceNpmLookup(db, registry) })
 */
export function createMarketplaceNpmLookup(db: Db, registry: string): MarketplaceNpmLookup {
  return {
    async packageFor(name, version) {
      const { rows } = await db.withTenant(null, (tx) =>
        tx.query<{ package: string }>(
          `SELECT coalesce(
             (SELECT p.package FROM connectors.npm_publications p WHERE p.connector_id = m.id AND p.version = $2 AND p.registry = $3),
             m.npm_package) AS package
           FROM connectors.marketplace m WHERE m.name = $1 AND m.tenant_id IS NULL`,
          [name, version, registry],
        ),
      );
      return rows[0]?.package;
    },
    async recordedSha256(pkg, version) {
      const { rows } = await db.withTenant(null, (tx) =>
        tx.query<{ sha256: string }>(
          `SELECT v.artifact_sha256 AS sha256 FROM connectors.connector_versions v
           JOIN connectors.marketplace m ON m.id = v.connector_id
           WHERE v.version = $2 AND v.status IN ('published', 'yanked') AND m.tenant_id IS NULL
             AND (m.npm_package = $1 OR EXISTS (SELECT 1 FROM connectors.npm_publications p WHERE p.version_id = v.id AND p.package = $1 AND p.registry = $3))
           -- What the service itself published under that name wins over a listing that merely names the package.
           ORDER BY EXISTS (SELECT 1 FROM connectors.npm_publications p WHERE p.version_id = v.id AND p.package = $1 AND p.registry = $3) DESC, v.published_at
           LIMIT 1`,
          [pkg, version, registry],
        ),
      );
      return rows[0]?.sha256.trim();
    },
  };
}
