import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngines } from './engines.ts';
import { migrate, migrationsApplied, readMigrations } from './migrate.ts';
import type { TestDb } from './test-db.ts';

describe('readMigrations', () => {
  it('reads the shipped migrations in order', () => {
    const migrations = readMigrations();
    expect(migrations.length).toBeGreaterThan(0);
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1));
  });

  it('rejects a gap in numbering', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bos-migrations-'));
    writeFileSync(path.join(dir, '001_a.sql'), 'SELECT 1;');
    writeFileSync(path.join(dir, '003_c.sql'), 'SELECT 1;');
    expect(() => readMigrations(dir)).toThrow(/003_c\.sql is out of sequence: expected version 2/);
  });

  it('rejects a badly named file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bos-migrations-'));
    writeFileSync(path.join(dir, 'init.sql'), 'SELECT 1;');
    expect(() => readMigrations(dir)).toThrow(/NNN_snake_name\.sql/);
  });
});

for (const engine of testEngines(process.env)) {
  const suite = engine.create ? describe : describe.skip;
  suite(`migrate on ${engine.name}${engine.skipReason ? ` (skipped: ${engine.skipReason})` : ''}`, () => {
    let store: TestDb;
    beforeAll(async () => {
      store = await engine.create!();
    });
    afterAll(async () => {
      await store?.dispose();
    });

    it('is idempotent and reports readiness', async () => {
      expect(await migrate(store.db)).toEqual([]);
      expect(await migrationsApplied(store.db)).toBe(true);
    });

    it('applies each migration exactly once when several processes start together', async () => {
      const extra = [...readMigrations(), { version: 99, name: 'probe', file: '099_probe.sql', sql: 'CREATE TABLE connectors.concurrency_probe (id int);', checksum: 'x' }];
      const results = await Promise.all([migrate(store.db, extra), migrate(store.db, extra), migrate(store.db, extra)]);
      expect(results.flat()).toEqual([99]);
    });

    it('refuses to run when an applied migration was edited', async () => {
      const edited = readMigrations().map((m, i) => (i === 0 ? { ...m, checksum: 'edited' } : m));
      await expect(migrate(store.db, edited)).rejects.toThrow(/was changed after it was applied/);
    });
  });
}
