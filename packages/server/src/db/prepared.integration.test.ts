import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preparedStatement } from './db.ts';
import { testEngines } from './engines.ts';
import type { TestDb } from './test-db.ts';

const COUNT_TENANTS_SQL = preparedStatement('test-count-tenants-by-name', 'SELECT count(*)::int AS n FROM connectors.tenants WHERE name = $1');

for (const engine of testEngines(process.env)) {
  const suite = engine.create ? describe : describe.skip;
  suite(`statements marked with preparedStatement on ${engine.name}${engine.skipReason ? ` (skipped: ${engine.skipReason})` : ''}`, () => {
    let store: TestDb;
    beforeAll(async () => {
      store = await engine.create!();
    });
    afterAll(async () => {
      await store?.dispose();
    });

    it('answer like any statement, as owner and under a tenant', async () => {
      await store.db.query("INSERT INTO connectors.tenants (name) VALUES ('prepared-a'), ('prepared-a')");
      for (let i = 0; i < 7; i += 1) {
        // More runs than PostgreSQL's five custom plans: the generic plan must answer the same.
        expect((await store.db.query<{ n: number }>(COUNT_TENANTS_SQL, ['prepared-a'])).rows).toEqual([{ n: 2 }]);
      }
      expect((await store.db.transaction((tx) => tx.query<{ n: number }>(COUNT_TENANTS_SQL, ['nobody']))).rows).toEqual([{ n: 0 }]);
    });

    if (engine.name === 'postgres') {
      it('are prepared on the connection once, under their name, and so is entering a tenant', async () => {
        const names = await store.db.transaction(async (tx) => {
          await tx.query(COUNT_TENANTS_SQL, ['prepared-a']);
          await tx.query(COUNT_TENANTS_SQL, ['prepared-a']);
          return (await tx.query<{ name: string }>('SELECT name FROM pg_prepared_statements ORDER BY name')).rows.map((r) => r.name);
        });
        expect(names).toContain('test-count-tenants-by-name');
        const inTenant = await store.db.withTenant(null, async (tx) => (await tx.query<{ name: string }>('SELECT name FROM pg_prepared_statements')).rows.map((r) => r.name));
        expect(inTenant).toContain('enter-tenant');
      });
    }

    it('refuses one text under two names, and one name for two texts', () => {
      expect(() => preparedStatement('another-name', 'SELECT count(*)::int AS n FROM connectors.tenants WHERE name = $1')).toThrow(/already prepared as test-count-tenants-by-name/);
      expect(preparedStatement('test-count-tenants-by-name', 'SELECT count(*)::int AS n FROM connectors.tenants WHERE name = $1')).toBe(COUNT_TENANTS_SQL);
      // Nor one name for two texts: node-postgres would refuse the second on any connection that prepared the first.
      expect(() => preparedStatement('test-count-tenants-by-name', 'SELECT 1 WHERE $1::text IS NOT NULL')).toThrow(/already taken by another prepared statement/);
    });
  });
}
