import { describe, expect, it } from 'vitest';
import { createFakeClock } from '../testing/fake-clock.ts';
import { seal } from './crypto.ts';
import { generateMasterKey } from './master-key.ts';
import { createMemoryVaultStore } from './memory-store.ts';
import { rotateVaultKeys } from './rotate.ts';
import { createVault } from './vault.ts';

const creds = { accessToken: 'at-secret-value', refreshToken: 'rt-secret-value' };

describe('vault under tampering, rotation and stale caches', () => {
  it('refuses a secret whose GCM tag was truncated (short tags would make forgeries cheap)', async () => {
    const store = createMemoryVaultStore();
    const vault = createVault({ store, masterKey: generateMasterKey() });
    await vault.putCredentials('t1', 'c1', creds);
    const r = (await store.getSecret('t1', 'c1'))!;
    for (const length of [4, 8, 12, 15]) {
      await store.putSecret({ ...r, tag: Buffer.from(r.tag, 'base64').subarray(0, length).toString('base64') });
      await expect(vault.getCredentials('t1', 'c1')).rejects.toMatchObject({ code: 'INTERNAL' });
    }
  });

  it('refuses a data key whose GCM tag was truncated', async () => {
    const store = createMemoryVaultStore();
    const mk = generateMasterKey();
    await createVault({ store, masterKey: mk }).putCredentials('t1', 'c1', creds);
    const dk = (await store.getDataKey('t1'))!;
    await store.putDataKey({ ...dk, tag: Buffer.from(dk.tag, 'base64').subarray(0, 12).toString('base64') });
    await expect(createVault({ store, masterKey: mk }).getCredentials('t1', 'c1')).rejects.toMatchObject({ code: 'INTERNAL' });
  });

  it('refuses a tampered iv or tag byte and a secret copied to another tenant row', async () => {
    const store = createMemoryVaultStore();
    const vault = createVault({ store, masterKey: generateMasterKey() });
    await vault.putCredentials('t1', 'c1', creds);
    await vault.putCredentials('t2', 'c9', { accessToken: 'other' });
    const r = (await store.getSecret('t1', 'c1'))!;
    const flip = (b64: string) => {
      const b = Buffer.from(b64, 'base64');
      b[b.length - 1]! ^= 0x80;
      return b.toString('base64');
    };
    await store.putSecret({ ...r, iv: flip(r.iv) });
    await expect(vault.getCredentials('t1', 'c1')).rejects.toMatchObject({ code: 'INTERNAL' });
    await store.putSecret({ ...r, tag: flip(r.tag) });
    await expect(vault.getCredentials('t1', 'c1')).rejects.toMatchObject({ code: 'INTERNAL' });
    await store.putSecret({ ...r, iv: '' });
    await expect(vault.getCredentials('t1', 'c1')).rejects.toMatchObject({ code: 'INTERNAL' });
    // Both tenants have a v1 data key; the other tenant's key and AAD refuse the copy.
    await store.putSecret({ ...r, tenant: 't2', connectionId: 'c9' });
    await expect(vault.getCredentials('t2', 'c9')).rejects.toMatchObject({ code: 'INTERNAL' });
  });

  it('reads every secret when a rotation stopped half-way, finishes the rotation from a process already on the new key', async () => {
    const store = createMemoryVaultStore();
    const oldKey = generateMasterKey();
    const newKey = generateMasterKey();
    const before = createVault({ store, masterKey: oldKey });
    for (let i = 0; i < 6; i++) await before.putCredentials(`t${i}`, 'c', { token: `tok-${i}` });
    // Interrupt the rotation after three records: the store fails the fourth write.
    let writes = 0;
    const flaky = { ...store, putDataKey: async (...args: Parameters<typeof store.putDataKey>) => {
      if (++writes > 3) throw new Error('connection lost');
      return store.putDataKey(...args);
    } };
    await expect(rotateVaultKeys({ store: flaky, oldKey, newKey })).rejects.toThrow('connection lost');
    const ids = (await store.listDataKeys()).map((k) => k.masterKeyId);
    expect(ids.filter((id) => id === newKey.id)).toHaveLength(3);
    expect(ids.filter((id) => id === oldKey.id)).toHaveLength(3);

    // The deployment step of the runbook: new key current, old key still accepted.
    const both = createVault({ store, masterKey: newKey, previousMasterKeys: [oldKey] });
    for (let i = 0; i < 6; i++) expect(await both.getCredentials(`t${i}`, 'c')).toEqual({ token: `tok-${i}` });
    await both.putCredentials('t-new', 'c', { token: 'tok-new' });
    expect((await store.getDataKey('t-new'))!.masterKeyId).toBe(newKey.id);

    // Rotating to the key the process already uses must still re-wrap what the old key wraps.
    const report = await both.rotateKeys(newKey);
    expect(report).toEqual({ rewrapped: 3, alreadyCurrent: 4, unknown: [] });
    expect((await store.listDataKeys()).every((k) => k.masterKeyId === newKey.id)).toBe(true);
    const onlyNew = createVault({ store, masterKey: newKey });
    for (let i = 0; i < 6; i++) expect(await onlyNew.getCredentials(`t${i}`, 'c')).toEqual({ token: `tok-${i}` });
  });

  it('starts using a tenant data key version added by another process once the cache entry expires', async () => {
    const clock = createFakeClock();
    const store = createMemoryVaultStore();
    const mk = generateMasterKey();
    const vault = createVault({ store, masterKey: mk, clock, cacheTtlMs: 60_000 });
    await vault.putCredentials('t1', 'c1', creds);
    expect((await store.getSecret('t1', 'c1'))!.keyVersion).toBe(1);
    // Another process adds data key v2 (the old one is being retired).
    const sealed = seal(mk.key, Buffer.alloc(32, 7), `bos:data-key:v1\u0000t1\u00002`);
    await store.putDataKey({ tenant: 't1', version: 2, masterKeyId: mk.id, iv: sealed.iv, tag: sealed.tag, wrappedKey: sealed.ciphertext, createdAt: clock.now() });
    clock.advance(60_001);
    await vault.putCredentials('t1', 'c1', creds);
    expect((await store.getSecret('t1', 'c1'))!.keyVersion).toBe(2);
    expect(await createVault({ store, masterKey: mk }).getCredentials('t1', 'c1')).toEqual(creds);
  });

  it('stops serving a data key from the cache once it expires and the store no longer has it', async () => {
    const clock = createFakeClock();
    const store = createMemoryVaultStore();
    const vault = createVault({ store, masterKey: generateMasterKey(), clock, cacheTtlMs: 60_000 });
    await vault.putCredentials('t1', 'c1', creds);
    const dk = (await store.getDataKey('t1'))!;
    // Revoke: the data key record is replaced by one that no longer authenticates.
    await store.putDataKey({ ...dk, wrappedKey: Buffer.alloc(32).toString('base64') });
    expect(await vault.getCredentials('t1', 'c1')).toEqual(creds); // cached within the TTL
    clock.advance(60_001);
    await expect(vault.getCredentials('t1', 'c1')).rejects.toMatchObject({ code: 'INTERNAL' });
  });
});
