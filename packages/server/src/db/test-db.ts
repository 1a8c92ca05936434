import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Db } from './db.ts';
import { migrate } from './migrate.ts';
import { createPgDb } from './pg.ts';
import { createPgliteDb } from './pglite.ts';

/** A migrated store for one test file, and how to throw it away. */
export interface TestDb {
  db: Db;
  /** Connection string of the throw-away database (PostgreSQL only). */
  url?: string;
  /** Closes the store and, on PostgreSQL, drops its throw-away database. */
  dispose(): Promise<void>;
}

/** An in-memory PGlite store with every migration applied. */
export async function createTestPglite(): Promise<TestDb> {
  const db = await createPgliteDb();
  await migrate(db);
  return { db, dispose: () => db.close() };
}

/**
 * A fresh database `bos_test_<random>` on the server of `adminUrl`, migrated; dropped on dispose, so parallel
 * runs never collide.
 */
export async function createTestPostgres(adminUrl: string): Promise<TestDb> {
  const name = `bos_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db = createPgDb(url.toString(), { max: 4 });
  await migrate(db);
  return {
    db,
    url: url.toString(),
    async dispose() {
      await db.close();
      const dropper = new pg.Client({ connectionString: adminUrl });
      await dropper.connect();
      try {
        await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await dropper.end();
      }
    },
  };
}

/** Whether integration suites must fail rather than skip when a service is missing (CI sets it). */
export function servicesRequired(env: Record<string, string | undefined>): boolean {
  return env.BOS_REQUIRE_SERVICES === '1';
}
