import type { ConnectorManifest } from '@businessos/connector-sdk';
import semver from 'semver';
import { keyActor, recordAudit } from '../audit.ts';
import type { Db, Queryable } from '../db/db.ts';
import type { Principal } from '../http/api-key.ts';
import { ProblemError } from '../http/problem.ts';
import { keywordsOf } from '../marketplace/listing.ts';
import { NPM_PUBLICATION_COLUMNS, toNpmView, type NpmPublicationRow, type NpmPublicationView } from '../npm/npm-publications.ts';
import { diffManifests, type CheckedPackage, type CheckResult, type ManifestDiff } from './checks.ts';

// The publishing pipeline works across tenants (a reviewer decides on every tenant's submission; a listing's name
// is global), so it runs on owner transactions, and every function below checks the caller explicitly.

/** Whether the submission goes to the global catalogue or stays private to the publisher's tenant. */
export type Visibility = 'public' | 'private';

/** A submission as the API returns it. */
export interface SubmissionView {
  id: string;
  status: 'pending' | 'approved' | 'rejected';
  connector: { id: string; name: string; visibility: Visibility };
  version: string;
  tenantId: string;
  artifactSha256: string | null;
  checks: CheckResult[];
  hosts: string[];
  permissions: string[];
  scopes: string[];
  diff: ManifestDiff;
  review: { decision: 'approved' | 'rejected'; notes: string | null; reviewer: string; decidedAt: string } | null;
  /** Where publishing the approved version to npm stands; null when the service publishes to no registry (or the listing is private). */
  npm: NpmPublicationView | null;
  submittedAt: string;
  decidedAt: string | null;
}

function isReviewer(p: Principal): boolean {
  return p.roles.includes('reviewer');
}

function iso(value: unknown): string {
  return new Date(value as string).toISOString();
}

// Serialises submissions of one connector name (versions must increase; ownership is decided by the first).
async function lockName(tx: Queryable, name: string): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock(hashtext('bos.publish:' || $1))", [name]);
}

/**
 * The tenant owning a listing's name: the tenant of its first submission, `null` for the platform (bundled
 * connectors, which were seeded without one).
 */
async function ownerOf(tx: Queryable, connectorId: string): Promise<string | null> {
  const { rows } = await tx.query<{ tenant_id: string }>('SELECT tenant_id FROM connectors.submissions WHERE connector_id = $1 ORDER BY created_at, id LIMIT 1', [connectorId]);
  return rows[0]?.tenant_id ?? null;
}

function mayGovern(principal: Principal, owner: string | null): boolean {
  if (isReviewer(principal)) return true;
  if (!principal.roles.includes('publisher')) return false;
  return owner === null ? principal.isPlatform : owner === principal.tenantId;
}

// The refusals of a submission (another publisher's name or npm package, a version that exists or is not higher),
// under the name's lock. Answers the listing the version goes to, undefined when it is new.
async function checkSubmittable(tx: Queryable, principal: Principal, manifest: ConnectorManifest, options: { visibility: Visibility; npmPackage: string }): Promise<{ id: string } | undefined> {
  await lockName(tx, manifest.name);
  const scopeSql = options.visibility === 'public' ? 'tenant_id IS NULL' : 'tenant_id = $2';
  const scopeParams = options.visibility === 'public' ? [manifest.name] : [manifest.name, principal.tenantId];
  const listing = (await tx.query<{ id: string }>(`SELECT id FROM connectors.marketplace WHERE name = $1 AND ${scopeSql}`, scopeParams)).rows[0];
  if (listing && options.visibility === 'public') {
    const owner = await ownerOf(tx, listing.id);
    if (!(owner === null ? principal.isPlatform : owner === principal.tenantId)) {
      throw new ProblemError('FORBIDDEN', `The connector name "${manifest.name}" belongs to another publisher; choose another name (manifest.json /name)`, {
        type: 'connector-name-taken',
        errors: [{ path: '/name', in: 'body', message: 'belongs to another publisher' }],
      });
    }
  }
  if (!listing && options.visibility === 'public') {
    // Approved public versions go to npm under this name: a second listing naming another's package would publish
    // its bundle as that package's next version.
    const { rows } = await tx.query<{ name: string }>('SELECT name FROM connectors.marketplace WHERE tenant_id IS NULL AND lower(npm_package) = lower($1) LIMIT 1', [options.npmPackage]);
    if (rows[0]) {
      throw new ProblemError('CONFLICT', `The npm package name "${options.npmPackage}" (package.json /name) is already used by the connector "${rows[0].name}"; give this connector its own package name and pack again`, {
        type: 'npm-package-taken',
        errors: [{ path: '/name', in: 'body', message: `package.json name is used by ${rows[0].name}` }],
      });
    }
  }
  if (!listing) return undefined;
  const versions = (await tx.query<{ version: string; status: string }>('SELECT version, status FROM connectors.connector_versions WHERE connector_id = $1', [listing.id])).rows;
  const same = versions.find((v) => v.version === manifest.version);
  if (same) {
    throw new ProblemError('CONFLICT', `${manifest.name}@${manifest.version} already exists (${same.status}); versions are immutable, so bump the version in the connector and pack again`, {
      type: 'duplicate-version',
      errors: [{ path: '/version', in: 'body', message: `already ${same.status}` }],
    });
  }
  const live = versions.filter((v) => v.status !== 'rejected' && semver.valid(v.version)).map((v) => v.version);
  const highest = live.sort(semver.rcompare)[0];
  if (highest && !semver.gt(manifest.version, highest)) {
    throw new ProblemError('CONFLICT', `${manifest.name}@${manifest.version} is not higher than the latest published or pending version ${highest}; publish a higher semver`, {
      type: 'version-not-higher',
      errors: [{ path: '/version', in: 'body', message: `must be greater than ${highest}` }],
    });
  }
  return listing;
}

