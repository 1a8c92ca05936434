import type { TriggerManifest } from '@businessos/connector-sdk';
import type { Queryable } from '../db/db.ts';
import { iso } from '../http/schemas.ts';

/** One row of `connectors.trigger_subscriptions` with the connector and installed version it runs at. */
export interface SubscriptionRow {
  id: string;
  tenant_id: string;
  connection_id: string;
  trigger_name: string;
  kind: 'webhook' | 'polling';
  status: 'pending' | 'active' | 'failed' | 'stopped';
  status_detail: string | null;
  webhook_token: string | null;
  external_id: string | null;
  has_secret: boolean;
  config: Record<string, unknown>;
  expires_at: Date | string | null;
  renew_at: Date | string | null;
  /** A stopped webhook subscription whose hook the provider has not confirmed removing: when that is tried again. */
  unsubscribe_at: Date | string | null;
  unsubscribe_attempts: number;
  created_at: Date | string;
  connector: string;
  version: string;
  fields: Record<string, string>;
  /** Polling bookkeeping (from `poll_states`, only the few fields the API shows); null before the first poll. */
  poll_failures?: number | null;
  poll_next_attempt_at?: number | string | null;
  poll_last_success_at?: number | string | null;
  poll_last_error?: { code?: unknown; message?: unknown } | null;
}

/** Select list for {@link SubscriptionRow}; append a WHERE clause on `s.`. */
export const SUBSCRIPTION_SELECT = `
  SELECT s.id, s.tenant_id, s.connection_id, s.trigger_name, s.kind, s.status, s.status_detail, s.webhook_token, s.external_id,
         s.secret IS NOT NULL AS has_secret, s.config, s.expires_at, s.renew_at, s.unsubscribe_at, s.unsubscribe_attempts, s.created_at, m.name AS connector, i.version, c.fields,
         (ps.state->>'failures')::int AS poll_failures, ps.state->>'nextAttemptAt' AS poll_next_attempt_at,
         ps.state->>'lastSuccessAt' AS poll_last_success_at, ps.state->'lastError' AS poll_last_error
  FROM connectors.trigger_subscriptions s
  JOIN connectors.connections c ON c.id = s.connection_id
  JOIN connectors.installations i ON i.id = c.installation_id
  JOIN connectors.marketplace m ON m.id = i.connector_id
  LEFT JOIN connectors.poll_states ps ON ps.subscription_id = s.id`;

/** A subscription as the API shows it (never its secret). */
export interface SubscriptionView {
  id: string;
  connectionId: string;
  connector: string;
  trigger: string;
  kind: 'webhook' | 'polling';
  status: SubscriptionRow['status'];
  statusDetail: string | null;
  /** Where the provider delivers (webhook triggers); null for polling. */
  webhookUrl: string | null;
  /** True when the provider must be told the webhook URL by hand (the trigger has no subscribe step). */
  manualSetup: boolean;
  externalId: string | null;
  hasSecret: boolean;
  config: Record<string, unknown>;
  expiresAt: string | null;
  renewAt: string | null;
  /** Stopped webhook subscriptions: when removing the hook at the provider is tried again (null when nothing is left to remove or the service gave up; statusDetail says which). */
  unsubscribeRetryAt: string | null;
  createdAt: string | null;
  /**
   * Polling triggers: how polling goes (null for webhooks and before the first poll). While polls fail, `lastError`
   * says why and `nextAttemptAt` when the next one runs (the backoff).
   */
  poll: PollView | null;
}

/** What a tenant sees of a polling subscription's bookkeeping. */
export interface PollView {
  lastSuccessAt: string | null;
  failures: number;
  nextAttemptAt: string | null;
  lastError: { code: string; message: string } | null;
}

const epochIso = (value: number | string | null | undefined): string | null => {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? new Date(n).toISOString() : null;
};

function pollView(r: SubscriptionRow): PollView | null {
  if (r.kind !== 'polling' || r.poll_failures === undefined || r.poll_failures === null) return null;
  const error = r.poll_last_error;
  const failures = r.poll_failures;
  return {
    lastSuccessAt: epochIso(r.poll_last_success_at),
    failures,
    nextAttemptAt: failures > 0 ? epochIso(r.poll_next_attempt_at) : null,
    lastError: failures > 0 && error && typeof error.code === 'string' ? { code: error.code, message: typeof error.message === 'string' ? error.message.slice(0, 1000) : '' } : null,
  };
}

/** The ingress URL of an endpoint id. */
export function webhookUrlOf(publicUrl: string, endpointId: string): string {
  return `${publicUrl}/webhooks/${endpointId}`;
}

