import type { ConnectorManifest } from '@businessos/connector-sdk';
import { keyActor, recordAudit } from '../audit.ts';
import type { Db, Queryable } from '../db/db.ts';
import type { Principal } from '../http/api-key.ts';
import type { NpmPublisher } from './npm-publisher.ts';

/** Where publishing one version to npm stands (`connectors.npm_publications`). */
export interface NpmPublicationView {
  registry: string;
  package: string;
  version: string;
  /** queued → publishing → published | failed (a failed one can be retried). */
  status: 'queued' | 'publishing' | 'published' | 'failed';
  /** The registry's sha512 integrity of the published tarball. */
  integrity: string | null;
  /** Why the last attempt failed. */
  error: string | null;
  attempts: number;
  updatedAt: string;
  publishedAt: string | null;
}

/** JSON Schema of {@link NpmPublicationView}. */
export const npmPublicationSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['registry', 'package', 'version', 'status', 'integrity', 'error', 'attempts', 'updatedAt', 'publishedAt'],
  properties: {
    registry: { type: 'string' },
    package: { type: 'string' },
    version: { type: 'string' },
    status: { type: 'string', enum: ['queued', 'publishing', 'published', 'failed'] },
    integrity: { type: ['string', 'null'] },
    error: { type: ['string', 'null'] },
    attempts: { type: 'integer' },
    updatedAt: { type: 'string', format: 'date-time' },
    publishedAt: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

/** A row of connectors.npm_publications as SQL returns it. */
export interface NpmPublicationRow {
  registry: string;
  package: string;
  version: string;
  status: NpmPublicationView['status'];
  integrity: string | null;
  error: string | null;
  attempts: number;
  updated_at: unknown;
  published_at: unknown;
}

/** Columns of {@link NpmPublicationRow}, for SELECTs. */
export const NPM_PUBLICATION_COLUMNS = 'registry, package, version, status, integrity, error, attempts, updated_at, published_at';

/** The API view of a row. */
export function toNpmView(row: NpmPublicationRow): NpmPublicationView {
  return {
    registry: row.registry,
    package: row.package,
    version: row.version,
    status: row.status,
    integrity: row.integrity,
    error: row.error,
    attempts: Number(row.attempts),
    updatedAt: new Date(row.updated_at as string).toISOString(),
    publishedAt: row.published_at ? new Date(row.published_at as string).toISOString() : null,
  };
}

// An attempt still "publishing" after this long crashed with its process; a retry may take it over.
const STALE_ATTEMPT = "interval '10 minutes'";

/**
 * Records, inside the approve transaction, that a version is to be published to the publisher's registry, so an
 * approved version never exists without its npm state. Only global listings go to npm: a private connector stays
 * visible to its tenant alone. Returns false (nothing recorded) for a private one.
 */
export async function queueNpmPublication(tx: Queryable, npm: NpmPublisher, versionId: string): Promise<boolean> {
  const row = (
    await tx.query<{ connector_id: string; tenant_id: string | null; npm_package: string; version: string }>(
      `SELECT v.connector_id, m.tenant_id, m.npm_package, v.version FROM connectors.connector_versions v
       JOIN connectors.marketplace m ON m.id = v.connector_id WHERE v.id = $1`,
      [versionId],
    )
  ).rows[0];
  if (!row || row.tenant_id !== null) return false;
  await tx.query(
    `INSERT INTO connectors.npm_publications (version_id, connector_id, tenant_id, registry, package, version, status)
     VALUES ($1, $2, NULL, $3, $4, $5, 'queued') ON CONFLICT (version_id, registry) DO NOTHING`,
    [versionId, row.connector_id, npm.registry, npm.packageName(row.npm_package), row.version],
  );
  return true;
}

/** The npm state of a version on `registry`, if it was ever queued there. */
export async function getNpmPublication(tx: Queryable, versionId: string, registry: string): Promise<NpmPublicationView | undefined> {
  const { rows } = await tx.query<NpmPublicationRow>(`SELECT ${NPM_PUBLICATION_COLUMNS} FROM connectors.npm_publications WHERE version_id = $1 AND registry = $2`, [versionId, registry]);
  return rows[0] ? toNpmView(rows[0]) : undefined;
}

/**
 * Runs one publish attempt of a queued or failed version (or one whose attempt went stale), and records the outcome
 * with an audit entry (`npm.publish` or `npm.publish_failed`). Publish errors are recorded, not thrown: the
 * marketplace version stays approved whatever npm answers.
 * @returns the state after the attempt and whether this call ran it (false: already published or running).
 */
export async function runNpmPublication(db: Db, npm: NpmPublisher, versionId: string, principal: Principal): Promise<{ view: NpmPublicationView; attempted: boolean }> {
  const claimed = (
    await db.query<{ package: string; version: string; attempts: number; manifest: ConnectorManifest; sha256: string; bytes: Uint8Array; connector_id: string }>(
      `UPDATE connectors.npm_publications p SET status = 'publishing', attempts = p.attempts + 1, updated_at = now(), error = NULL
       FROM connectors.connector_versions v JOIN connectors.artifacts a ON a.sha256 = v.artifact_sha256
       WHERE p.version_id = $1 AND p.registry = $2 AND v.id = p.version_id
         AND (p.status IN ('queued', 'failed') OR (p.status = 'publishing' AND p.updated_at < now() - ${STALE_ATTEMPT}))
       RETURNING p.package, p.version, p.attempts, p.connector_id, v.manifest, v.artifact_sha256 AS sha256, a.bytes`,
      [versionId, npm.registry],
    )
  ).rows[0];
  if (!claimed) {
    const view = await getNpmPublication(db, versionId, npm.registry);
    if (!view) throw new Error(`version ${versionId} was never queued for ${npm.registry}`);
    return { view, attempted: false };
  }
  const audit = { tenantId: principal.tenantId, actor: keyActor(principal.keyId), targetType: 'connector_version', targetId: `${claimed.connector_id}@${claimed.version}` };
  const base = { package: claimed.package, version: claimed.version, registry: npm.registry, attempt: Number(claimed.attempts) };
  let outcome: Awaited<ReturnType<NpmPublisher['publish']>> | undefined;
  let failure: string | undefined;
  try {
    outcome = await npm.publish({ npmPackage: claimed.package, manifest: claimed.manifest, bundle: Buffer.from(claimed.bytes), sha256: claimed.sha256.trim() });
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error);
  }
  await db.transaction(async (tx) => {
    if (outcome) {
      await tx.query(
        "UPDATE connectors.npm_publications SET status = 'published', integrity = $3, error = NULL, updated_at = now(), published_at = now() WHERE version_id = $1 AND registry = $2",
        [versionId, npm.registry, outcome.integrity],
      );
      await recordAudit(tx, { ...audit, action: 'npm.publish', details: { ...base, integrity: outcome.integrity, alreadyPublished: outcome.alreadyPublished } });
    } else {
      await tx.query("UPDATE connectors.npm_publications SET status = 'failed', error = $3, updated_at = now() WHERE version_id = $1 AND registry = $2", [versionId, npm.registry, failure]);
      await recordAudit(tx, { ...audit, action: 'npm.publish_failed', details: { ...base, error: failure } });
    }
  });
  return { view: (await getNpmPublication(db, versionId, npm.registry))!, attempted: true };
}
