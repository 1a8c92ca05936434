import type { Queryable } from '../db/db.ts';

/**
 * Marks a connection as needing the tenant to connect the account again (`needs_reauth`), keeping the reason for
 * the page and the API. Runs on `tx`, so callers can join it with their own changes under the tenant's RLS.
 */
export async function markNeedsReauth(tx: Queryable, connectionId: string, reason: string): Promise<void> {
  await tx.query(`UPDATE connectors.connections SET status = 'needs_reauth', status_detail = $2, updated_at = now() WHERE id = $1`, [connectionId, reason.slice(0, 1000)]);
}
