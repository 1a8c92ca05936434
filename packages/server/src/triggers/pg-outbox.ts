import { checkReadAfterQuery, type EventOutbox, type OutboxEvent, type OutboxEventInput, type StoredDelivery } from '@businessos/connector-triggers';
import { InvalidInputError } from '@businessos/connector-sdk';
import type { Db, Queryable } from '../db/db.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isUuid = (value: string): boolean => UUID.test(value);

// Class id of the per-tenant advisory lock that orders event positions (the second key is the tenant's hash).
const POSITION_LOCK_CLASS = 0x4253_4f45; // "BSOE"

/** Epoch ms of a timestamptz column, as a plain number on both engines. */
const ms = (column: string) => `round(extract(epoch FROM ${column}) * 1000)::float8`;

const EVENT_COLUMNS = `id::text, position::text AS position, tenant_id::text, subscription_id::text, key, payload,
  ${ms('occurred_at')} AS occurred_ms, delivery_id::text, ${ms('created_at')} AS created_ms, ${ms('acked_at')} AS acked_ms`;

interface EventRow {
  id: string;
  position: string;
  tenant_id: string;
  subscription_id: string;
  key: string;
  payload: unknown;
  occurred_ms: number | null;
  delivery_id: string | null;
  created_ms: number;
  acked_ms: number | null;
}

interface DeliveryRow {
  id: string;
  tenant_id: string;
  subscription_id: string;
  endpoint_id: string;
  event_id: string | null;
  dedupe_key: string;
  received_ms: number;
  headers: Record<string, string>;
  query: Record<string, string>;
  raw_body: Uint8Array;
  processed: boolean;
}

function toEvent(r: EventRow): OutboxEvent {
  const event: OutboxEvent = {
    id: r.id,
    position: r.position,
    tenantId: r.tenant_id,
    subscriptionId: r.subscription_id,
    key: r.key,
    payload: r.payload,
    createdAt: Number(r.created_ms),
  };
  if (r.occurred_ms !== null) event.occurredAt = Number(r.occurred_ms);
  if (r.delivery_id !== null) event.deliveryId = r.delivery_id;
  if (r.acked_ms !== null) event.ackedAt = Number(r.acked_ms);
  return event;
}

function toDelivery(r: DeliveryRow): StoredDelivery {
  const d: StoredDelivery = {
    id: r.id,
    tenantId: r.tenant_id,
    subscriptionId: r.subscription_id,
    endpointId: r.endpoint_id,
    dedupeKey: r.dedupe_key,
    receivedAt: Number(r.received_ms),
    headers: r.headers,
    query: r.query,
    rawBody: Buffer.from(r.raw_body),
    processed: r.processed,
  };
  if (r.event_id !== null) d.eventId = r.event_id;
  return d;
}

function requireIds(tenantId: string, subscriptionId: string): void {
  if (!isUuid(tenantId)) throw new InvalidInputError(`tenantId must be a uuid (got "${tenantId}")`, '/tenantId');
  if (!isUuid(subscriptionId)) throw new InvalidInputError(`subscriptionId must be a uuid (got "${subscriptionId}")`, '/subscriptionId');
}

async function insertEvent(tx: Queryable, tenantId: string, subscriptionId: string, deliveryId: string | undefined, input: OutboxEventInput): Promise<OutboxEvent | undefined> {
  const { rows } = await tx.query<EventRow>(
    `INSERT INTO connectors.trigger_events (position, tenant_id, subscription_id, key, payload, occurred_at, delivery_id)
     VALUES (nextval('connectors.trigger_event_position'), $1, $2, $3, $4::jsonb,
             CASE WHEN $5::float8 IS NULL THEN NULL ELSE to_timestamp($5::float8 / 1000) END, $6::uuid)
     ON CONFLICT (subscription_id, key) DO NOTHING
     RETURNING ${EVENT_COLUMNS}`,
    [tenantId, subscriptionId, input.key, JSON.stringify(input.payload ?? null), input.occurredAt ?? null, deliveryId ?? null],
  );
  return rows[0] ? toEvent(rows[0]) : undefined;
}

/**
 * The events outbox in PostgreSQL/PGlite (`connectors.trigger_deliveries` and `connectors.trigger_events`, migration
 * 004). Every call is one tenant transaction under row-level security and resolves after COMMIT. Positions are
 * taken from one sequence under a per-tenant advisory lock held until commit, so a tenant's positions become
 * visible in increasing order and a reader that saw position P never later finds a new event at or below P.
 * Ids are uuids: the service's tenant and subscription ids; anything else is INVALID_INPUT on writes and finds
 * nothing on reads.
 *
 * This is also the function the polling side appends its items with (`appendEvents` without a `deliveryId`).
 * @example const outbox = createPgOutbox(db); await outbox.appendEvents({ tenantId, subscriptionId }, [{ key: 'id:42', payload }]);
 */
