// `ctx.store` in the database, on PGlite and on PostgreSQL: what a connector keeps there survives a new store (and,
// on PostgreSQL, another pool, as another process would have), stays with its tenant, keeps within the per-connection
// limits even under concurrent writes, refuses what jsonb cannot hold, and goes with its connection. End to end, a
// counter kept by a connector action counts on across two separately built service runtimes.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSandboxPool, createVault, sha256Hex, type SandboxPool } from '@businessos/connector-runtime';
import { defineAction, defineConnector, NoAuth } from '@businessos/connector-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import type { Db } from '../db/db.ts';
import { testEngines } from '../db/engines.ts';
import { createPgDb } from '../db/pg.ts';
import type { TestDb } from '../db/test-db.ts';
import { seedBundledConnectors } from '../marketplace/seed.ts';
import { createPgVaultStore } from '../vault/pg-vault-store.ts';
import { createDbConnectionState } from './connection-state.ts';
import { createServiceRuntime } from './service-runtime.ts';

const COUNTER = defineConnector({
  name: 'store-counter',
  version: '1.0.0',
  baseUrl: 'https://api.example.com',
  auth: new NoAuth(),
  actions: [
    defineAction({
      name: 'increment',
      description: 'Adds one to the counter the connection keeps in ctx.store',
      async execute(_params, ctx) {
        const count = ((await ctx.store.get<number>('count')) ?? 0) + 1;
        await ctx.store.set('count', count);
        return { count };
      },
    }),
  ],
});

// What the sandbox runs: the action above as a hand-written bundle (the guest's `env.store` is `ctx.store`), so the
// test needs no build step.
const COUNTER_BUNDLE = `
export default {
  async executeAction(name, params, env) {
    const count = ((await env.store.get('count')) ?? 0) + 1;
    await env.store.set('count', count);
    return { count };
  },
};`;

/** A tenant with one connection (of an installation of a throw-away global listing); returns their ids. */
async function connectionOf(db: Db, connector = `kv-${randomBytes(4).toString('hex')}`): Promise<{ tenantId: string; connectionId: string }> {
  const tenantId = (await db.query<{ id: string }>("INSERT INTO connectors.tenants (name) VALUES ('kv') RETURNING id")).rows[0]!.id;
  let listing = (await db.query<{ id: string }>('SELECT id FROM connectors.marketplace WHERE name = $1 AND tenant_id IS NULL', [connector])).rows[0];
  listing ??= (await db.query<{ id: string }>("INSERT INTO connectors.marketplace (name, npm_package, display_name) VALUES ($1, $1, $1) RETURNING id", [connector])).rows[0]!;
  const installation = (await db.query<{ id: string }>("INSERT INTO connectors.installations (tenant_id, connector_id, version) VALUES ($1, $2, '1.0.0') RETURNING id", [tenantId, listing.id])).rows[0]!;
  const connectionId = (await db.query<{ id: string }>("INSERT INTO connectors.connections (tenant_id, installation_id, name) VALUES ($1, $2, 'kv') RETURNING id", [tenantId, installation.id])).rows[0]!.id;
  return { tenantId, connectionId };
}

/** The rows of a connection's store, read as the owner (past row-level security). */
async function rowsOf(db: Db, connectionId: string): Promise<{ tenant_id: string; key: string }[]> {
  return (await db.query<{ tenant_id: string; key: string }>('SELECT tenant_id, key FROM connectors.connection_state WHERE connection_id = $1 ORDER BY key', [connectionId])).rows;
}

