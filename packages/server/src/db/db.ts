/** A row set as both engines return it. */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

/** Something SQL can be sent to: the store itself or one open transaction. */
export interface Queryable {
  /** Runs one parameterised statement (`$1`, `$2`, ...). */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/**
 * The service's storage: PostgreSQL through `pg`, or embedded PGlite. Both speak the same SQL.
 *
 * Two ways in:
 * - {@link Db.withTenant}: what request handlers use. The transaction runs as the `bos_app` role, which does not
 *   bypass row-level security, with `bos.tenant_id` set, so a query that forgets its tenant filter still sees only
 *   global rows and that tenant's rows.
 * - {@link Db.transaction} / {@link Db.query}: the owner connection, for migrations, bootstrap, seeding and
 *   platform operations that must see across tenants. Keep these few and obvious.
 */
export interface Db extends Queryable {
  readonly engine: 'postgres' | 'pglite';
  /** Runs `fn` in a transaction as the owner; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` in a transaction as `bos_app` with `bos.tenant_id` set to `tenantId` (`null`: anonymous, sees global rows only).
   * @example await db.withTenant(tenantId, (tx) => tx.query('SELECT * FROM connectors.connections'));
   */
  withTenant<T>(tenantId: string | null, fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Closes every connection; pending transactions finish first. */
  close(): Promise<void>;
}

/** The role request transactions switch to; created by the first migration. */
export const APP_ROLE = 'bos_app';

/** Statement that switches a transaction to the app role and its tenant, in one round trip. */
export const ENTER_TENANT_SQL = `SELECT set_config('role', '${APP_ROLE}', true), set_config('bos.tenant_id', $1, true)`;
