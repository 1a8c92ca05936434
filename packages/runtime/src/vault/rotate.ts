import { ConnectorError } from '@businessos/connector-sdk';
import { dataKeyAad, open, seal } from './crypto.ts';
import { parseMasterKey, type MasterKey } from './master-key.ts';
import type { VaultStore } from './types.ts';

/** What a rotation did. */
export interface RotationReport {
  /** Data keys re-wrapped from the old master key to the new one. */
  rewrapped: number;
  /** Data keys already wrapped by the new key (a rotation run twice is harmless). */
  alreadyCurrent: number;
  /** Data keys wrapped by neither key; they stay as they are and need the key that wrapped them. */
  unknown: { tenant: string; version: number; masterKeyId: string }[];
}

/**
 * Re-wraps every tenant data key from `oldKey` (one key or several) to `newKey`. Secrets are not touched (they are encrypted with
 * the data keys, which keep their value), so this is quick and safe to run while the service serves traffic,
 * provided every process already accepts both keys (see the vault's `previousMasterKeys`).
 * Keys may be given as hex/base64 text or as {@link MasterKey}s. This is what `bos-connector rotate-keys` calls.
 */
export async function rotateVaultKeys(options: {
  store: VaultStore;
  oldKey: string | Uint8Array | MasterKey | (string | Uint8Array | MasterKey)[];
  newKey: string | Uint8Array | MasterKey;
  now?: () => number;
}): Promise<RotationReport> {
  const oldKeys = new Map((Array.isArray(options.oldKey) ? options.oldKey : [options.oldKey]).map((k) => {
    const parsed = parseMasterKey(k);
    return [parsed.id, parsed] as const;
  }));
  const newKey = parseMasterKey(options.newKey);
  if (oldKeys.has(newKey.id)) {
    throw new ConnectorError('INVALID_INPUT', 'The new master key is the same as the old one; generate a new key with `openssl rand -base64 32`');
  }
  const report: RotationReport = { rewrapped: 0, alreadyCurrent: 0, unknown: [] };
  for (const record of await options.store.listDataKeys()) {
    if (record.masterKeyId === newKey.id) {
      report.alreadyCurrent++;
      continue;
    }
    const oldKey = oldKeys.get(record.masterKeyId);
    if (!oldKey) {
      report.unknown.push({ tenant: record.tenant, version: record.version, masterKeyId: record.masterKeyId });
      continue;
    }
    const aad = dataKeyAad(record.tenant, record.version);
    let plain: Buffer;
    try {
      plain = open(oldKey.key, { iv: record.iv, tag: record.tag, ciphertext: record.wrappedKey }, aad);
    } catch {
      throw new ConnectorError(
        'INTERNAL',
        `Data key ${record.tenant} v${record.version} does not unwrap with the old master key ${oldKey.id}; the record was altered. Rotation stopped; nothing after it was changed`,
      );
    }
    const sealed = seal(newKey.key, plain, aad);
    plain.fill(0);
    await options.store.putDataKey({ ...record, masterKeyId: newKey.id, iv: sealed.iv, tag: sealed.tag, wrappedKey: sealed.ciphertext });
    report.rewrapped++;
  }
  return report;
}
