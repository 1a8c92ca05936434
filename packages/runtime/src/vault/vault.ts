import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { ConnectorError, type Credentials } from '@businessos/connector-sdk';
import { systemClock, type Clock } from '../clock.ts';
import { dataKeyAad, open, seal, secretAad } from './crypto.ts';
import { parseMasterKey, type MasterKey } from './master-key.ts';
import { rotateVaultKeys, type RotationReport } from './rotate.ts';
import type { DataKeyRecord, VaultStore } from './types.ts';

export interface VaultOptions {
  store: VaultStore;
  /** Wraps new data keys; also unwraps. Hex or base64 text, raw bytes or a parsed key. */
  masterKey: string | Uint8Array | MasterKey;
  /** Older master keys still accepted for unwrapping (during and after a rotation until all keys are re-wrapped). */
  previousMasterKeys?: (string | Uint8Array | MasterKey)[];
  clock?: Clock;
  /** How long an unwrapped data key stays in memory (default 5 minutes). */
  cacheTtlMs?: number;
  /** Most unwrapped data keys kept (default 10 000; the oldest entry goes first). */
  cacheMaxEntries?: number;
}

/** Encrypted credential storage: one AES-256-GCM data key per tenant, wrapped by the master key. */
export interface Vault {
  /** Encrypts and stores a connection's credentials (replacing what was there). */
  putCredentials(tenant: string, connectionId: string, credentials: Credentials): Promise<void>;
  /** Decrypts a connection's credentials; undefined when none are stored. Throws INTERNAL when the record was tampered with or moved. */
  getCredentials(tenant: string, connectionId: string): Promise<Credentials | undefined>;
  deleteCredentials(tenant: string, connectionId: string): Promise<boolean>;
  /**
   * Makes `newMasterKey` the current key and re-wraps all data keys with it. The old key stays accepted, so
   * reads keep working throughout. Run it once every process already accepts the new key.
   */
  rotateKeys(newMasterKey: string | Uint8Array | MasterKey): Promise<RotationReport>;
  /** Id of the key that wraps new data keys. */
  currentKeyId(): string;
  /** Drops cached unwrapped data keys and opened credentials (all, or one tenant's). */
  clearCache(tenant?: string): void;
}

/**
 * Creates a vault over a {@link VaultStore}.
 * @example const vault = createVault({ store: createMemoryVaultStore(), masterKey: config.masterKey });
 */
