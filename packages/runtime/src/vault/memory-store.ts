import type { DataKeyRecord, SecretRecord, VaultStore } from './types.ts';

/** A {@link VaultStore} in memory, for tests, benchmarks and single-process embedding. */
export function createMemoryVaultStore(): VaultStore & { secretCount(): number } {
  const keys = new Map<string, DataKeyRecord>();
  const secrets = new Map<string, SecretRecord>();
  const k = (a: string, b: string | number) => `${a}\u0000${b}`;
  return {
    async getDataKey(tenant, version) {
      if (version !== undefined) {
        const r = keys.get(k(tenant, version));
        return r && { ...r };
      }
      let best: DataKeyRecord | undefined;
      for (const r of keys.values()) if (r.tenant === tenant && (!best || r.version > best.version)) best = r;
      return best && { ...best };
    },
    async putDataKey(record, options) {
      const id = k(record.tenant, record.version);
      if (options?.onlyIfAbsent && keys.has(id)) return false;
      keys.set(id, { ...record });
      return true;
    },
    async listDataKeys() {
      return [...keys.values()].map((r) => ({ ...r }));
    },
    async getSecret(tenant, connectionId) {
      const r = secrets.get(k(tenant, connectionId));
      return r && { ...r };
    },
    async putSecret(record) {
      secrets.set(k(record.tenant, record.connectionId), { ...record });
    },
    async deleteSecret(tenant, connectionId) {
      return secrets.delete(k(tenant, connectionId));
    },
    secretCount: () => secrets.size,
  };
}
