import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Db } from './db/db.ts';
import { generateApiKey } from './http/api-key.ts';

/** What {@link bootstrapPlatform} did. `secret` is only set the one time the admin key is created. */
export interface BootstrapResult {
  created: boolean;
  tenantId: string;
  secret?: string;
}

// Serialises the first start of several processes on one database.
const BOOTSTRAP_LOCK_KEY = 4_242_001_338;

/**
 * On an empty store, creates the platform tenant and its first key (all roles). Later starts do nothing.
 * The caller shows the key once; only its hash is stored.
 */
export async function bootstrapPlatform(db: Db): Promise<BootstrapResult> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK_KEY]);
    const existing = await tx.query<{ id: string }>('SELECT id FROM connectors.tenants WHERE is_platform');
    if (existing.rows[0]) return { created: false, tenantId: existing.rows[0].id };
    const tenant = await tx.query<{ id: string }>("INSERT INTO connectors.tenants (name, is_platform) VALUES ('Platform', true) RETURNING id");
    const tenantId = tenant.rows[0]!.id;
    const key = generateApiKey();
    const inserted = await tx.query<{ id: string }>(
      `INSERT INTO connectors.api_keys (tenant_id, name, prefix, key_hash, roles)
       VALUES ($1, 'bootstrap platform admin', $2, $3, ARRAY['tenant_admin', 'publisher', 'reviewer']) RETURNING id`,
      [tenantId, key.prefix, key.hash],
    );
    await tx.query(
      "INSERT INTO connectors.audit_log (tenant_id, actor, action, target_type, target_id) VALUES ($1, 'system', 'platform.bootstrap', 'api_key', $2)",
      [tenantId, inserted.rows[0]!.id],
    );
    return { created: true, tenantId, secret: key.secret };
  });
}

/** Writes the bootstrap admin key to `${dataDir}/admin-key.txt`, readable by the owner only. */
export async function writeAdminKeyFile(dataDir: string, secret: string): Promise<string> {
  await mkdir(dataDir, { recursive: true });
  const file = path.join(dataDir, 'admin-key.txt');
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return file;
}
