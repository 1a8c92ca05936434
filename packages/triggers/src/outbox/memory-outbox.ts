import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import { checkReadAfterQuery } from './validate-query.ts';
import type { EventOutbox, OutboxEvent, StoredDelivery } from './types.ts';

export interface MemoryOutbox extends EventOutbox {
  /** Every stored delivery, oldest first (tests and the local simulator inspect them). */
  deliveries(): StoredDelivery[];
}

/**
 * An {@link EventOutbox} in process memory: for tests, the CLI simulator and single-process demos. Not durable:
 * everything is lost with the process.
 */
export function createMemoryOutbox(options: { clock?: Clock } = {}): MemoryOutbox {
  const clock = options.clock ?? systemClock;
  const deliveries = new Map<string, StoredDelivery>();
  const deliveriesById = new Map<string, StoredDelivery>();
  const copyDelivery = (d: StoredDelivery): StoredDelivery => ({ ...d, headers: { ...d.headers }, query: { ...d.query }, rawBody: Buffer.from(d.rawBody) });
  const events: OutboxEvent[] = [];
  const eventKeys = new Set<string>();
  const byId = new Map<string, OutboxEvent>();
  let position = 0n;
  const ck = (...parts: string[]) => parts.join('\u0000');
  const copy = (e: OutboxEvent): OutboxEvent => ({ ...e, payload: structuredClone(e.payload) });

  return {
    async storeDelivery(input) {
      const k = ck(input.subscriptionId, input.dedupeKey);
      const existing = deliveries.get(k);
      if (existing) return { id: existing.id, duplicate: true, processed: existing.processed };
      const row: StoredDelivery = copyDelivery({ ...input, id: randomUUID(), processed: false });
      deliveries.set(k, row);
      deliveriesById.set(row.id, row);
      return { id: row.id, duplicate: false, processed: false };
    },
    async appendEvents(target, inputs) {
      const out: OutboxEvent[] = [];
      const now = clock.now();
      for (const input of inputs) {
        const k = ck(target.subscriptionId, input.key);
        if (eventKeys.has(k)) continue;
        eventKeys.add(k);
        position += 1n;
        const event: OutboxEvent = {
          id: randomUUID(),
          position: position.toString(),
          tenantId: target.tenantId,
          subscriptionId: target.subscriptionId,
          key: input.key,
          payload: structuredClone(input.payload),
          createdAt: now,
        };
        if (input.occurredAt !== undefined) event.occurredAt = input.occurredAt;
        if (target.deliveryId !== undefined) event.deliveryId = target.deliveryId;
        events.push(event);
        byId.set(event.id, event);
        out.push(copy(event));
      }
      if (target.deliveryId !== undefined) {
        const d = deliveriesById.get(target.deliveryId);
        if (d) d.processed = true;
      }
      return out;
    },
    async getDelivery(tenantId, id) {
      const d = deliveriesById.get(id);
      return d && d.tenantId === tenantId ? copyDelivery(d) : undefined;
    },
    async readAfter(query) {
      const after = checkReadAfterQuery(query);
      const out: OutboxEvent[] = [];
      // Events are in position order: start at the first one after `after` instead of scanning from the start.
      let lo = 0;
      let hi = events.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (BigInt(events[mid]?.position ?? '0') <= after) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo; i < events.length; i += 1) {
        const e = events[i];
        if (!e) break;
        if (out.length >= query.limit) break;
        if (e.tenantId !== query.tenantId || BigInt(e.position) <= after) continue;
        if (query.subscriptionId !== undefined && e.subscriptionId !== query.subscriptionId) continue;
        if (query.pendingOnly && e.ackedAt !== undefined) continue;
        out.push(copy(e));
      }
      return out;
    },
    async ack(request) {
      let count = 0;
      const now = clock.now();
      for (const id of new Set(request.eventIds)) {
        const e = byId.get(id);
        if (!e || e.tenantId !== request.tenantId || e.ackedAt !== undefined) continue;
        e.ackedAt = now;
        count += 1;
      }
      return count;
    },
    deliveries() {
      return [...deliveries.values()].map(copyDelivery);
    },
  };
}