for (const engine of testEngines(process.env)) {
  const suite = engine.create ? describe : describe.skip;
  suite(`connection state (ctx.store) on ${engine.name}${engine.skipReason ? ` (skipped: ${engine.skipReason})` : ''}`, () => {
    let store: TestDb;
    beforeAll(async () => {
      store = await engine.create!();
    }, 60_000);
    afterAll(async () => {
      await store?.dispose();
    });

    it('keeps JSON values for a new store instance (and, on PostgreSQL, another pool), until deleted', async () => {
      const { tenantId, connectionId } = await connectionOf(store.db);
      const first = createDbConnectionState(store.db)(tenantId, connectionId);
      const value = { cursor: 'c_42', seen: ['a', 'b'], n: 1.5, ok: true, none: null, emoji: '🙂', nested: { deep: [1, { x: 'y' }] } };
      await first.set('cursor', value);
      await first.set('plain', 'text');
      await first.set('nothing', null);
      await first.set('plain', 7);

      const again = createDbConnectionState(store.db)(tenantId, connectionId);
      expect(await again.get('cursor')).toEqual(value);
      expect(await again.get('plain')).toBe(7);
      expect(await again.get('nothing')).toBeNull();
      expect(await again.get('absent')).toBeUndefined();
      if (store.url) {
        const other = createPgDb(store.url, { max: 1 });
        try {
          expect(await createDbConnectionState(other)(tenantId, connectionId).get('cursor')).toEqual(value);
        } finally {
          await other.close();
        }
      }
      await again.delete('cursor');
      await again.delete('never-set');
      expect(await first.get('cursor')).toBeUndefined();
      expect((await rowsOf(store.db, connectionId)).map((r) => r.key)).toEqual(['nothing', 'plain']);
    });

    it("keeps tenants apart: another tenant's connection id reads nothing, cannot write and cannot delete", async () => {
      const a = await connectionOf(store.db);
      const b = await connectionOf(store.db);
      const states = createDbConnectionState(store.db);
      await states(a.tenantId, a.connectionId).set('secret', { token: 'a-only' });

      const intruder = states(b.tenantId, a.connectionId);
      expect(await intruder.get('secret')).toBeUndefined();
      await expect(intruder.set('secret', 'overwritten')).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining(a.connectionId) });
      await expect(intruder.set('planted', 1)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await intruder.delete('secret');
      expect(await rowsOf(store.db, a.connectionId)).toEqual([{ tenant_id: a.tenantId, key: 'secret' }]);
      expect(await states(a.tenantId, a.connectionId).get('secret')).toEqual({ token: 'a-only' });

      // Row-level security holds even for a query without the tenant filter.
      const leaked = await store.db.withTenant(b.tenantId, (tx) => tx.query('SELECT key FROM connectors.connection_state'));
      expect(leaked.rows).toEqual([]);
      const anonymous = await store.db.withTenant(null, (tx) => tx.query('SELECT key FROM connectors.connection_state'));
      expect(anonymous.rows).toEqual([]);
      await expect(store.db.withTenant(b.tenantId, (tx) => tx.query("INSERT INTO connectors.connection_state (tenant_id, connection_id, key, value, bytes) VALUES ($1, $2, 'k', '1', 2)", [a.tenantId, a.connectionId])))
        .rejects.toThrow(/row-level security/);
      // Ids that are not uuids name nothing.
      expect(await states('not-a-tenant', a.connectionId).get('secret')).toBeUndefined();
      await expect(states(a.tenantId, 'not-a-connection').set('k', 1)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('refuses, with PAYLOAD_TOO_LARGE and changing nothing, writes past the key count or the byte total', async () => {
      const { tenantId, connectionId } = await connectionOf(store.db);
      const kv = createDbConnectionState(store.db, { maxKeys: 3, maxBytes: 60 })(tenantId, connectionId);
      await kv.set('a', 1);
      await kv.set('b', 2);
      await kv.set('c', 3);
      await expect(kv.set('d', 4)).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringMatching(/already holds 3 keys.*"d"/) });
      // Overwriting a key at the limit is fine; so is adding one after a delete.
      await kv.set('c', 'three');
      await kv.delete('a');
      await kv.set('d', 4);
      // Sizes are UTF-8 bytes of key and JSON value: b=2 (2), c="three" (8), d=4 (2) = 12; 49 more would be 61.
      const roomy = createDbConnectionState(store.db, { maxKeys: 10, maxBytes: 60 })(tenantId, connectionId);
      await expect(roomy.set('e', 'x'.repeat(46))).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringMatching(/"e" would bring the connection's store to 61 bytes, over its 60-byte limit/) });
      // Overwriting counts the new size in place of the old: b and d (4) plus c (1 + 56) would be 61.
      await expect(roomy.set('c', 'x'.repeat(54))).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('61 bytes') });
      expect(await kv.get('c')).toBe('three');
      await roomy.set('c', 'x'.repeat(53));
      expect(await kv.get('c')).toBe('x'.repeat(53));
      expect(await kv.get('e')).toBeUndefined();
      expect((await rowsOf(store.db, connectionId)).map((r) => r.key)).toEqual(['b', 'c', 'd']);
    });

    it('holds the default limits of the built-in store: 1000 keys and 4 MiB per connection', async () => {
      const { tenantId, connectionId } = await connectionOf(store.db);
      await store.db.query(
        "INSERT INTO connectors.connection_state (tenant_id, connection_id, key, value, bytes) SELECT $1, $2, 'k' || i, '0', 1 + length(i::text) + 1 FROM generate_series(1, 999) i",
        [tenantId, connectionId],
      );
      const kv = createDbConnectionState(store.db)(tenantId, connectionId);
      await kv.set('k1000', 0);
      await expect(kv.set('k1001', 0)).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('1000 keys') });

      const big = await connectionOf(store.db);
      const bigKv = createDbConnectionState(store.db)(big.tenantId, big.connectionId);
      // Sixteen entries of 256 KiB each (a 3-byte key, 2 quotes and 262,139 characters) fill the 4 MiB exactly.
      const filler = 'x'.repeat(256 * 1024 - 5);
      for (let i = 0; i < 16; i++) await bigKv.set(`p${i.toString().padStart(2, '0')}`, filler);
      await expect(bigKv.set('more', 1)).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('to 4194309 bytes, over its 4194304-byte limit') });
    });

    it('lets no two concurrent writes slip past the key limit together', async () => {
      const { tenantId, connectionId } = await connectionOf(store.db);
      const states = createDbConnectionState(store.db, { maxKeys: 5 });
      // Separate store objects, as separate executions (or processes) would have.
      const outcomes = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => states(tenantId, connectionId).set(`k${i}`, i)));
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(5);
      for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
      expect(await rowsOf(store.db, connectionId)).toHaveLength(5);
    });

    // PGlite runs one transaction at a time, so only PostgreSQL can have two in progress.
    it.skipIf(engine.name !== 'postgres')('makes a write wait for one in progress on the same connection, then counts what that one added', async () => {
      const { tenantId, connectionId } = await connectionOf(store.db);
      const states = createDbConnectionState(store.db, { maxKeys: 5 });
      for (let i = 1; i <= 4; i++) await states(tenantId, connectionId).set(`k${i}`, i);
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let entered!: () => void;
      const inProgress = new Promise<void>((resolve) => (entered = resolve));
      // Another writer of the fifth key, between its check and its commit (as a set in another process would be).
      const other = store.db.withTenant(tenantId, async (tx) => {
        await tx.query('SELECT 1 FROM connectors.connections WHERE id = $1 FOR NO KEY UPDATE', [connectionId]);
        await tx.query("INSERT INTO connectors.connection_state (tenant_id, connection_id, key, value, bytes) VALUES ($1, $2, 'k5', '5', 3)", [tenantId, connectionId]);
        entered();
        await released;
      });
      await inProgress;
      let settled = false;
      const sixth = states(tenantId, connectionId).set('k6', 6).finally(() => (settled = true));
      sixth.catch(() => undefined);
      // Until the sixth write either finished (it did not wait) or waits for the other's lock.
      for (let i = 0; i < 400 && !settled; i++) {
        const { rows } = await store.db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
        if (rows[0]!.n > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      release();
      await other;
      await expect(sixth).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('already holds 5 keys') });
      expect((await rowsOf(store.db, connectionId)).map((r) => r.key)).toEqual(['k1', 'k2', 'k3', 'k4', 'k5']);
    });

    it('refuses with INVALID_INPUT, saying where, values and keys jsonb cannot hold, storing nothing', async () => {
      const { tenantId, connectionId } = await connectionOf(store.db);
      const kv = createDbConnectionState(store.db)(tenantId, connectionId);
      await expect(kv.set('nul', { text: 'a\u0000b' })).rejects.toMatchObject({ code: 'INVALID_INPUT', path: '/value/text', message: expect.stringMatching(/"nul" cannot be stored: .*NUL/) });
      await expect(kv.set('half', ['ok', 'cut \ud83d'])).rejects.toMatchObject({ code: 'INVALID_INPUT', path: '/value/1', message: expect.stringContaining('surrogate') });
      await expect(kv.set('bad-key', { 'a\u0000': 1 })).rejects.toMatchObject({ code: 'INVALID_INPUT', path: '/value/a\uFFFD' });
      await expect(kv.set('big', 10n)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('not JSON') });
      await expect(kv.set('k\u0000', 1)).rejects.toMatchObject({ code: 'INVALID_INPUT', path: '/key', message: expect.not.stringContaining('\u0000') });
      await expect(kv.get('k\ud800')).rejects.toMatchObject({ code: 'INVALID_INPUT', path: '/key' });
      await expect(kv.delete('k\u0000')).rejects.toMatchObject({ code: 'INVALID_INPUT', path: '/key' });
      expect(await rowsOf(store.db, connectionId)).toEqual([]);
      // A whole emoji is fine, in keys and values.
      await kv.set('🙂', '🙂');
      expect(await kv.get('🙂')).toBe('🙂');
    });

    it('removes the state with its connection (and its tenant), after which writes are refused', async () => {
      const { tenantId, connectionId } = await connectionOf(store.db);
      const kv = createDbConnectionState(store.db)(tenantId, connectionId);
      await kv.set('cursor', 'c_1');
      await store.db.withTenant(tenantId, (tx) => tx.query('DELETE FROM connectors.connections WHERE id = $1', [connectionId]));
      expect(await rowsOf(store.db, connectionId)).toEqual([]);
      expect(await kv.get('cursor')).toBeUndefined();
      await expect(kv.set('cursor', 'c_2')).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('deleted') });

      const other = await connectionOf(store.db);
      await createDbConnectionState(store.db)(other.tenantId, other.connectionId).set('cursor', 'c_1');
      await store.db.query('DELETE FROM connectors.tenants WHERE id = $1', [other.tenantId]);
      expect(await rowsOf(store.db, other.connectionId)).toEqual([]);
    });

    describe('through the service runtime', () => {
      let sandbox: SandboxPool;
      beforeAll(async () => {
        sandbox = createSandboxPool({ workers: 1 });
        const seeded = await seedBundledConnectors(store.db, [
          { packageName: 'store-counter', load: async () => ({ default: COUNTER }), build: async () => ({ code: COUNTER_BUNDLE, sha256: sha256Hex(COUNTER_BUNDLE) }) },
        ]);
        expect(seeded).toMatchObject([{ status: 'added' }]);
      });
      afterAll(async () => {
        await sandbox?.close();
      });

      it('a counter a connector keeps in ctx.store counts on in a second, separately built runtime', async () => {
        const { tenantId, connectionId } = await connectionOf(store.db, 'store-counter');
        const config = loadConfig({ BOS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'bos-state-')) });
        const vault = createVault({ store: createPgVaultStore(store.db), masterKey: randomBytes(32) });
        const increment = async () => {
          // A runtime as a restarted (or another) service process builds it.
          const rt = createServiceRuntime({ db: store.db, vault, config, sandbox });
          try {
            const run = { tenant: tenantId, connector: 'store-counter', version: '1.0.0', action: 'increment', connection: { id: connectionId } };
            return (await rt.asTenant(tenantId, () => rt.runtime.execute<{ count: number }>(run))).data.count;
          } finally {
            await rt.close();
          }
        };
        expect(await increment()).toBe(1);
        expect(await increment()).toBe(2);
        expect(await createDbConnectionState(store.db)(tenantId, connectionId).get('count')).toBe(2);
      });
    });
  });
}
