import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from './db.ts';
import { testEngines } from './engines.ts';
import type { TestDb } from './test-db.ts';

// Row-level security is the last line of defence: these queries deliberately forget their tenant filter.
for (const engine of testEngines(process.env)) {
  const suite = engine.create ? describe : describe.skip;
  suite(`row-level security on ${engine.name}${engine.skipReason ? ` (skipped: ${engine.skipReason})` : ''}`, () => {
    let store: TestDb;
    let db: Db;
    let tenantA: string;
    let tenantB: string;
    let installA: string;
    let installB: string;

    beforeAll(async () => {
      store = await engine.create!();
      db = store.db;
      await db.transaction(async (tx) => {
        const tenants = await tx.query<{ id: string }>("INSERT INTO connectors.tenants (name) VALUES ('A'), ('B') RETURNING id");
        tenantA = tenants.rows[0]!.id;
        tenantB = tenants.rows[1]!.id;
        const listings = await tx.query<{ id: string }>(
          `INSERT INTO connectors.marketplace (tenant_id, name, display_name, npm_package, approved)
           VALUES (NULL, 'global-one', 'Global', 'g', true), ($1, 'private-a', 'Private A', 'pa', true), ($2, 'private-b', 'Private B', 'pb', true)
           RETURNING id`,
          [tenantA, tenantB],
        );
        const globalId = listings.rows[0]!.id;
        const inst = await tx.query<{ id: string }>(
          'INSERT INTO connectors.installations (tenant_id, connector_id, version) VALUES ($1, $3, $4), ($2, $3, $4) RETURNING id',
          [tenantA, tenantB, globalId, '1.0.0'],
        );
        installA = inst.rows[0]!.id;
        installB = inst.rows[1]!.id;
        await tx.query(
          "INSERT INTO connectors.connections (tenant_id, installation_id, name) VALUES ($1, $2, 'conn-a'), ($3, $4, 'conn-b')",
          [tenantA, installA, tenantB, installB],
        );
        await tx.query(
          "INSERT INTO connectors.usage_records (tenant_id, connector_name, action, status) VALUES ($1, 'global-one', 'x', 'ok'), ($2, 'global-one', 'x', 'ok')",
          [tenantA, tenantB],
        );
        await tx.query(
          `INSERT INTO connectors.api_keys (tenant_id, name, prefix, key_hash, roles)
           VALUES ($1, 'a', 'bos_a', repeat('a', 64), '{tenant_admin}'), ($2, 'b', 'bos_b', repeat('b', 64), '{tenant_admin}')`,
          [tenantA, tenantB],
        );
        await tx.query("INSERT INTO connectors.audit_log (tenant_id, actor, action) VALUES ($1, 'test', 'a.did'), ($2, 'test', 'b.did')", [tenantA, tenantB]);
      });
    });

    afterAll(async () => {
      await store?.dispose();
    });

    it('runs tenant transactions as bos_app, which does not bypass RLS', async () => {
      const { rows } = await db.withTenant(tenantA, (tx) =>
        tx.query<{ role: string; bypass: boolean; superuser: boolean }>(
          'SELECT current_user AS role, r.rolbypassrls AS bypass, r.rolsuper AS superuser FROM pg_roles r WHERE r.rolname = current_user',
        ),
      );
      expect(rows[0]).toEqual({ role: 'bos_app', bypass: false, superuser: false });
    });

    it('shows a tenant global listings and its own private ones, never another tenant\'s', async () => {
      const names = await db.withTenant(tenantA, (tx) => tx.query<{ name: string }>('SELECT name FROM connectors.marketplace ORDER BY name'));
      expect(names.rows.map((r) => r.name)).toEqual(['global-one', 'private-a']);
      const anonymous = await db.withTenant(null, (tx) => tx.query<{ name: string }>('SELECT name FROM connectors.marketplace'));
      expect(anonymous.rows.map((r) => r.name)).toEqual(['global-one']);
    });

    it.each(['connections', 'installations', 'usage_records', 'api_keys', 'audit_log'])('hides other tenants\' %s from an unfiltered query', async (table) => {
      const { rows } = await db.withTenant(tenantA, (tx) => tx.query<{ tenant_id: string }>(`SELECT tenant_id FROM connectors.${table}`));
      expect(rows.length).toBe(1);
      expect(rows.every((r) => r.tenant_id === tenantA)).toBe(true);
      const anonymous = await db.withTenant(null, (tx) => tx.query(`SELECT 1 FROM connectors.${table}`));
      expect(anonymous.rows).toEqual([]);
    });

    it('lets a tenant see only its own tenant row', async () => {
      const { rows } = await db.withTenant(tenantB, (tx) => tx.query<{ id: string }>('SELECT id FROM connectors.tenants'));
      expect(rows).toEqual([{ id: tenantB }]);
    });

    it('limits an unfiltered UPDATE to the tenant\'s own rows', async () => {
      const updated = await db.withTenant(tenantA, (tx) => tx.query("UPDATE connectors.connections SET name = 'renamed'"));
      expect(updated.rowCount).toBe(1);
      const { rows } = await db.query<{ name: string }>('SELECT name FROM connectors.connections WHERE tenant_id = $1', [tenantB]);
      expect(rows).toEqual([{ name: 'conn-b' }]);
    });

    it('refuses to write a row for another tenant', async () => {
      await expect(
        db.withTenant(tenantA, (tx) =>
          tx.query("INSERT INTO connectors.connections (tenant_id, installation_id, name) VALUES ($1, $2, 'sneaky')", [tenantB, installB]),
        ),
      ).rejects.toThrow(/row-level security/);
    });

    it('refuses to change a global listing from a tenant transaction', async () => {
      const result = await db.withTenant(tenantA, (tx) => tx.query("UPDATE connectors.marketplace SET description = 'hacked' WHERE name = 'global-one'"));
      expect(result.rowCount).toBe(0);
    });

    it('keeps the audit log append-only, even for the owner', async () => {
      await expect(db.query('UPDATE connectors.audit_log SET actor = $1', ['someone'])).rejects.toThrow(/append-only/);
      await expect(db.query('DELETE FROM connectors.audit_log')).rejects.toThrow(/append-only/);
      await expect(db.query('TRUNCATE connectors.audit_log')).rejects.toThrow(/append-only/);
    });

    it('resets the tenant after each transaction', async () => {
      await db.withTenant(tenantA, (tx) => tx.query('SELECT 1'));
      const { rows } = await db.query<{ tenant: string | null; role: string }>("SELECT connectors.current_tenant() AS tenant, current_user AS role");
      expect(rows[0]!.tenant).toBeNull();
      expect(rows[0]!.role).not.toBe('bos_app');
    });
  });
}
