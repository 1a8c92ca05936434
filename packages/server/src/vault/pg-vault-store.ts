import type { DataKeyRecord, SecretRecord, VaultStore } from '@businessos/connector-runtime';
import type { Db } from '../db/db.ts';

interface DataKeyRow {
  tenant_id: string;
  version: number;
  master_key_id: string;
  iv: string;
  tag: string;
  wrapped_key: string;
  created_at: string | number;
}

interface SecretRow {
  tenant_id: string;
  connection_id: string;
  key_version: number;
  iv: string;
  tag: string;
  ciphertext: string;
  updated_at: string | number;
}

const dataKey = (r: DataKeyRow): DataKeyRecord => ({
  tenant: r.tenant_id,
  version: r.version,
  masterKeyId: r.master_key_id,
  iv: r.iv,
  tag: r.tag,
  wrappedKey: r.wrapped_key,
  createdAt: Number(r.created_at),
});

const secret = (r: SecretRow): SecretRecord => ({
  tenant: r.tenant_id,
  connectionId: r.connection_id,
  keyVersion: r.key_version,
  iv: r.iv,
  tag: r.tag,
  ciphertext: r.ciphertext,
  updatedAt: Number(r.updated_at),
});

/**
 * The runtime vault's records in PostgreSQL/PGlite. Each call is its own tenant transaction (row-level security
 * applies); only `listDataKeys`, used by key rotation, reads across tenants as the owner.
 */
export function createPgVaultStore(db: Db): VaultStore {
  return {
    async getDataKey(tenant, version) {
      const { rows } = await db.withTenant(tenant, (tx) =>
        version === undefined
          ? tx.query<DataKeyRow>('SELECT * FROM connectors.vault_data_keys WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1', [tenant])
          : tx.query<DataKeyRow>('SELECT * FROM connectors.vault_data_keys WHERE tenant_id = $1 AND version = $2', [tenant, version]),
      );
      return rows[0] ? dataKey(rows[0]) : undefined;
    },
    async putDataKey(record, options = {}) {
      const values = [record.tenant, record.version, record.masterKeyId, record.iv, record.tag, record.wrappedKey, record.createdAt];
      const sql = options.onlyIfAbsent
        ? `INSERT INTO connectors.vault_data_keys (tenant_id, version, master_key_id, iv, tag, wrapped_key, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, version) DO NOTHING`
        : `INSERT INTO connectors.vault_data_keys (tenant_id, version, master_key_id, iv, tag, wrapped_key, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (tenant_id, version) DO UPDATE SET master_key_id = EXCLUDED.master_key_id, iv = EXCLUDED.iv, tag = EXCLUDED.tag, wrapped_key = EXCLUDED.wrapped_key`;
      const result = await db.withTenant(record.tenant, (tx) => tx.query(sql, values));
      return result.rowCount > 0;
    },
    async listDataKeys() {
      const { rows } = await db.query<DataKeyRow>('SELECT * FROM connectors.vault_data_keys ORDER BY tenant_id, version');
      return rows.map(dataKey);
    },
    async getSecret(tenant, connectionId) {
      const { rows } = await db.withTenant(tenant, (tx) =>
        tx.query<SecretRow>('SELECT * FROM connectors.vault_secrets WHERE tenant_id = $1 AND connection_id = $2', [tenant, connectionId]),
      );
      return rows[0] ? secret(rows[0]) : undefined;
    },
    async putSecret(record) {
      await db.withTenant(record.tenant, (tx) =>
        tx.query(
          `INSERT INTO connectors.vault_secrets (tenant_id, connection_id, key_version, iv, tag, ciphertext, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (tenant_id, connection_id) DO UPDATE SET key_version = EXCLUDED.key_version, iv = EXCLUDED.iv, tag = EXCLUDED.tag, ciphertext = EXCLUDED.ciphertext, updated_at = EXCLUDED.updated_at`,
          [record.tenant, record.connectionId, record.keyVersion, record.iv, record.tag, record.ciphertext, record.updatedAt],
        ),
      );
    },
    async deleteSecret(tenant, connectionId) {
      const result = await db.withTenant(tenant, (tx) => tx.query('DELETE FROM connectors.vault_secrets WHERE tenant_id = $1 AND connection_id = $2', [tenant, connectionId]));
      return result.rowCount > 0;
    },
  };
}
