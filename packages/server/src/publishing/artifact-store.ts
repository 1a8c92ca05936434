import type { Artifact, ArtifactStore } from '@businessos/connector-runtime';
import type { ConnectorManifest } from '@businessos/connector-sdk';
import type { Db } from '../db/db.ts';
import { sha256Hex } from './checks.ts';

/**
 * The runtime's {@link ArtifactStore} over the marketplace tables: `get(name, version)` returns the bundle of a
 * published or yanked version (yanked versions keep running for existing installs) with the reviewed manifest.
 * With `tenantId`, the tenant's private listing of that name wins over the global one; without, only global listings.
 * The bytes are re-hashed on read, so a corrupted row is refused rather than run.
 * @example const store = createDbArtifactStore(db, { tenantId }); const artifact = await store.get('acme', '1.2.0');
 */
export function createDbArtifactStore(db: Db, options: { tenantId?: string | null } = {}): ArtifactStore {
  const tenantId = options.tenantId ?? null;
  return {
    async get(name: string, version: string): Promise<Artifact | undefined> {
      const { rows } = await db.withTenant(tenantId, (tx) =>
        tx.query<{ manifest: ConnectorManifest; sha256: string; bytes: Uint8Array }>(
          `SELECT v.manifest, v.artifact_sha256 AS sha256, a.bytes
           FROM connectors.connector_versions v
           JOIN connectors.marketplace m ON m.id = v.connector_id
           JOIN connectors.artifacts a ON a.sha256 = v.artifact_sha256
           WHERE m.name = $1 AND v.version = $2 AND v.status IN ('published', 'yanked')
           ORDER BY m.tenant_id IS NULL LIMIT 1`,
          [name, version],
        ),
      );
      const row = rows[0];
      if (!row) return undefined;
      const bytes = Buffer.from(row.bytes);
      if (sha256Hex(bytes) !== row.sha256) throw new Error(`artifact ${row.sha256} of ${name}@${version} does not match its address; refusing to load it`);
      return { name, version, code: bytes.toString('utf8'), sha256: row.sha256, manifest: row.manifest };
    },
  };
}
