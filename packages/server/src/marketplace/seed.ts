import { isConnector, type ConnectorManifest } from '@businessos/connector-sdk';
import { validateManifest } from '@businessos/connector-sdk/host';
import type { Db } from '../db/db.ts';
import { buildBundledConnector, type BuiltBundle } from '../execution/bundled-artifacts.ts';
import { publishManifestListing } from './listing.ts';

/** A connector package shipped with the service, loaded lazily so one broken package cannot stop the others. */
export interface BundledConnector {
  packageName: string;
  load(): Promise<{ default?: unknown }>;
  /** Builds the package's runtime bundle; when given, the seeded version gets it as its artifact so it can execute. */
  build?(): Promise<BuiltBundle>;
}

/** The reference connectors seeded into the global catalogue on start. */
export const BUNDLED_CONNECTORS: readonly BundledConnector[] = [
  { packageName: '@businessos/connector-shopify', load: () => import('@businessos/connector-shopify'), build: () => buildBundledConnector('@businessos/connector-shopify') },
  { packageName: '@businessos/connector-stripe', load: () => import('@businessos/connector-stripe'), build: () => buildBundledConnector('@businessos/connector-stripe') },
  { packageName: '@businessos/connector-slack', load: () => import('@businessos/connector-slack'), build: () => buildBundledConnector('@businessos/connector-slack') },
];

/** What seeding did per package. */
export interface SeedOutcome {
  packageName: string;
  status: 'added' | 'present' | 'failed';
  name?: string;
  version?: string;
  error?: string;
  /** sha256 of the stored bundle when the package was built (a version seeded earlier keeps what it had). */
  artifactSha256?: string;
}

// Serialises seeding when several processes start at once.
const SEED_LOCK_KEY = 4_242_001_339;

/**
 * Inserts each bundled connector's manifest as a global, approved, verified, published listing when its version is
 * missing. A package that fails to import or whose manifest is invalid is reported and skipped.
 */
export async function seedBundledConnectors(db: Db, bundled: readonly BundledConnector[] = BUNDLED_CONNECTORS): Promise<SeedOutcome[]> {
  const outcomes: SeedOutcome[] = [];
  for (const pkg of bundled) {
    let manifest: ConnectorManifest;
    try {
      const mod = await pkg.load();
      if (!isConnector(mod.default)) throw new Error('its default export is not a Connector (expected `export default defineConnector(...)`)');
      manifest = mod.default.manifest;
      const check = validateManifest(manifest);
      if (!check.ok) throw new Error(`invalid manifest: ${check.issues.slice(0, 3).map((i) => `${i.path || '/'} ${i.message}`).join('; ')}`);
    } catch (error) {
      outcomes.push({ packageName: pkg.packageName, status: 'failed', error: (error as Error).message });
      continue;
    }
    let bundle: BuiltBundle | undefined;
    try {
      bundle = pkg.build ? await pkg.build() : undefined;
    } catch (error) {
      outcomes.push({ packageName: pkg.packageName, status: 'failed', name: manifest.name, error: `its bundle did not build: ${(error as Error).message}` });
      continue;
    }
    try {
      const { added } = await db.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [SEED_LOCK_KEY]);
        if (bundle) {
          const bytes = Buffer.from(bundle.code, 'utf8');
          await tx.query('INSERT INTO connectors.artifacts (sha256, bytes, size) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING', [bundle.sha256, bytes, bytes.length]);
        }
        return publishManifestListing(tx, manifest, { tenantId: null, npmPackage: pkg.packageName, verified: true, ...(bundle ? { artifactSha256: bundle.sha256 } : {}) });
      });
      outcomes.push({ packageName: pkg.packageName, status: added ? 'added' : 'present', name: manifest.name, version: manifest.version, ...(bundle && added ? { artifactSha256: bundle.sha256 } : {}) });
    } catch (error) {
      outcomes.push({ packageName: pkg.packageName, status: 'failed', name: manifest.name, error: (error as Error).message });
    }
  }
  return outcomes;
}
