import { ConnectorError } from '@businessos/connector-sdk';
import type { AppendTarget, OutboxEvent, OutboxEventInput } from '@businessos/connector-triggers';
import type { Db } from '../db/db.ts';
import { markNeedsReauth } from '../installations/connection-status.ts';
import { eventRowsOf, insertEvents } from '../triggers/pg-outbox.ts';

/** A polling subscription as the service runs it: the row plus the connection and pinned version it polls with. */
export interface PollingTarget {
  id: string;
  tenantId: string;
  triggerName: string;
  status: string;
  kind: string;
  /** The subscription's interval override, ms; null: the manifest's interval. */
  intervalMs: number | null;
  connectionId: string;
  connectionFields: Record<string, string>;
  connectionStatus: string;
  connector: string;
  version: string;
}

interface TargetRow {
  id: string;
  tenant_id: string;
  trigger_name: string;
  status: string;
  kind: string;
  poll_interval_ms: number | null;
  connection_id: string;
  fields: Record<string, string>;
  connection_status: string;
  connector: string;
  version: string;
}

/** Loads one subscription of a tenant (RLS) with its connection and the installation's pinned version. */
export async function loadPollingTarget(db: Db, tenantId: string, subscriptionId: string): Promise<PollingTarget | undefined> {
  const { rows } = await db.withTenant(tenantId, (tx) =>
    tx.query<TargetRow>(
      `SELECT s.id, s.tenant_id, s.trigger_name, s.status, s.kind, s.poll_interval_ms, s.connection_id,
              c.fields, c.status AS connection_status, i.version, m.name AS connector
       FROM connectors.trigger_subscriptions s
       JOIN connectors.connections c ON c.id = s.connection_id
       JOIN connectors.installations i ON i.id = c.installation_id
       JOIN connectors.marketplace m ON m.id = i.connector_id
       WHERE s.id = $1`,
      [subscriptionId],
    ),
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    id: r.id,
    tenantId: r.tenant_id,
    triggerName: r.trigger_name,
    status: r.status,
    kind: r.kind,
    intervalMs: r.poll_interval_ms,
    connectionId: r.connection_id,
    connectionFields: r.fields ?? {},
    connectionStatus: r.connection_status,
    connector: r.connector,
    version: r.version,
  };
}

/**
 * Every active polling subscription of every tenant. A platform operation on the owner connection (it runs once
 * at start-up and must see across tenants); it reads ids only, everything else is loaded per tenant.
 */
export async function listActivePollingSubscriptions(db: Db): Promise<{ id: string; tenantId: string }[]> {
  const { rows } = await db.query<{ id: string; tenant_id: string }>(
    `SELECT id, tenant_id FROM connectors.trigger_subscriptions WHERE kind = 'polling' AND status = 'active' ORDER BY created_at`,
  );
  return rows.map((r) => ({ id: r.id, tenantId: r.tenant_id }));
}

/** The tenant of a subscription (owner connection: workers learn a subscription's tenant from it), or undefined. */
export async function tenantOfSubscription(db: Db, subscriptionId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ tenant_id: string }>('SELECT tenant_id FROM connectors.trigger_subscriptions WHERE id = $1', [subscriptionId]);
  return rows[0]?.tenant_id;
}

/**
 * After repeated auth failures: the connection needs reconnecting (`needs_reauth` with the reason) and the
 * subscription stops (`failed`) until the trigger is enabled again. One transaction, under the tenant's RLS.
 */
export async function markPollingAuthFailure(db: Db, target: { tenantId: string; subscriptionId: string; connectionId: string }, reason: string): Promise<void> {
  await db.withTenant(target.tenantId, async (tx) => {
    await markNeedsReauth(tx, target.connectionId, reason);
    await tx.query(`UPDATE connectors.trigger_subscriptions SET status = 'failed' WHERE id = $1`, [target.subscriptionId]);
  });
}

/**
 * Stores the new items of a poll in the events outbox, but only while the subscription is still an active polling
 * one. The inserting transaction first takes a share lock on the subscription row, so a concurrent disable (an
 * UPDATE of that row) either waits until these events are committed, or commits first and is seen here: no event
 * of a poll is stored after its subscription's disable committed. Otherwise rejects with NOT_FOUND (deleted) or
 * CONFLICT (disabled, failed) and stores nothing. Resolves to the inserted events (keys already stored are skipped).
 */
export async function appendPollEvents(db: Db, target: Pick<AppendTarget, 'tenantId' | 'subscriptionId'>, events: readonly OutboxEventInput[]): Promise<OutboxEvent[]> {
  const rows = eventRowsOf({ tenantId: target.tenantId, subscriptionId: target.subscriptionId }, events);
  return db.withTenant(target.tenantId, async (tx) => {
    const { rows: found } = await tx.query<{ status: string; kind: string }>(
      'SELECT status, kind FROM connectors.trigger_subscriptions WHERE id = $1 FOR SHARE',
      [target.subscriptionId],
    );
    const sub = found[0];
    if (!sub) {
      throw new ConnectorError('NOT_FOUND', `Polling subscription ${target.subscriptionId} was deleted while it was polling; its ${rows.length} new items were not stored`);
    }
    if (sub.kind !== 'polling' || sub.status !== 'active') {
      throw new ConnectorError('CONFLICT', `Polling subscription ${target.subscriptionId} was disabled while it was polling (it is ${sub.status} now); its ${rows.length} new items were not stored. Enable the trigger again to poll from a new baseline.`);
    }
    return insertEvents(tx, rows);
  });
}
