// Fixtures shared by the polling service's tests (not part of the service).
import { randomBytes } from 'node:crypto';
import type { Db } from '../db/db.ts';

/**
 * A tenant with `acme@1.0.0` installed, one connection, and an active `newThing` subscription of `kind` on it.
 * `pollIntervalMs`: the operator's per-subscription interval (null: the manifest's).
 */
export async function seedSubscription(db: Db, options: { kind?: 'polling' | 'webhook'; pollIntervalMs?: number | null } = {}): Promise<{ tenantId: string; subscriptionId: string; connectionId: string; installationId: string }> {
  return db.transaction(async (tx) => {
    const tenant = (await tx.query<{ id: string }>(`INSERT INTO connectors.tenants (name) VALUES ($1) RETURNING id`, [`poll-${randomBytes(4).toString('hex')}`])).rows[0]!;
    const listing = (await tx.query<{ id: string }>(
      `INSERT INTO connectors.marketplace (tenant_id, name, npm_package, display_name, version, approved) VALUES ($1, 'acme', 'acme', 'Acme', '1.0.0', true) RETURNING id`,
      [tenant.id],
    )).rows[0]!;
    const installation = (await tx.query<{ id: string }>(`INSERT INTO connectors.installations (tenant_id, connector_id, version) VALUES ($1, $2, '1.0.0') RETURNING id`, [tenant.id, listing.id])).rows[0]!;
    const connection = (await tx.query<{ id: string }>(`INSERT INTO connectors.connections (tenant_id, installation_id, name) VALUES ($1, $2, 'main') RETURNING id`, [tenant.id, installation.id])).rows[0]!;
    const sub = (await tx.query<{ id: string }>(
      `INSERT INTO connectors.trigger_subscriptions (tenant_id, connection_id, trigger_name, webhook_token, kind, poll_interval_ms) VALUES ($1, $2, 'newThing', $3, $4, $5) RETURNING id`,
      [tenant.id, connection.id, randomBytes(32).toString('base64url'), options.kind ?? 'polling', options.pollIntervalMs ?? null],
    )).rows[0]!;
    return { tenantId: tenant.id, subscriptionId: sub.id, connectionId: connection.id, installationId: installation.id };
  });
}

/** Waits until `check` holds, polling every `stepMs`; throws naming `what` after `timeoutMs`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000, stepMs = 20): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
}
