import { mkdirSync } from 'node:fs';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import type { Db, Queryable, QueryResult } from './db.ts';
import { ENTER_TENANT_SQL } from './db.ts';

function wrap(target: PGlite | Transaction): Queryable {
  return {
    async query<R>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
      const result = await target.query<R>(sql, params as unknown[]);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
    async exec(sql: string): Promise<void> {
      await target.exec(sql);
    },
  };
}

/**
 * Opens the embedded PostgreSQL (PGlite, with pg_trgm). `dataDir` persists it on disk; omit it for an
 * in-memory store (tests). PGlite has one connection: transactions run one after another.
 */
export async function createPgliteDb(dataDir?: string): Promise<Db> {
  if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true });
  const pglite = await PGlite.create({ ...(dataDir === undefined ? {} : { dataDir }), extensions: { pg_trgm } });
  const direct = wrap(pglite);

  async function inTransaction<T>(fn: (tx: Queryable) => Promise<T>, tenantId?: string | null): Promise<T> {
    return pglite.transaction(async (tx) => {
      if (tenantId !== undefined) await tx.query(ENTER_TENANT_SQL, [tenantId ?? '']);
      return fn(wrap(tx));
    });
  }

  return {
    engine: 'pglite',
    query: (sql, params) => direct.query(sql, params),
    exec: (sql) => direct.exec(sql),
    transaction: (fn) => inTransaction(fn),
    withTenant: (tenantId, fn) => inTransaction(fn, tenantId),
    close: () => pglite.close(),
  };
}
