import pg from 'pg';
import type { Db, Queryable, QueryResult } from './db.ts';
import { ENTER_TENANT_SQL, preparedNameOf } from './db.ts';

const ENTER_TENANT_NAME = preparedNameOf(ENTER_TENANT_SQL);

function wrap(client: pg.ClientBase | pg.Pool): Queryable {
  return {
    async query<R>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
      // A statement marked with preparedStatement goes as a named one: each connection prepares it once.
      const name = preparedNameOf(sql);
      const result = name === undefined ? await client.query(sql, params as unknown[]) : await client.query({ name, text: sql, values: params as unknown[] });
      return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
    },
    async exec(sql: string): Promise<void> {
      await client.query(sql);
    },
  };
}

/**
 * Opens a `pg` pool on `connectionString`. The connecting user owns the schema (runs migrations) and must be a
 * superuser or have BYPASSRLS; request transactions switch to `bos_app`.
 */
export function createPgDb(connectionString: string, options: { max?: number } = {}): Db {
  const pool = new pg.Pool({ connectionString, max: options.max ?? 10 });
  // An idle client that loses its connection emits here; without a listener the process would crash.
  pool.on('error', () => {});
  const pooled = wrap(pool);

  async function inTransaction<T>(fn: (tx: Queryable) => Promise<T>, tenantId?: string | null): Promise<T> {
    const client = await pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      if (tenantId !== undefined) await client.query({ name: ENTER_TENANT_NAME, text: ENTER_TENANT_SQL, values: [tenantId ?? ''] });
      const result = await fn(wrap(client));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }

  return {
    engine: 'postgres',
    query: (sql, params) => pooled.query(sql, params),
    exec: (sql) => pooled.exec(sql),
    transaction: (fn) => inTransaction(fn),
    withTenant: (tenantId, fn) => inTransaction(fn, tenantId),
    close: () => pool.end(),
  };
}
