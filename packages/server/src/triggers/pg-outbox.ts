import { checkReadAfterQuery, storableJson, type EventOutbox, type OutboxEvent, type OutboxEventInput, type StoredDelivery } from '@businessos/connector-triggers';
import { InvalidInputError } from '@businessos/connector-sdk';
import { preparedStatement, type Db, type Queryable } from '../db/db.ts';
import { createDeliveryWriter } from './delivery-writer.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isUuid = (value: string): boolean => UUID.test(value);

/**
 * Event positions without a lock held across commit. A position is `xid × 2^20 + i`: the 64-bit id of the inserting
 * transaction (`pg_current_xact_id()`) shifted by 20 bits, plus the event's index within that transaction. Appends
 * take no lock at all, so concurrent transactions of one tenant commit together (one WAL flush for many).
 *
 * Transactions can commit in any order, so a reader must not return a committed event while a transaction with a
 * smaller id (hence smaller positions) may still commit: `readAfter` only returns positions below
 * `pg_snapshot_xmin(pg_current_snapshot()) × 2^20`, the oldest transaction still running when its statement took
 * its snapshot. Every transaction below it has ended, every transaction that ends later has an id at or above it,
 * so no event can ever appear below a position a reader has seen. The price: one long write transaction anywhere in
 * the cluster holds back what readers see (never loses it); `readAfter` waits a moment for the horizon to pass
 * committed events it had to hold back, so an append is normally readable at once after it resolves.
 *
 * 2^20 events per transaction and xids below 2^43 (2,048 wraparounds) fit a bigint. Positions of events appended
 * before this scheme (migration 008) came from a sequence and are far below, so they still sort first.
 */
export const POSITION_SHIFT = 1_048_576;
const XID = 'pg_current_xact_id()::text::bigint';
const HORIZON = `(pg_snapshot_xmin(pg_current_snapshot())::text::bigint * ${POSITION_SHIFT})`;
// How long `readAfter` waits for the horizon to pass committed events it held back, and how often it looks again.
const HORIZON_WAIT_MS = 2000;
const HORIZON_RETRY_MS = 5;

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

/** One event to insert (a row of {@link insertEvents}). */
export interface EventRowInput extends OutboxEventInput {
  tenantId: string;
  subscriptionId: string;
  deliveryId?: string | undefined;
  /** The payload as JSON, already checked with `storableJson` by the caller: not serialised again. */
  payloadJson?: string | undefined;
}

/** The rows for one target's events, the first of each key only (a key repeated in one append is one event). */
export function eventRowsOf(target: Omit<EventRowInput, keyof OutboxEventInput>, inputs: readonly OutboxEventInput[]): EventRowInput[] {
  const seen = new Set<string>();
  return inputs.filter((input) => !seen.has(input.key) && seen.add(input.key)).map((input) => ({ ...input, ...target }));
}

/** The insert of {@link insertEvents}, returning `returning` of each inserted row. */
const insertEventsSql = (returning: string) => `WITH base AS (
     SELECT coalesce(max(position) + 1, ${XID} * ${POSITION_SHIFT}) AS p FROM connectors.trigger_events
     WHERE position >= ${XID} * ${POSITION_SHIFT} AND position < (${XID} + 1) * ${POSITION_SHIFT}
   )
   INSERT INTO connectors.trigger_events (position, tenant_id, subscription_id, key, payload, occurred_at, delivery_id)
   SELECT base.p + u.n - 1, u.t, u.s, u.k, u.j::jsonb, CASE WHEN u.o IS NULL THEN NULL ELSE to_timestamp(u.o / 1000) END, u.d
   FROM base, unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::float8[], $6::uuid[]) WITH ORDINALITY AS u(t, s, k, j, o, d, n)
   ORDER BY u.n
   ON CONFLICT (subscription_id, key) DO NOTHING
   RETURNING ${returning}`;
const INSERT_EVENTS_SQL = preparedStatement('events-insert', insertEventsSql(EVENT_COLUMNS));
const INSERT_EVENTS_COUNTED_SQL = preparedStatement('events-insert-counted', insertEventsSql('id'));

/**
 * One statement inserts at most this many events. A transaction's positions must stay below the next transaction's
 * (see {@link POSITION_SHIFT}), whose events they would otherwise collide with; a quarter of the room leaves some
 * for the transaction's other statements.
 */
export const MAX_EVENTS_PER_INSERT = POSITION_SHIFT / 4;

