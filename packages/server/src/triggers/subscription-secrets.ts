import { createVault, type SecretRecord, type VaultStore } from '@businessos/connector-runtime';
import type { Db } from '../db/db.ts';
import { createPgVaultStore } from '../vault/pg-vault-store.ts';

/** Signing secrets that providers return from subscribe (Stripe's `whsec_...`), sealed by the vault. */
export interface SubscriptionSecrets {
  /** Encrypts and stores the secret on the subscription row (replacing what was there). */
  put(tenantId: string, subscriptionId: string, secret: string): Promise<void>;
  /** The decrypted secret, or undefined when none is stored. */
  get(tenantId: string, subscriptionId: string): Promise<string | undefined>;
  delete(tenantId: string, subscriptionId: string): Promise<void>;
}

interface SealedColumn {
  keyVersion: number;
  iv: string;
  tag: string;
  ciphertext: string;
  updatedAt: number;
}

/**
 * A {@link VaultStore} whose data keys are the tenants' vault keys (`connectors.vault_data_keys`, so key rotation
 * covers them) and whose sealed records live in `trigger_subscriptions.secret`, keyed by subscription id. The
 * vault's AAD binds each record to its tenant and subscription: a secret copied to another row does not open.
 */
function createSubscriptionSecretStore(db: Db): VaultStore {
  const keys = createPgVaultStore(db);
  return {
    getDataKey: keys.getDataKey,
    putDataKey: keys.putDataKey,
    listDataKeys: keys.listDataKeys,
    async getSecret(tenant, subscriptionId): Promise<SecretRecord | undefined> {
      const { rows } = await db.withTenant(tenant, (tx) => tx.query<{ secret: SealedColumn | null }>('SELECT secret FROM connectors.trigger_subscriptions WHERE id = $1', [subscriptionId]));
      const sealed = rows[0]?.secret;
      return sealed ? { tenant, connectionId: subscriptionId, ...sealed } : undefined;
    },
    async putSecret(record) {
      const sealed: SealedColumn = { keyVersion: record.keyVersion, iv: record.iv, tag: record.tag, ciphertext: record.ciphertext, updatedAt: record.updatedAt };
      const result = await db.withTenant(record.tenant, (tx) => tx.query('UPDATE connectors.trigger_subscriptions SET secret = $2::jsonb WHERE id = $1', [record.connectionId, JSON.stringify(sealed)]));
      if (result.rowCount === 0) throw new Error(`subscription ${record.connectionId} does not exist in tenant ${record.tenant}`);
    },
    async deleteSecret(tenant, subscriptionId) {
      const result = await db.withTenant(tenant, (tx) => tx.query('UPDATE connectors.trigger_subscriptions SET secret = NULL WHERE id = $1 AND secret IS NOT NULL', [subscriptionId]));
      return result.rowCount > 0;
    },
  };
}

/**
 * Subscription signing secrets through the runtime vault (AES-256-GCM under the tenant's data key, wrapped by the
 * master key); never stored or logged in plain text.
 * @example const secrets = createSubscriptionSecrets(db, { masterKey }); await secrets.put(tenantId, subscriptionId, 'whsec_...');
 */
export function createSubscriptionSecrets(db: Db, keys: { masterKey: Uint8Array; previousMasterKeys?: Uint8Array[] }): SubscriptionSecrets {
  const vault = createVault({ store: createSubscriptionSecretStore(db), masterKey: keys.masterKey, previousMasterKeys: keys.previousMasterKeys ?? [] });
  return {
    put: (tenantId, subscriptionId, secret) => vault.putCredentials(tenantId, subscriptionId, { token: secret }),
    async get(tenantId, subscriptionId) {
      return (await vault.getCredentials(tenantId, subscriptionId))?.token;
    },
    async delete(tenantId, subscriptionId) {
      await vault.deleteCredentials(tenantId, subscriptionId);
    },
  };
}
