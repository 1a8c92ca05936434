import type { PollState, PollStateStore } from '@businessos/connector-triggers';
import type { Db } from '../db/db.ts';

/** Options of {@link createPgPollStateStore}. */
export interface PgPollStateStoreOptions {
  db: Db;
  /**
   * The tenant a subscription belongs to, or undefined when it does not exist (any more). Every read and write of a
   * state runs under that tenant's row-level security.
   */
  tenantOf(subscriptionId: string): Promise<string | undefined>;
}

/**
 * {@link PollStateStore} in `connectors.poll_states`: one JSON row per subscription, written in its own committed
 * transaction (so `save` is durable when it resolves), tenant-scoped by RLS. A state saved for a subscription
 * that was deleted meanwhile is dropped (nothing to poll any more), not an error.
 * @example const store = createPgPollStateStore({ db, tenantOf: async (id) => subscriptions.get(id)?.tenantId });
 */
export function createPgPollStateStore(options: PgPollStateStoreOptions): PollStateStore {
  const { db } = options;
  return {
    async load(subscriptionId) {
      const tenantId = await options.tenantOf(subscriptionId);
      if (!tenantId) return undefined;
      const { rows } = await db.withTenant(tenantId, (tx) =>
        tx.query<{ state: PollState }>('SELECT state FROM connectors.poll_states WHERE subscription_id = $1', [subscriptionId]),
      );
      return rows[0]?.state;
    },
    async save(subscriptionId, state) {
      const tenantId = await options.tenantOf(subscriptionId);
      if (!tenantId) return;
      await db.withTenant(tenantId, (tx) =>
        tx.query(
          `INSERT INTO connectors.poll_states (subscription_id, tenant_id, state, updated_at)
           SELECT s.id, s.tenant_id, $2::jsonb, now() FROM connectors.trigger_subscriptions s WHERE s.id = $1
           ON CONFLICT (subscription_id) DO UPDATE SET state = EXCLUDED.state, updated_at = now()`,
          [subscriptionId, JSON.stringify(state)],
        ),
      );
    },
    async delete(subscriptionId) {
      const tenantId = await options.tenantOf(subscriptionId);
      if (!tenantId) return;
      await db.withTenant(tenantId, (tx) => tx.query('DELETE FROM connectors.poll_states WHERE subscription_id = $1', [subscriptionId]));
    },
  };
}