function insertEventRows<R>(tx: Queryable, inputs: readonly EventRowInput[], sql: string) {
  if (inputs.length > MAX_EVENTS_PER_INSERT) {
    throw new InvalidInputError(`${inputs.length} events cannot be stored at once (at most ${MAX_EVENTS_PER_INSERT}); append them in smaller parts`, '/events');
  }
  // Checked here, before the statement: a payload jsonb refuses would fail the statement without saying which one.
  const payloads = inputs.map((e, i) => {
    if (e.payloadJson !== undefined) return e.payloadJson;
    const stored = storableJson(e.payload ?? null);
    if (!stored.ok) throw new InvalidInputError(`event ${i} (key ${e.key}) cannot be stored: ${stored.problem}`, `/events/${i}/payload${stored.path}`);
    return stored.json;
  });
  return tx.query<R>(sql, [
    inputs.map((e) => e.tenantId),
    inputs.map((e) => e.subscriptionId),
    inputs.map((e) => e.key),
    payloads,
    inputs.map((e) => e.occurredAt ?? null),
    inputs.map((e) => e.deliveryId ?? null),
  ]);
}

/**
 * Inserts events in one statement at the next positions of the current transaction (see {@link POSITION_SHIFT}),
 * skipping (subscription, key) pairs that exist; resolves to the inserted events in the order given. The transaction
 * must see every event it inserted before (true as owner, and as one tenant that inserts only its own).
 */
export async function insertEvents(tx: Queryable, inputs: readonly EventRowInput[]): Promise<OutboxEvent[]> {
  if (inputs.length === 0) return [];
  const { rows } = await insertEventRows<EventRow>(tx, inputs, INSERT_EVENTS_SQL);
  return rows.map(toEvent).sort((a, b) => (BigInt(a.position) < BigInt(b.position) ? -1 : 1));
}

/** {@link insertEvents} for a caller that needs only how many were inserted: no event travels back. */
export async function insertEventsCounted(tx: Queryable, inputs: readonly EventRowInput[]): Promise<number> {
  if (inputs.length === 0) return 0;
  return (await insertEventRows<{ id: string }>(tx, inputs, INSERT_EVENTS_COUNTED_SQL)).rowCount;
}

/**
 * The events outbox in PostgreSQL/PGlite (`connectors.trigger_deliveries` and `connectors.trigger_events`,
 * migrations 005 and 008). Every call resolves after COMMIT. Deliveries are written with group commit
 * ({@link createDeliveryWriter}); events are appended in one tenant transaction under row-level security, without
 * any lock, at positions readers can never skip (see {@link POSITION_SHIFT}).
 * Ids are uuids: the service's tenant and subscription ids; anything else is INVALID_INPUT on writes and finds
 * nothing on reads.
 *
 * This is also the function the polling side appends its items with (`appendEvents` without a `deliveryId`).
 * `announceDeliveries` (default true): NOTIFY other processes of stored deliveries; `claimDeliveriesForMs`: store them
 * claimed by this process's own delivery processor (see createDeliveryWriter's `claimForMs`).
 * @example const outbox = createPgOutbox(db); await outbox.appendEvents({ tenantId, subscriptionId }, [{ key: 'id:42', payload }]);
 */
export function createPgOutbox(db: Db, options: { announceDeliveries?: boolean; claimDeliveriesForMs?: number } = {}): EventOutbox {
  const writer = createDeliveryWriter(db, { announce: options.announceDeliveries ?? true, ...(options.claimDeliveriesForMs === undefined ? {} : { claimForMs: options.claimDeliveriesForMs }) });
  return {
    async storeDelivery(input) {
      requireIds(input.tenantId, input.subscriptionId);
      return writer.store(input);
    },

    async appendEvents(target, inputs) {
      requireIds(target.tenantId, target.subscriptionId);
      if (target.deliveryId !== undefined && !isUuid(target.deliveryId)) throw new InvalidInputError(`deliveryId must be a uuid (got "${target.deliveryId}")`, '/deliveryId');
      const rows = eventRowsOf(target, inputs);
      return db.withTenant(target.tenantId, async (tx) => {
        const out = await insertEvents(tx, rows);
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
      // The horizon comes from the same statement's snapshot as the rows: below it, nothing can still appear.
      const sql = `SELECT ${EVENT_COLUMNS}, ${HORIZON}::text AS horizon FROM connectors.trigger_events WHERE ${where} ORDER BY position LIMIT $3`;
      const deadline = Date.now() + HORIZON_WAIT_MS;
      for (;;) {
        const { rows } = await db.withTenant(query.tenantId, (tx) => tx.query<EventRow & { horizon: string }>(sql, params));
        const safe = rows.filter((r) => BigInt(r.position) < BigInt(r.horizon));
        // Committed events above the horizon wait for older transactions still running; usually a few ms.
        if (safe.length === rows.length || Date.now() >= deadline) return safe.map(toEvent);
        await new Promise((resolve) => setTimeout(resolve, HORIZON_RETRY_MS));
      }
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
