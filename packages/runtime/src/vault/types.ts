/** A tenant's data key, wrapped (AES-256-GCM) by a master key. */
export interface DataKeyRecord {
  tenant: string;
  /** Versions grow from 1; secrets name the version that encrypted them. */
  version: number;
  /** Id of the master key that wraps this record (see `masterKeyId`). */
  masterKeyId: string;
  /** base64 */
  iv: string;
  /** base64 GCM tag */
  tag: string;
  /** base64 wrapped 32-byte data key */
  wrappedKey: string;
  createdAt: number;
}

/** One connection's credentials, encrypted with the tenant's data key. */
export interface SecretRecord {
  tenant: string;
  connectionId: string;
  keyVersion: number;
  iv: string;
  tag: string;
  ciphertext: string;
  updatedAt: number;
}

/**
 * Where the vault keeps its records. The runtime ships an in-memory store; the service implements it on
 * PostgreSQL (primary keys: data keys (tenant, version), secrets (tenant, connectionId)).
 */
export interface VaultStore {
  /** A given version, or the highest version when `version` is left out. */
  getDataKey(tenant: string, version?: number): Promise<DataKeyRecord | undefined>;
  /**
   * Inserts or replaces the record with the same (tenant, version). With `onlyIfAbsent`, answers false and
   * writes nothing when that version exists (two processes creating a tenant's first key at once).
   */
  putDataKey(record: DataKeyRecord, options?: { onlyIfAbsent?: boolean }): Promise<boolean>;
  /** All data key records, for rotation. */
  listDataKeys(): Promise<DataKeyRecord[]>;
  getSecret(tenant: string, connectionId: string): Promise<SecretRecord | undefined>;
  putSecret(record: SecretRecord): Promise<void>;
  deleteSecret(tenant: string, connectionId: string): Promise<boolean>;
}
