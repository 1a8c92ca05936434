/**
 * The events outbox: the one interface between triggers (webhook ingress, polling) and the workflow side.
 *
 * Semantics every implementation must keep (checked by `runOutboxConformance` in `@businessos/connector-triggers/testing`):
 *
 * - Durability: a promise that resolves means the data is committed (a PostgreSQL implementation resolves after
 *   COMMIT). Webhook ingress answers 2xx only after `storeDelivery` resolved (and, when it transforms in the request, `appendEvents`).
 * - Deliveries are idempotent by `(subscriptionId, dedupeKey)`: storing the same delivery again returns the first
 *   row's id with `duplicate: true`, and whether events were already appended for it (`processed`).
 * - Events are idempotent by `(subscriptionId, key)`: appending a key that exists (in an earlier call, or twice in
 *   one call, or in two concurrent calls) stores it once; `appendEvents` returns only the events it inserted.
 *   Appending with a `deliveryId` marks that delivery processed in the same transaction, also when there are no events.
 * - Positions: every event gets a `position`, a decimal integer string, unique and increasing in append order.
 *   `readAfter` returns a tenant's events with position > `after` in ascending position order. A reader that
 *   has seen position P must never later find a new event with a position <= P: a PostgreSQL implementation must
 *   not hand out sequence values that commit out of order (e.g. take the positions under a per-tenant advisory
 *   lock in the inserting transaction, or only return rows below the oldest in-flight position).
 * - Tenancy: every read and ack is scoped by `tenantId`; another tenant's events are never returned or acked.
 * - At-least-once delivery: events stay readable until acked and after; `pendingOnly` reads only unacked ones.
 *   Consumers must tolerate seeing an event twice (it has a stable `id` and `key`). `ack` is idempotent.
 */
export interface EventOutbox {
  /** Stores a raw webhook delivery; see {@link DeliveryInput}. */
  storeDelivery(delivery: DeliveryInput): Promise<StoredDeliveryRef>;
  /**
   * Appends events for a subscription, skipping keys it already holds. Returns the inserted events, in the order given.
   * With `target.deliveryId`, marks that delivery processed.
   */
  appendEvents(target: AppendTarget, events: OutboxEventInput[]): Promise<OutboxEvent[]>;
  /** One stored delivery of a tenant (for redrive and support); undefined when unknown or another tenant's. */
  getDelivery(tenantId: string, id: string): Promise<StoredDelivery | undefined>;
  /** A tenant's events after a position, oldest first, at most `limit` (1..1000). */
  readAfter(query: ReadAfterQuery): Promise<OutboxEvent[]>;
  /** Marks events acknowledged; returns how many were not acked before. Unknown or foreign ids are ignored. */
  ack(request: AckRequest): Promise<number>;
}

/** A raw webhook delivery as received, before transform. */
export interface DeliveryInput {
  tenantId: string;
  subscriptionId: string;
  endpointId: string;
  /** The provider's event id when the manifest declares where it is. */
  eventId?: string | undefined;
  /** What makes two deliveries the same: `id:<event id>` or `body:<sha256 of the raw body>`. */
  dedupeKey: string;
  /** Epoch ms. */
  receivedAt: number;
  /** Lower-case names. Signature headers included (they are not secrets: they are bound to one body). */
  headers: Record<string, string>;
  query: Record<string, string>;
  /** Exact bytes received (a `bytea` column in PostgreSQL). */
  rawBody: Buffer;
}

/** A delivery as stored. */
export interface StoredDelivery extends DeliveryInput {
  id: string;
  processed: boolean;
}

export interface StoredDeliveryRef {
  id: string;
  /** True when this (subscription, dedupeKey) was stored before; `id` is then the first one's. */
  duplicate: boolean;
  /** True when events were already appended for this delivery (so a duplicate needs no more work). */
  processed: boolean;
}

export interface AppendTarget {
  tenantId: string;
  subscriptionId: string;
  /** The delivery these events came from (webhooks); absent for polling. */
  deliveryId?: string | undefined;
}

export interface OutboxEventInput {
  /** Stable key, unique per subscription: the same source item always yields the same key. */
  key: string;
  /** The event (JSON). */
  payload: unknown;
  /** When it happened at the provider, epoch ms, if known. */
  occurredAt?: number | undefined;
}

export interface OutboxEvent {
  /** Unique id (assigned by the outbox). */
  id: string;
  /** Cursor for `readAfter`; decimal integer string increasing in append order. */
  position: string;
  tenantId: string;
  subscriptionId: string;
  key: string;
  payload: unknown;
  occurredAt?: number | undefined;
  deliveryId?: string | undefined;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms, once acked. */
  ackedAt?: number | undefined;
}

export interface ReadAfterQuery {
  tenantId: string;
  /** Only this subscription's events. */
  subscriptionId?: string | undefined;
  /** Exclusive position; absent reads from the start. */
  after?: string | undefined;
  limit: number;
  /** Only events not acked yet. */
  pendingOnly?: boolean | undefined;
}

export interface AckRequest {
  tenantId: string;
  eventIds: string[];
}

/** Largest `limit` {@link EventOutbox.readAfter} accepts. */
export const MAX_READ_LIMIT = 1000;
