import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createVault, generateMasterKey, loadOrCreateMasterKeyFile, parseMasterKey } from '@businessos/connector-runtime';
import { describe, expect, it } from 'vitest';
import { openDb } from './db/open.ts';
import { migrate } from './db/migrate.ts';
import { rotateKeys } from './rotate-keys.ts';
import { createPgVaultStore } from './vault/pg-vault-store.ts';

const TENANT = '00000000-0000-4000-8000-000000000001';
const CONN = '00000000-0000-4000-8000-0000000000c1';

async function seedEmbedded(dataDir: string) {
  const { key } = await loadOrCreateMasterKeyFile(path.join(dataDir, 'master.key'));
  const db = await openDb({ dataDir, databaseUrl: undefined });
  await migrate(db);
  await db.transaction(async (tx) => {
    await tx.query("INSERT INTO connectors.tenants (id, name) VALUES ($1, 'Rotating tenant')", [TENANT]);
    const listing = await tx.query<{ id: string }>("INSERT INTO connectors.marketplace (tenant_id, name, display_name, npm_package, approved) VALUES ($1, 'rot', 'Rot', 'rot', true) RETURNING id", [TENANT]);
    const inst = await tx.query<{ id: string }>("INSERT INTO connectors.installations (tenant_id, connector_id, version) VALUES ($1, $2, '1.0.0') RETURNING id", [TENANT, listing.rows[0]!.id]);
    await tx.query("INSERT INTO connectors.connections (id, tenant_id, installation_id, name) VALUES ($1, $2, $3, 'conn')", [CONN, TENANT, inst.rows[0]!.id]);
  });
  await createVault({ store: createPgVaultStore(db), masterKey: key }).putCredentials(TENANT, CONN, { apiKey: 'sk_test_rotate_me' });
  await db.close();
  return key;
}

async function readWith(dataDir: string, keyText: string) {
  const db = await openDb({ dataDir, databaseUrl: undefined });
  try {
    return await createVault({ store: createPgVaultStore(db), masterKey: parseMasterKey(keyText).key }).getCredentials(TENANT, CONN);
  } finally {
    await db.close();
  }
}

describe('rotate-keys in embedded mode', () => {
  it('re-wraps the data keys under a new key file; the old key no longer opens the vault', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'bos-rotate-'));
    const oldKey = await seedEmbedded(dataDir);
    const { report, mode } = await rotateKeys({ BOS_DATA_DIR: dataDir }, () => {});
    expect(mode).toBe('embedded');
    expect(report.rewrapped).toBeGreaterThanOrEqual(1);
    const newText = readFileSync(path.join(dataDir, 'master.key'), 'utf8').trim();
    expect(parseMasterKey(newText).key.equals(oldKey)).toBe(false);
    expect(statSync(path.join(dataDir, 'master.key')).mode & 0o777).toBe(0o600);
    expect(existsSync(path.join(dataDir, 'master.key.new'))).toBe(false);
    await expect(readWith(dataDir, newText)).resolves.toMatchObject({ apiKey: 'sk_test_rotate_me' });
    await expect(readWith(dataDir, oldKey.toString('base64'))).rejects.toThrow();
  }, 120_000);

  it('finishes an interrupted rotation when run again', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'bos-rotate-'));
    await seedEmbedded(dataDir);
    // As if a previous run died right after writing the new key.
    const pending = generateMasterKey().key.toString('base64');
    writeFileSync(path.join(dataDir, 'master.key.new'), `${pending}\n`, { mode: 0o600 });
    const lines: string[] = [];
    await rotateKeys({ BOS_DATA_DIR: dataDir }, (l) => lines.push(l));
    expect(lines.join('\n')).toMatch(/Resuming an interrupted rotation/);
    expect(readFileSync(path.join(dataDir, 'master.key'), 'utf8').trim()).toBe(pending);
    await expect(readWith(dataDir, pending)).resolves.toMatchObject({ apiKey: 'sk_test_rotate_me' });
  }, 120_000);

  it('refuses a PostgreSQL rotation without the previous key, saying which variable to set', async () => {
    await expect(rotateKeys({ DATABASE_URL: 'postgres://x@127.0.0.1:1/none', BOS_MASTER_KEY: generateMasterKey().key.toString('base64') }, () => {}))
      .rejects.toThrow(/BOS_PREVIOUS_MASTER_KEYS: is required/);
  });
});
