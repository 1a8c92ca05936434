import { mkdtemp, readFile, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateMasterKey, loadOrCreateMasterKeyFile, parseMasterKey } from './master-key.ts';
import { createMemoryVaultStore } from './memory-store.ts';
import { rotateVaultKeys } from './rotate.ts';
import { createVault } from './vault.ts';

const creds = { apiKey: 'sk_live_abcdef123456', fields: { shop: 'acme' } };

describe('vault', () => {
  it('stores credentials encrypted and reads them back', async () => {
    const store = createMemoryVaultStore();
    const vault = createVault({ store, masterKey: generateMasterKey() });
    await vault.putCredentials('t1', 'c1', creds);
    expect(await vault.getCredentials('t1', 'c1')).toEqual(creds);
    const raw = await store.getSecret('t1', 'c1');
    expect(JSON.stringify(raw)).not.toContain('sk_live');
    expect(JSON.stringify(await store.listDataKeys())).not.toContain('sk_live');
    expect(await vault.getCredentials('t1', 'other')).toBeUndefined();
    expect(await vault.deleteCredentials('t1', 'c1')).toBe(true);
    expect(await vault.getCredentials('t1', 'c1')).toBeUndefined();
  });

  it('gives each tenant its own data key', async () => {
    const store = createMemoryVaultStore();
    const vault = createVault({ store, masterKey: generateMasterKey() });
    await vault.putCredentials('t1', 'c1', creds);
    await vault.putCredentials('t2', 'c1', creds);
    const keys = await store.listDataKeys();
    expect(keys.map((k) => k.tenant).sort()).toEqual(['t1', 't2']);
    expect(keys[0]!.wrappedKey).not.toBe(keys[1]!.wrappedKey);
  });

  it('refuses a ciphertext moved to another connection or tenant', async () => {
    const store = createMemoryVaultStore();
    const vault = createVault({ store, masterKey: generateMasterKey() });
    await vault.putCredentials('t1', 'c1', creds);
    await vault.putCredentials('t1', 'c2', { apiKey: 'other' });
    const r = (await store.getSecret('t1', 'c1'))!;
    await store.putSecret({ ...r, connectionId: 'c2' });
    await expect(vault.getCredentials('t1', 'c2')).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('c2') });
    // Same tenant data key version but another tenant's row: tenant is bound too.
    await vault.putCredentials('t2', 'c1', { apiKey: 'x' });
    await store.putSecret({ ...r, tenant: 't2' });
    await expect(vault.getCredentials('t2', 'c1')).rejects.toMatchObject({ code: 'INTERNAL' });
  });

  it('refuses a tampered ciphertext and a data key copied to another tenant', async () => {
    const store = createMemoryVaultStore();
    const mk = generateMasterKey();
    const vault = createVault({ store, masterKey: mk });
    await vault.putCredentials('t1', 'c1', creds);
    const r = (await store.getSecret('t1', 'c1'))!;
    const bytes = Buffer.from(r.ciphertext, 'base64');
    bytes[0]! ^= 1;
    await store.putSecret({ ...r, ciphertext: bytes.toString('base64') });
    await expect(vault.getCredentials('t1', 'c1')).rejects.toMatchObject({ code: 'INTERNAL' });

    const dk = (await store.getDataKey('t1'))!;
    await store.putDataKey({ ...dk, tenant: 't3' });
    const fresh = createVault({ store, masterKey: mk });
    await expect(fresh.putCredentials('t3', 'c1', creds)).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('t3') });
  });

  it('cannot read with a different master key', async () => {
    const store = createMemoryVaultStore();
    await createVault({ store, masterKey: generateMasterKey() }).putCredentials('t1', 'c1', creds);
    await expect(createVault({ store, masterKey: generateMasterKey() }).getCredentials('t1', 'c1')).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringContaining('previousMasterKeys'),
    });
  });

  it('rotates master keys while readers with either key keep working', async () => {
    const store = createMemoryVaultStore();
    const oldKey = generateMasterKey();
    const newKey = generateMasterKey();
    const a = createVault({ store, masterKey: oldKey });
    for (let i = 0; i < 5; i++) await a.putCredentials(`t${i}`, 'c', { token: `tok-${i}` });
    // A second process already deployed with the new key as current and the old one still accepted.
    const b = createVault({ store, masterKey: newKey, previousMasterKeys: [oldKey] });
    expect(await b.getCredentials('t0', 'c')).toEqual({ token: 'tok-0' });
    const report = await a.rotateKeys(newKey);
    expect(report).toEqual({ rewrapped: 5, alreadyCurrent: 0, unknown: [] });
    expect((await store.listDataKeys()).every((k) => k.masterKeyId === newKey.id)).toBe(true);
    expect(a.currentKeyId()).toBe(newKey.id);
    for (let i = 0; i < 5; i++) {
      expect(await a.getCredentials(`t${i}`, 'c')).toEqual({ token: `tok-${i}` });
      expect(await b.getCredentials(`t${i}`, 'c')).toEqual({ token: `tok-${i}` });
    }
    // After rotation a process with only the new key reads everything; one with only the old key cannot.
    expect(await createVault({ store, masterKey: newKey }).getCredentials('t3', 'c')).toEqual({ token: 'tok-3' });
    await expect(createVault({ store, masterKey: oldKey }).getCredentials('t3', 'c')).rejects.toMatchObject({ code: 'INTERNAL' });
  });

  it('rotateVaultKeys is idempotent and reports keys it cannot handle', async () => {
    const store = createMemoryVaultStore();
    const oldKey = generateMasterKey();
    const newKey = generateMasterKey();
    await createVault({ store, masterKey: oldKey }).putCredentials('t1', 'c', creds);
    await createVault({ store, masterKey: generateMasterKey() }).putCredentials('stranger', 'c', creds);
    const first = await rotateVaultKeys({ store, oldKey: oldKey.key.toString('base64'), newKey: newKey.key.toString('hex') });
    expect(first.rewrapped).toBe(1);
    expect(first.unknown).toEqual([expect.objectContaining({ tenant: 'stranger' })]);
    const second = await rotateVaultKeys({ store, oldKey, newKey });
    expect(second).toMatchObject({ rewrapped: 0, alreadyCurrent: 1 });
    await expect(rotateVaultKeys({ store, oldKey, newKey: oldKey })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('skips the cipher only for the very record it opened before: a tampered or moved row read after a cached read still fails', async () => {
    const store = createMemoryVaultStore();
    const vault = createVault({ store, masterKey: generateMasterKey() });
    await vault.putCredentials('t1', 'c1', creds);
    await vault.putCredentials('t1', 'c2', { apiKey: 'other' });
    await vault.putCredentials('t1\u0000c', '1', { apiKey: 'nul-tenant' });
    // Fill the cache, then tamper with each row behind the vault's back.
    const first = (await vault.getCredentials('t1', 'c1'))!;
    expect(first).toEqual(creds);
    first.apiKey = 'changed by the caller';
    expect(await vault.getCredentials('t1', 'c1')).toEqual(creds);
    await vault.getCredentials('t1', 'c2');
    await vault.getCredentials('t1\u0000c', '1');

    const r = (await store.getSecret('t1', 'c1'))!;
    const bytes = Buffer.from(r.ciphertext, 'base64');
    bytes[0]! ^= 1;
    await store.putSecret({ ...r, ciphertext: bytes.toString('base64') });
    await expect(vault.getCredentials('t1', 'c1')).rejects.toMatchObject({ code: 'INTERNAL' });
    await store.putSecret({ ...r, connectionId: 'c2' });
    await expect(vault.getCredentials('t1', 'c2')).rejects.toMatchObject({ code: 'INTERNAL' });
    // Ids whose plain concatenation would spell the same cache key share no entry.
    const nul = (await store.getSecret('t1\u0000c', '1'))!;
    await store.putSecret({ ...nul, tenant: 't1', connectionId: 'c\u00001' });
    await expect(vault.getCredentials('t1', 'c\u00001')).rejects.toMatchObject({ code: 'INTERNAL' });

    // A new value is read as such, and a deleted one is gone.
    await vault.putCredentials('t1', 'c1', { apiKey: 'rotated' });
    expect(await vault.getCredentials('t1', 'c1')).toEqual({ apiKey: 'rotated' });
    await vault.deleteCredentials('t1', 'c1');
    expect(await vault.getCredentials('t1', 'c1')).toBeUndefined();
  });

  it('serves reads from the data key cache without touching the data key store', async () => {
    const store = createMemoryVaultStore();
    let dataKeyReads = 0;
    const counting = { ...store, getDataKey: (t: string, v?: number) => { dataKeyReads++; return store.getDataKey(t, v); } };
    const vault = createVault({ store: counting, masterKey: generateMasterKey() });
    await vault.putCredentials('t1', 'c1', creds);
    const before = dataKeyReads;
    for (let i = 0; i < 10; i++) await vault.getCredentials('t1', 'c1');
    expect(dataKeyReads).toBe(before);
    vault.clearCache();
    await vault.getCredentials('t1', 'c1');
    expect(dataKeyReads).toBe(before + 1);
  });
});

describe('master keys', () => {
  it('parses hex and base64 and rejects anything else', () => {
    const k = generateMasterKey();
    expect(parseMasterKey(k.key.toString('hex')).id).toBe(k.id);
    expect(parseMasterKey(k.key.toString('base64')).id).toBe(k.id);
    expect(parseMasterKey(k.key.toString('base64url')).id).toBe(k.id);
    expect(() => parseMasterKey('short')).toThrow(/32 bytes/);
    expect(() => parseMasterKey(Buffer.alloc(16))).toThrow(/32 bytes/);
  });

  it('creates a key file with mode 0600, reuses it, and refuses a readable one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bos-mk-'));
    const path = join(dir, 'data', 'master.key');
    const created = await loadOrCreateMasterKeyFile(path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await loadOrCreateMasterKeyFile(path)).id).toBe(created.id);
    expect(parseMasterKey(await readFile(path, 'utf8')).id).toBe(created.id);
    const loose = join(dir, 'loose.key');
    await writeFile(loose, created.key.toString('base64'));
    await chmod(loose, 0o644);
    await expect(loadOrCreateMasterKeyFile(loose)).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});
