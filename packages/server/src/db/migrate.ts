import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from './db.ts';

/** One versioned SQL file, `NNN_name.sql`. */
export interface Migration {
  version: number;
  name: string;
  /** File name, for messages. */
  file: string;
  sql: string;
  checksum: string;
}

/** The folder holding the service's migrations. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

// Arbitrary constant shared by every process of the service; serialises concurrent start-ups on one database.
const MIGRATION_LOCK_KEY = 4_242_001_337;

/** Reads `NNN_name.sql` files in version order; rejects gaps in numbering and duplicate versions. */
export function readMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  const migrations = files.map((file) => {
    const match = /^(\d{3})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!match) throw new Error(`Migration file ${path.join(dir, file)} must be named NNN_snake_name.sql`);
    const sql = readFileSync(path.join(dir, file), 'utf8');
    return { version: Number(match[1]), name: match[2]!, file, sql, checksum: createHash('sha256').update(sql).digest('hex') };
  });
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`Migration ${path.join(dir, m.file)} is out of sequence: expected version ${i + 1} (numbers must run 001, 002, ... without gaps)`);
  });
  return migrations;
}

/**
 * Applies pending migrations in one transaction under an advisory lock, so several processes starting at once
 * on one database apply each migration exactly once. Fails when an applied migration's file was edited.
 * @returns the versions applied by this call.
 */
export async function migrate(db: Db, migrations: Migration[] = readMigrations()): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.exec(`
      CREATE SCHEMA IF NOT EXISTS connectors;
      CREATE TABLE IF NOT EXISTS connectors.schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      );`);
    const { rows } = await tx.query<{ version: number; name: string; checksum: string }>('SELECT version, name, checksum FROM connectors.schema_migrations');
    const applied = new Map(rows.map((r) => [r.version, r]));
    const done: number[] = [];
    for (const m of migrations) {
      const previous = applied.get(m.version);
      if (previous) {
        if (previous.checksum !== m.checksum) {
          throw new Error(`Migration ${m.version}_${m.name} was changed after it was applied; add a new migration instead of editing it`);
        }
        continue;
      }
      await tx.exec(m.sql);
      await tx.query('INSERT INTO connectors.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
      done.push(m.version);
    }
    return done;
  });
}

/** True when every known migration is recorded as applied (readiness). */
export async function migrationsApplied(db: Db, migrations: Migration[] = readMigrations()): Promise<boolean> {
  const { rows } = await db.query<{ n: number }>(
    "SELECT CASE WHEN to_regclass('connectors.schema_migrations') IS NULL THEN 0 ELSE (SELECT count(*)::int FROM connectors.schema_migrations) END AS n",
  );
  return (rows[0]?.n ?? 0) >= migrations.length;
}