/**
 * Runs the refusals of {@link createSubmission} alone, so a package that would be refused anyway is refused before
 * its checks leave anything behind (the dry load keeps the bundle's sandbox image).
 */
export async function preflightSubmission(db: Db, principal: Principal, manifest: ConnectorManifest, options: { visibility: Visibility; npmPackage: string }): Promise<void> {
  await db.transaction((tx) => checkSubmittable(tx, principal, manifest, options));
}

/**
 * Stores a checked package as a pending submission in one transaction: the listing (created hidden when new), the
 * artifact (content-addressed), the pending version and the submission with its checks, and an audit entry.
 * Refuses another publisher's name (403) or npm package (409), and a version that is not higher than every published
 * or pending one (409).
 */
export async function createSubmission(
  db: Db,
  principal: Principal,
  pkg: CheckedPackage & { manifest: ConnectorManifest; bundle: Buffer; bundleSha256: string },
  options: { visibility: Visibility; npmPackage: string },
): Promise<string> {
  const { manifest } = pkg;
  return db.transaction(async (tx) => {
    let listing = await checkSubmittable(tx, principal, manifest, options);
    if (!listing) {
      listing = (
        await tx.query<{ id: string }>(
          `INSERT INTO connectors.marketplace (tenant_id, name, description, author, npm_package, category, display_name, icon, homepage, verified, approved, keywords)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, false, false, $10) RETURNING id`,
          [options.visibility === 'public' ? null : principal.tenantId, manifest.name, manifest.description, manifest.author ?? null, options.npmPackage, manifest.category, manifest.displayName, manifest.icon ?? null, manifest.homepage ?? null, keywordsOf(manifest)],
        )
      ).rows[0]!;
    }
    await tx.query('INSERT INTO connectors.artifacts (sha256, bytes, size) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING', [pkg.bundleSha256, pkg.bundle, pkg.bundle.length]);
    const version = (
      await tx.query<{ id: string }>(
        `INSERT INTO connectors.connector_versions (connector_id, tenant_id, version, manifest, artifact_sha256, status)
         VALUES ($1, $2, $3, $4, $5, 'pending') RETURNING id`,
        [listing.id, options.visibility === 'public' ? null : principal.tenantId, manifest.version, JSON.stringify(manifest), pkg.bundleSha256],
      )
    ).rows[0]!;
    const submission = (
      await tx.query<{ id: string }>(
        `INSERT INTO connectors.submissions (tenant_id, connector_id, version_id, submitted_by, checks) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
        [principal.tenantId, listing.id, version.id, principal.keyId, JSON.stringify(pkg.checks)],
      )
    ).rows[0]!;
    await recordAudit(tx, {
      tenantId: principal.tenantId,
      actor: keyActor(principal.keyId),
      action: 'submission.create',
      targetType: 'submission',
      targetId: submission.id,
      details: { connector: manifest.name, version: manifest.version, visibility: options.visibility, artifactSha256: pkg.bundleSha256 },
    });
    return submission.id;
  });
}

interface SubmissionRow {
  id: string;
  status: SubmissionView['status'];
  tenant_id: string;
  connector_id: string;
  name: string;
  listing_tenant: string | null;
  version_id: string;
  version: string;
  manifest: ConnectorManifest;
  artifact_sha256: string | null;
  checks: CheckResult[];
  created_at: unknown;
  decided_at: unknown;
  decision: 'approved' | 'rejected' | null;
  notes: string | null;
  reviewer: string | null;
  reviewed_at: unknown;
  npm: NpmPublicationRow | null;
}

const SELECT_SUBMISSION = `
  SELECT s.id, s.status, s.tenant_id, s.connector_id, m.name, m.tenant_id AS listing_tenant, v.id AS version_id, v.version, v.manifest,
         v.artifact_sha256, s.checks, s.created_at, s.decided_at, r.decision, r.notes, r.reviewer, r.decided_at AS reviewed_at,
         (SELECT row_to_json(p) FROM (SELECT ${NPM_PUBLICATION_COLUMNS} FROM connectors.npm_publications
            WHERE version_id = v.id ORDER BY updated_at DESC LIMIT 1) p) AS npm
  FROM connectors.submissions s
  JOIN connectors.connector_versions v ON v.id = s.version_id
  JOIN connectors.marketplace m ON m.id = s.connector_id
  LEFT JOIN connectors.reviews r ON r.submission_id = s.id`;

async function previousManifest(tx: Queryable, row: SubmissionRow): Promise<ConnectorManifest | undefined> {
  const { rows } = await tx.query<{ version: string; manifest: ConnectorManifest }>(
    "SELECT version, manifest FROM connectors.connector_versions WHERE connector_id = $1 AND status IN ('published', 'yanked') AND id <> $2",
    [row.connector_id, row.version_id],
  );
  const lower = rows.filter((r) => semver.valid(r.version) && semver.lt(r.version, row.version)).sort((a, b) => semver.rcompare(a.version, b.version));
  return lower[0]?.manifest;
}

async function toView(tx: Queryable, row: SubmissionRow): Promise<SubmissionView> {
  const m = row.manifest;
  return {
    id: row.id,
    status: row.status,
    connector: { id: row.connector_id, name: row.name, visibility: row.listing_tenant === null ? 'public' : 'private' },
    version: row.version,
    tenantId: row.tenant_id,
    artifactSha256: row.artifact_sha256?.trim() ?? null,
    checks: row.checks,
    hosts: [...(m.baseUrl ? [m.baseUrl] : []), ...(m.hosts ?? [])],
    permissions: m.permissions ?? [],
    scopes: m.auth.type === 'oauth2' ? m.auth.scopes : [],
    diff: diffManifests(await previousManifest(tx, row), m),
    review: row.decision ? { decision: row.decision, notes: row.notes, reviewer: row.reviewer ?? '', decidedAt: iso(row.reviewed_at) } : null,
    npm: row.npm ? toNpmView(row.npm) : null,
    submittedAt: iso(row.created_at),
    decidedAt: row.decided_at ? iso(row.decided_at) : null,
  };
}

/** One submission: visible to its tenant and to reviewers; 404 for anyone else. */
export async function getSubmission(db: Db, principal: Principal, id: string): Promise<SubmissionView> {
  return db.transaction(async (tx) => {
    const row = (await tx.query<SubmissionRow>(`${SELECT_SUBMISSION} WHERE s.id = $1`, [id])).rows[0];
    if (!row || (!isReviewer(principal) && row.tenant_id !== principal.tenantId)) throw new ProblemError('NOT_FOUND', `No submission ${id} visible to this key; list yours with GET /marketplace/submissions`);
    return toView(tx, row);
  });
}

/** A page of submissions: the caller's tenant's, or (reviewers) every tenant's; optionally by status. */
export async function listSubmissions(db: Db, principal: Principal, filter: { status?: SubmissionView['status']; mine?: boolean; limit: number; offset: number }): Promise<SubmissionView[]> {
  return db.transaction(async (tx) => {
    const where: string[] = [];
    const params: unknown[] = [];
    if (!isReviewer(principal) || filter.mine) where.push(`s.tenant_id = $${params.push(principal.tenantId)}`);
    if (filter.status) where.push(`s.status = $${params.push(filter.status)}`);
    const sql = `${SELECT_SUBMISSION} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY s.created_at ${filter.status === 'pending' ? 'ASC' : 'DESC'}, s.id LIMIT $${params.push(filter.limit)} OFFSET $${params.push(filter.offset)}`;
    const rows = (await tx.query<SubmissionRow>(sql, params)).rows;
    const out: SubmissionView[] = [];
    for (const row of rows) out.push(await toView(tx, row));
    return out;
  });
}

// Moves the listing's latest version to the highest published one (NULL when none: the listing leaves search).
async function refreshListing(tx: Queryable, connectorId: string): Promise<void> {
  const { rows } = await tx.query<{ version: string; manifest: ConnectorManifest }>("SELECT version, manifest FROM connectors.connector_versions WHERE connector_id = $1 AND status = 'published'", [connectorId]);
  const latest = rows.filter((r) => semver.valid(r.version)).sort((a, b) => semver.rcompare(a.version, b.version))[0];
  if (!latest) {
    await tx.query('UPDATE connectors.marketplace SET version = NULL, updated_at = now() WHERE id = $1', [connectorId]);
    return;
  }
  const m = latest.manifest;
  await tx.query(
    `UPDATE connectors.marketplace
     SET version = $2, description = $3, author = $4, category = $5, display_name = $6, icon = $7, homepage = $8, keywords = $9, approved = true, updated_at = now()
     WHERE id = $1`,
    [connectorId, m.version, m.description, m.author ?? null, m.category, m.displayName, m.icon ?? null, m.homepage ?? null, keywordsOf(m)],
  );
}

/**
 * Decides a pending submission. Approve publishes the version (immutable from then on) and moves the listing forward;
 * reject keeps it out, with the notes shown to the publisher. 409 when the submission was already decided.
 * `afterApprove` runs inside the approving transaction (the npm path records its pending publish there).
 */
export async function decideSubmission(
  db: Db,
  principal: Principal,
  id: string,
  decision: 'approved' | 'rejected',
  notes: string | undefined,
  hooks: { afterApprove?: (tx: Queryable, versionId: string) => Promise<void> } = {},
): Promise<SubmissionView> {
  await db.transaction(async (tx) => {
    const row = (await tx.query<{ status: string; version_id: string; connector_id: string; tenant_id: string }>('SELECT status, version_id, connector_id, tenant_id FROM connectors.submissions WHERE id = $1 FOR UPDATE', [id])).rows[0];
    if (!row) throw new ProblemError('NOT_FOUND', `No submission ${id}; see GET /marketplace/submissions?status=pending`);
    if (row.status !== 'pending') throw new ProblemError('CONFLICT', `Submission ${id} was already ${row.status}; a decision is final`, { type: 'submission-decided' });
    await tx.query(
      `UPDATE connectors.connector_versions SET status = $2, published_at = CASE WHEN $2 = 'published' THEN now() ELSE NULL END WHERE id = $1`,
      [row.version_id, decision === 'approved' ? 'published' : 'rejected'],
    );
    await tx.query('UPDATE connectors.submissions SET status = $2, decided_at = now() WHERE id = $1', [id, decision]);
    await tx.query('INSERT INTO connectors.reviews (submission_id, tenant_id, reviewer, decision, notes) VALUES ($1, $2, $3, $4, $5)', [id, row.tenant_id, keyActor(principal.keyId), decision, notes ?? null]);
    if (decision === 'approved') await refreshListing(tx, row.connector_id);
    if (decision === 'approved') await hooks.afterApprove?.(tx, row.version_id);
    await recordAudit(tx, {
      tenantId: principal.tenantId,
      actor: keyActor(principal.keyId),
      action: decision === 'approved' ? 'submission.approve' : 'submission.reject',
      targetType: 'submission',
      targetId: id,
      details: { submitterTenant: row.tenant_id, ...(notes ? { notes } : {}) },
    });
  });
  return getSubmission(db, principal, id);
}

/** The listing `connectorId` locked for a governance change: 404 when the caller cannot see it, 403 when it may not govern it. */
export async function governedListing(tx: Queryable, principal: Principal, connectorId: string): Promise<{ id: string; name: string }> {
  const listing = (await tx.query<{ id: string; name: string; tenant_id: string | null }>('SELECT id, name, tenant_id FROM connectors.marketplace WHERE id = $1 FOR UPDATE', [connectorId])).rows[0];
  if (!listing || (listing.tenant_id !== null && listing.tenant_id !== principal.tenantId && !isReviewer(principal))) throw new ProblemError('NOT_FOUND', `No connector ${connectorId}; find it with GET /marketplace/search`);
  const owner = listing.tenant_id ?? (await ownerOf(tx, listing.id));
  if (!mayGovern(principal, owner)) throw new ProblemError('FORBIDDEN', `Only the publisher of ${listing.name} or a reviewer may do this`, { type: 'not-connector-publisher' });
  return listing;
}

/** Marks every published version of a connector deprecated, with a message and an optional replacement. */
export async function deprecateConnector(db: Db, principal: Principal, connectorId: string, body: { message: string; replacement?: string }): Promise<{ id: string; name: string; deprecation: { message: string; replacement: string | null } }> {
  return db.transaction(async (tx) => {
    const listing = await governedListing(tx, principal, connectorId);
    await tx.query("UPDATE connectors.connector_versions SET deprecation_message = $2, replacement = $3 WHERE connector_id = $1 AND status IN ('published', 'yanked')", [listing.id, body.message, body.replacement ?? null]);
    await tx.query('UPDATE connectors.marketplace SET updated_at = now() WHERE id = $1', [listing.id]);
    await recordAudit(tx, { tenantId: principal.tenantId, actor: keyActor(principal.keyId), action: 'connector.deprecate', targetType: 'connector', targetId: listing.id, details: { name: listing.name, ...body } });
    return { id: listing.id, name: listing.name, deprecation: { message: body.message, replacement: body.replacement ?? null } };
  });
}

/** Yanks a published version: no new installs; existing installs keep running it. */
export async function yankVersion(db: Db, principal: Principal, connectorId: string, version: string, reason: string | undefined): Promise<{ id: string; name: string; version: string; status: 'yanked' }> {
  return db.transaction(async (tx) => {
    const listing = await governedListing(tx, principal, connectorId);
    const row = (await tx.query<{ status: string }>('SELECT status FROM connectors.connector_versions WHERE connector_id = $1 AND version = $2', [listing.id, version])).rows[0];
    if (!row) throw new ProblemError('NOT_FOUND', `${listing.name} has no version ${version}; see GET /marketplace/connectors/${listing.id}/versions`);
    if (row.status !== 'published') throw new ProblemError('CONFLICT', `${listing.name}@${version} is ${row.status}; only a published version can be yanked`, { type: 'version-not-published' });
    await tx.query("UPDATE connectors.connector_versions SET status = 'yanked' WHERE connector_id = $1 AND version = $2", [listing.id, version]);
    await refreshListing(tx, listing.id);
    await recordAudit(tx, { tenantId: principal.tenantId, actor: keyActor(principal.keyId), action: 'version.yank', targetType: 'connector_version', targetId: `${listing.id}@${version}`, details: { name: listing.name, version, ...(reason ? { reason } : {}) } });
    return { id: listing.id, name: listing.name, version, status: 'yanked' as const };
  });
}

/**
 * The bytes of an artifact when the caller may read it: a published or yanked version visible to its tenant (global or
 * its own private one), a pending one it submitted, or any for reviewers.
 */
export async function readArtifact(db: Db, principal: Principal, sha256: string): Promise<Buffer | undefined> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ bytes: Uint8Array }>(
      `SELECT a.bytes FROM connectors.artifacts a
       WHERE a.sha256 = $1 AND EXISTS (
         SELECT 1 FROM connectors.connector_versions v LEFT JOIN connectors.submissions s ON s.version_id = v.id
         WHERE v.artifact_sha256 = a.sha256 AND (
           $3 OR (v.status IN ('published', 'yanked') AND (v.tenant_id IS NULL OR v.tenant_id = $2))
           OR (v.status = 'pending' AND s.tenant_id = $2)))`,
      [sha256, principal.tenantId, isReviewer(principal)],
    );
    return rows[0] ? Buffer.from(rows[0].bytes) : undefined;
  });
}
