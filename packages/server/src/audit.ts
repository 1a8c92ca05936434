import type { Queryable } from './db/db.ts';
import { keepableJsonText, keepableText } from './db/keepable.ts';

/** One governance or security event for the append-only audit log. */
export interface AuditEntry {
  /** The tenant the event belongs to; null for platform-wide events (owner transactions only). */
  tenantId: string | null;
  /** Who acted: `key:<api key id>` or `system`. */
  actor: string;
  /** Dotted verb, e.g. `api_key.revoke`. */
  action: string;
  targetType?: string;
  targetId?: string;
  details?: Record<string, unknown>;
}

/**
 * Appends to connectors.audit_log inside the caller's transaction, so the event and the change commit together.
 * Details often quote providers and connectors (an error message): a NUL character or lone surrogate in any field is
 * written as U+FFFD, since failing the insert would roll back the change it records.
 */
export async function recordAudit(tx: Queryable, entry: AuditEntry): Promise<void> {
  const text = (value: string | undefined) => (value === undefined ? null : keepableText(value));
  await tx.query(
    'INSERT INTO connectors.audit_log (tenant_id, actor, action, target_type, target_id, details) VALUES ($1, $2, $3, $4, $5, $6)',
    [entry.tenantId, text(entry.actor), text(entry.action), text(entry.targetType), text(entry.targetId), keepableJsonText(entry.details ?? {})],
  );
}

/** The audit actor string for an API key. */
export function keyActor(keyId: string): string {
  return `key:${keyId}`;
}