/** Row → API view; `trigger` decides `manualSetup`. */
export function subscriptionView(r: SubscriptionRow, publicUrl: string, trigger: TriggerManifest | undefined): SubscriptionView {
  return {
    id: r.id,
    connectionId: r.connection_id,
    connector: r.connector,
    trigger: r.trigger_name,
    kind: r.kind,
    status: r.status,
    statusDetail: r.status_detail,
    webhookUrl: r.kind === 'webhook' && r.webhook_token ? webhookUrlOf(publicUrl, r.webhook_token) : null,
    manualSetup: r.kind === 'webhook' && trigger?.webhook?.subscribe !== true,
    externalId: r.external_id,
    hasSecret: r.has_secret,
    config: r.config ?? {},
    expiresAt: iso(r.expires_at),
    renewAt: iso(r.renew_at),
    unsubscribeRetryAt: iso(r.unsubscribe_at ?? null),
    createdAt: iso(r.created_at),
    poll: pollView(r),
  };
}

/** JSON schema of {@link SubscriptionView}. */
export const subscriptionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'connectionId', 'connector', 'trigger', 'kind', 'status', 'statusDetail', 'webhookUrl', 'manualSetup', 'externalId', 'hasSecret', 'config', 'expiresAt', 'renewAt', 'unsubscribeRetryAt', 'createdAt', 'poll'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    connectionId: { type: 'string', format: 'uuid' },
    connector: { type: 'string' },
    trigger: { type: 'string' },
    kind: { type: 'string', enum: ['webhook', 'polling'] },
    status: { type: 'string', enum: ['pending', 'active', 'failed', 'stopped'] },
    statusDetail: { type: ['string', 'null'] },
    webhookUrl: { type: ['string', 'null'], description: 'The ingress URL the provider delivers to: /webhooks/{endpointId}, an unguessable id' },
    manualSetup: { type: 'boolean', description: 'The trigger has no subscribe step: paste webhookUrl into the provider\'s settings' },
    externalId: { type: ['string', 'null'], description: 'The provider\'s id of the registered hook' },
    hasSecret: { type: 'boolean', description: 'A signing secret returned by the provider is stored (encrypted)' },
    config: { type: 'object', additionalProperties: true },
    expiresAt: { type: ['string', 'null'], format: 'date-time' },
    renewAt: { type: ['string', 'null'], format: 'date-time', description: 'When the service re-registers the hook, before it lapses' },
    unsubscribeRetryAt: { type: ['string', 'null'], format: 'date-time', description: 'A stopped webhook subscription whose hook the provider did not confirm removing: when the service tries again (it backs off for about a day, then gives up and says so in statusDetail)' },
    createdAt: { type: ['string', 'null'], format: 'date-time' },
    poll: {
      type: ['object', 'null'],
      description: 'Polling triggers once polled: while polls fail, lastError says why and nextAttemptAt when the next one runs; null for webhooks',
      additionalProperties: false,
      required: ['lastSuccessAt', 'failures', 'nextAttemptAt', 'lastError'],
      properties: {
        lastSuccessAt: { type: ['string', 'null'], format: 'date-time' },
        failures: { type: 'integer', minimum: 0, description: 'Polls that failed in a row' },
        nextAttemptAt: { type: ['string', 'null'], format: 'date-time', description: 'While backing off: no poll before this time' },
        lastError: {
          type: ['object', 'null'],
          additionalProperties: false,
          required: ['code', 'message'],
          properties: { code: { type: 'string' }, message: { type: 'string' } },
        },
      },
    },
  },
} as const;

/** The connection a trigger is enabled on, with its connector's manifest triggers at the installed version. */
export interface ConnectionTriggers {
  connectionId: string;
  connector: string;
  version: string;
  fields: Record<string, string>;
  triggers: TriggerManifest[];
}

/** Loads a connection of the transaction's tenant (RLS) with its installed version's triggers; undefined when not found. */
export async function loadConnectionTriggers(tx: Queryable, connectionId: string): Promise<ConnectionTriggers | undefined> {
  const { rows } = await tx.query<{ id: string; fields: Record<string, string>; connector: string; version: string; triggers: TriggerManifest[] | null }>(
    `SELECT c.id, c.fields, m.name AS connector, i.version, v.manifest -> 'triggers' AS triggers
     FROM connectors.connections c
     JOIN connectors.installations i ON i.id = c.installation_id
     JOIN connectors.marketplace m ON m.id = i.connector_id
     JOIN connectors.connector_versions v ON v.connector_id = i.connector_id AND v.version = i.version
     WHERE c.id = $1`,
    [connectionId],
  );
  const r = rows[0];
  return r ? { connectionId: r.id, connector: r.connector, version: r.version, fields: r.fields ?? {}, triggers: r.triggers ?? [] } : undefined;
}

/** Renewal time for a hook that lapses at `expiresAt`: a fifth of its remaining life early, at least 1 min, at most 1 day. */
export function renewAtFor(expiresAt: number, now: number): number {
  const early = Math.min(24 * 3600_000, Math.max(60_000, (expiresAt - now) / 5));
  return Math.max(now, expiresAt - early);
}
