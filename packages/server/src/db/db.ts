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

const PREPARED = new Map<string, string>();
const PREPARED_TEXTS = new Map<string, string>();

/**
 * Marks a hot parameterised statement to be prepared once per connection on PostgreSQL (a named statement: the
 * server parses and plans it once instead of at every call; PGlite runs it as it is). Returns the text unchanged,
 * to be passed to `query` as usual. Only for statements whose best plan does not depend on the parameters' values
 * (inserts, lookups by key): after five runs PostgreSQL may switch a prepared statement to one generic plan.
 * @example const FIND_SQL = preparedStatement('find-connection', 'SELECT * FROM connectors.connections WHERE id = $1');
 */
export function preparedStatement(name: string, text: string): string {
  const known = PREPARED.get(text);
  if (known !== undefined && known !== name) throw new Error(`The statement named ${name} is already prepared as ${known}`);
  const other = PREPARED_TEXTS.get(name);
  if (other !== undefined && other !== text) throw new Error(`The name ${name} is already taken by another prepared statement; give each statement its own name`);
  PREPARED.set(text, name);
  PREPARED_TEXTS.set(name, text);
  return text;
}

/** The name a statement was prepared under with {@link preparedStatement}, if any. */
export function preparedNameOf(text: string): string | undefined {
  return PREPARED.get(text);
}

/** The role request transactions switch to; created by the first migration. */
export const APP_ROLE = 'bos_app';

/** Statement that switches a transaction to the app role and its tenant, in one round trip. */
export const ENTER_TENANT_SQL = preparedStatement('enter-tenant', `SELECT set_config('role', '${APP_ROLE}', true), set_config('bos.tenant_id', $1, true)`);