export function createVault(options: VaultOptions): Vault {
  const { store } = options;
  const clock = options.clock ?? systemClock;
  const ttl = options.cacheTtlMs ?? 5 * 60_000;
  const maxEntries = options.cacheMaxEntries ?? 10_000;
  let current = parseMasterKey(options.masterKey);
  const keyring = new Map<string, MasterKey>([[current.id, current]]);
  for (const k of options.previousMasterKeys ?? []) {
    const parsed = parseMasterKey(k);
    if (!keyring.has(parsed.id)) keyring.set(parsed.id, parsed);
  }
  // tenant\0version -> unwrapped key; Map keeps insertion order, which gives a cheap LRU-ish eviction.
  const cache = new Map<string, { key: KeyObject; expires: number }>();
  // Expires like the keys: a data key version added by another process is picked up within the TTL.
  const latestVersion = new Map<string, { version: number; expires: number }>();
  /** Secrets opened lately, by tenant and connection, with the sealed record they came from (same TTL and bound as data keys). */
  // The tenant's length first: no pair of ids can spell another pair's key, whatever characters they hold.
  const openedKey = (tenant: string, connectionId: string) => `${tenant.length}:${tenant}\u0000${connectionId}`;
  const opened = new Map<string, { keyVersion: number; iv: string; tag: string; ciphertext: string; json: string; expires: number }>();

  // Cached as KeyObjects: importing raw key bytes on every decrypt is measurable on the hot path.
  function remember(tenant: string, version: number, raw: Buffer): KeyObject {
    const key = createSecretKey(raw);
    raw.fill(0);
    const id = `${tenant}\u0000${version}`;
    cache.delete(id);
    cache.set(id, { key, expires: clock.now() + ttl });
    while (cache.size > maxEntries) {
      const oldest = cache.keys().next().value;
      if (oldest === undefined) break;
      cache.delete(oldest);
    }
    return key;
  }

  function unwrap(record: DataKeyRecord): Buffer {
    const mk = keyring.get(record.masterKeyId);
    if (!mk) {
      throw new ConnectorError(
        'INTERNAL',
        `Data key of tenant ${record.tenant} (v${record.version}) is wrapped by master key ${record.masterKeyId}, which this process does not have; add it to previousMasterKeys or finish rotate-keys`,
      );
    }
    try {
      return open(mk.key, { iv: record.iv, tag: record.tag, ciphertext: record.wrappedKey }, dataKeyAad(record.tenant, record.version));
    } catch {
      throw new ConnectorError('INTERNAL', `Data key of tenant ${record.tenant} (v${record.version}) failed authentication: the record was altered or copied from another tenant`);
    }
  }

  async function dataKey(tenant: string, version: number): Promise<KeyObject> {
    const hit = cache.get(`${tenant}\u0000${version}`);
    if (hit && hit.expires > clock.now()) return hit.key;
    const record = await store.getDataKey(tenant, version);
    if (!record) throw new ConnectorError('INTERNAL', `Data key v${version} of tenant ${tenant} is missing from the vault store; the secret cannot be decrypted`);
    return remember(tenant, version, unwrap(record));
  }

  async function currentDataKey(tenant: string): Promise<{ version: number; key: KeyObject }> {
    const known = latestVersion.get(tenant);
    if (known !== undefined && known.expires > clock.now()) return { version: known.version, key: await dataKey(tenant, known.version) };
    let record = await store.getDataKey(tenant);
    if (!record) {
      const plain = randomBytes(32);
      const sealed = seal(current.key, plain, dataKeyAad(tenant, 1));
      const fresh: DataKeyRecord = {
        tenant,
        version: 1,
        masterKeyId: current.id,
        iv: sealed.iv,
        tag: sealed.tag,
        wrappedKey: sealed.ciphertext,
        createdAt: clock.now(),
      };
      if (await store.putDataKey(fresh, { onlyIfAbsent: true })) {
        latestVersion.set(tenant, { version: 1, expires: clock.now() + ttl });
        return { version: 1, key: remember(tenant, 1, plain) };
      }
      record = await store.getDataKey(tenant);
      if (!record) throw new ConnectorError('INTERNAL', `Vault store lost the data key of tenant ${tenant} right after creating it`);
    }
    latestVersion.set(tenant, { version: record.version, expires: clock.now() + ttl });
    return { version: record.version, key: remember(tenant, record.version, unwrap(record)) };
  }

  return {
    async putCredentials(tenant, connectionId, credentials) {
      const { version, key } = await currentDataKey(tenant);
      const sealed = seal(key, Buffer.from(JSON.stringify(credentials), 'utf8'), secretAad(tenant, connectionId, version));
      await store.putSecret({ tenant, connectionId, keyVersion: version, ...sealed, updatedAt: clock.now() });
    },
    async getCredentials(tenant, connectionId) {
      const record = await store.getSecret(tenant, connectionId);
      const id = openedKey(tenant, connectionId);
      if (!record) {
        opened.delete(id);
        return undefined;
      }
      // The same sealed bytes as last time open to the same text: skip the cipher. Any changed byte (a new
      // version, a tampered row) misses and is authenticated again below.
      const seen = opened.get(id);
      const key = await dataKey(tenant, record.keyVersion);
      if (seen && seen.expires > clock.now() && seen.keyVersion === record.keyVersion && seen.iv === record.iv && seen.tag === record.tag && seen.ciphertext === record.ciphertext) {
        return JSON.parse(seen.json) as Credentials;
      }
      let plain: Buffer;
      try {
        plain = open(key, record, secretAad(tenant, connectionId, record.keyVersion));
      } catch {
        throw new ConnectorError(
          'INTERNAL',
          `Credentials of connection ${connectionId} (tenant ${tenant}) failed authentication: the record was altered or moved from another connection; reconnect the account`,
        );
      }
      const json = plain.toString('utf8');
      const credentials = JSON.parse(json) as Credentials;
      opened.delete(id);
      opened.set(id, { keyVersion: record.keyVersion, iv: record.iv, tag: record.tag, ciphertext: record.ciphertext, json, expires: clock.now() + ttl });
      while (opened.size > maxEntries) opened.delete(opened.keys().next().value!);
      return credentials;
    },
    deleteCredentials(tenant, connectionId) {
      opened.delete(openedKey(tenant, connectionId));
      return store.deleteSecret(tenant, connectionId);
    },
    async rotateKeys(newMasterKey) {
      const next = parseMasterKey(newMasterKey);
      keyring.set(next.id, next);
      current = next;
      // Re-wrap from every other key this process accepts: a process deployed with the new key as current and
      // the old one as previous still has to move the data keys the old one wraps.
      const older = [...keyring.values()].filter((k) => k.id !== next.id);
      if (older.length > 0) return rotateVaultKeys({ store, oldKey: older, newKey: next });
      const report: RotationReport = { rewrapped: 0, alreadyCurrent: 0, unknown: [] };
      for (const r of await store.listDataKeys()) {
        if (r.masterKeyId === next.id) report.alreadyCurrent++;
        else report.unknown.push({ tenant: r.tenant, version: r.version, masterKeyId: r.masterKeyId });
      }
      return report;
    },
    currentKeyId: () => current.id,
    clearCache(tenant) {
      if (tenant === undefined) {
        cache.clear();
        opened.clear();
        latestVersion.clear();
        return;
      }
      latestVersion.delete(tenant);
      for (const id of cache.keys()) if (id.startsWith(`${tenant}\u0000`)) cache.delete(id);
      for (const id of opened.keys()) if (id.startsWith(openedKey(tenant, ''))) opened.delete(id);
    },
  };
}
