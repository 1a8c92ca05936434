import type { Db } from './db.ts';

/**
 * A {@link Db} usable before the store has opened: every call waits for `opening`. Lets the service listen (and
 * answer liveness) while the embedded store initialises, which can take a while on a first start.
 */
export function deferredDb(opening: Promise<Db>, engine: Db['engine']): Db {
  // Avoid an unhandled rejection here: callers see the failure through their own awaits.
  opening.catch(() => {});
  return {
    engine,
    query: async (sql, params) => (await opening).query(sql, params),
    exec: async (sql) => (await opening).exec(sql),
    transaction: async (fn) => (await opening).transaction(fn),
    withTenant: async (tenantId, fn) => (await opening).withTenant(tenantId, fn),
    close: async () => {
      const db = await opening.catch(() => undefined);
      await db?.close();
    },
  };
}