export function createPgOutbox(db: Db): EventOutbox {
  return {
    async storeDelivery(input) {
      requireIds(input.tenantId, input.subscriptionId);
      return db.withTenant(input.tenantId, async (tx) => {
        const inserted = await tx.query<{ id: string }>(
          `INSERT INTO connectors.trigger_deliveries (tenant_id, subscription_id, endpoint_id, event_id, dedupe_key, received_at, headers, query, raw_body)
           VALUES ($1, $2, $3, $4, $5, to_timestamp($6::float8 / 1000), $7::jsonb, $8::jsonb, $9)
           ON CONFLICT (subscription_id, dedupe_key) DO NOTHING
           RETURNING id::text`,
          [input.tenantId, input.subscriptionId, input.endpointId, input.eventId ?? null, input.dedupeKey, input.receivedAt, JSON.stringify(input.headers), JSON.stringify(input.query), input.rawBody],
        );
        if (inserted.rows[0]) return { id: inserted.rows[0].id, duplicate: false, processed: false };
        const { rows } = await tx.query<{ id: string; processed: boolean }>(
          'SELECT id::text, processed_at IS NOT NULL AS processed FROM connectors.trigger_deliveries WHERE subscription_id = $1 AND dedupe_key = $2',
          [input.subscriptionId, input.dedupeKey],
        );
        const existing = rows[0];
        if (!existing) throw new InvalidInputError(`subscription ${input.subscriptionId} belongs to another tenant`, '/subscriptionId');
        return { id: existing.id, duplicate: true, processed: existing.processed };
      });
    },

    async appendEvents(target, inputs) {
      requireIds(target.tenantId, target.subscriptionId);
      if (target.deliveryId !== undefined && !isUuid(target.deliveryId)) throw new InvalidInputError(`deliveryId must be a uuid (got "${target.deliveryId}")`, '/deliveryId');
      return db.withTenant(target.tenantId, async (tx) => {
        const out: OutboxEvent[] = [];
        if (inputs.length > 0) {
          await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [POSITION_LOCK_CLASS, target.tenantId]);
          const seen = new Set<string>();
          for (const input of inputs) {
            if (seen.has(input.key)) continue;
            seen.add(input.key);
            const event = await insertEvent(tx, target.tenantId, target.subscriptionId, target.deliveryId, input);
            if (event) out.push(event);
          }
        }
        if (target.deliveryId !== undefined) {
          await tx.query('UPDATE connectors.trigger_deliveries SET processed_at = coalesce(processed_at, now()) WHERE id = $1', [target.deliveryId]);
        }
        return out;
      });
    },

    async getDelivery(tenantId, id) {
      if (!isUuid(tenantId) || !isUuid(id)) return undefined;
      const { rows } = await db.withTenant(tenantId, (tx) =>
        tx.query<DeliveryRow>(
          `SELECT id::text, tenant_id::text, subscription_id::text, endpoint_id, event_id, dedupe_key, ${ms('received_at')} AS received_ms,
                  headers, query, raw_body, processed_at IS NOT NULL AS processed
           FROM connectors.trigger_deliveries WHERE id = $1 AND tenant_id = $2`,
          [id, tenantId],
        ),
      );
      return rows[0] ? toDelivery(rows[0]) : undefined;
    },

    async readAfter(query) {
      const after = checkReadAfterQuery(query);
      if (!isUuid(query.tenantId) || (query.subscriptionId !== undefined && !isUuid(query.subscriptionId))) return [];
      const params: unknown[] = [query.tenantId, after.toString(), query.limit];
      let where = 'tenant_id = $1 AND position > $2::bigint';
      if (query.subscriptionId !== undefined) {
        params.push(query.subscriptionId);
        where += ` AND subscription_id = $${params.length}`;
      }
      if (query.pendingOnly) where += ' AND acked_at IS NULL';
      const { rows } = await db.withTenant(query.tenantId, (tx) =>
        tx.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM connectors.trigger_events WHERE ${where} ORDER BY position LIMIT $3`, params),
      );
      return rows.map(toEvent);
    },

    async ack(request) {
      const ids = [...new Set(request.eventIds)].filter(isUuid);
      if (!isUuid(request.tenantId) || ids.length === 0) return 0;
      const result = await db.withTenant(request.tenantId, (tx) =>
        tx.query('UPDATE connectors.trigger_events SET acked_at = now() WHERE tenant_id = $1 AND id = ANY($2::uuid[]) AND acked_at IS NULL', [request.tenantId, ids]),
      );
      return result.rowCount;
    },
  };
}
