import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { DeliveryInput, EventOutbox, OutboxEvent } from '../outbox/types.ts';

export interface OutboxConformanceOptions {
  /** Suite title (default `EventOutbox conformance`). */
  name?: string;
  /** Called after each test with the outbox it used (close pools, drop schemas...). */
  dispose?: (outbox: EventOutbox) => Promise<void> | void;
}

/**
 * Registers Vitest tests that check an {@link EventOutbox} implementation keeps the documented semantics:
 * idempotent deliveries and events, increasing positions, tenant isolation, `readAfter` paging, acks.
 * Every test uses fresh random tenant and subscription ids, so a shared database is fine.
 *
 * @example
 * // packages/server/src/events/pg-outbox.integration.test.ts
 * runOutboxConformance(async () => createPgOutbox({ pool }), { name: 'PostgreSQL outbox' });
 */
export function runOutboxConformance(makeOutbox: () => EventOutbox | Promise<EventOutbox>, options: OutboxConformanceOptions = {}): void {
  const withOutbox = (fn: (outbox: EventOutbox) => Promise<void>) => async () => {
    const outbox = await makeOutbox();
    try {
      await fn(outbox);
    } finally {
      await options.dispose?.(outbox);
    }
  };
  const ids = () => ({ tenantId: `t-${randomUUID()}`, subscriptionId: `s-${randomUUID()}` });
  const delivery = (t: { tenantId: string; subscriptionId: string }, dedupeKey: string, rawBody = Buffer.from('{"a":1}')): DeliveryInput => ({
    ...t,
    endpointId: `e-${t.subscriptionId}`,
    dedupeKey,
    eventId: dedupeKey.startsWith('id:') ? dedupeKey.slice(3) : undefined,
    receivedAt: 1_700_000_000_000,
    headers: { 'content-type': 'application/json', 'x-shopify-hmac-sha256': 'abc=' },
    query: { a: 'b' },
    rawBody,
  });
  const keys = (events: OutboxEvent[]) => events.map((e) => e.key);

  describe(options.name ?? 'EventOutbox conformance', () => {
    it('stores a delivery once per (subscription, dedupeKey) and reports whether it was processed', withOutbox(async (outbox) => {
      const t = ids();
      const first = await outbox.storeDelivery(delivery(t, 'id:evt_1'));
      expect(first).toMatchObject({ duplicate: false, processed: false });
      expect(typeof first.id).toBe('string');
      const again = await outbox.storeDelivery(delivery(t, 'id:evt_1'));
      expect(again).toEqual({ id: first.id, duplicate: true, processed: false });
      const other = await outbox.storeDelivery(delivery({ ...t, subscriptionId: `s-${randomUUID()}` }, 'id:evt_1'));
      expect(other.duplicate).toBe(false);
      expect(other.id).not.toBe(first.id);

      await outbox.appendEvents({ ...t, deliveryId: first.id }, [{ key: 'id:evt_1#0', payload: { a: 1 } }]);
      expect(await outbox.storeDelivery(delivery(t, 'id:evt_1'))).toEqual({ id: first.id, duplicate: true, processed: true });

      // A delivery the connector turned into no events is processed too.
      const empty = await outbox.storeDelivery(delivery(t, 'id:evt_2'));
      expect(await outbox.appendEvents({ ...t, deliveryId: empty.id }, [])).toEqual([]);
      expect(await outbox.storeDelivery(delivery(t, 'id:evt_2'))).toEqual({ id: empty.id, duplicate: true, processed: true });
      expect((await outbox.getDelivery(t.tenantId, empty.id))?.processed).toBe(true);
    }));

    it('keeps the delivery as received, non-UTF-8 raw bytes included, readable only by its tenant', withOutbox(async (outbox) => {
      const t = ids();
      const bytes = Buffer.from([0xff, 0x00, 0xfe, 0x7b, 0x22]);
      const input = delivery(t, 'body:x', bytes);
      const ref = await outbox.storeDelivery(input);
      const stored = await outbox.getDelivery(t.tenantId, ref.id);
      expect(stored).toMatchObject({ id: ref.id, tenantId: t.tenantId, subscriptionId: t.subscriptionId, endpointId: input.endpointId, dedupeKey: 'body:x', receivedAt: input.receivedAt, headers: input.headers, query: input.query, processed: false });
      expect(Buffer.compare(stored?.rawBody ?? Buffer.alloc(0), bytes)).toBe(0);
      expect(stored?.eventId).toBeUndefined();
      expect(await outbox.getDelivery(`t-${randomUUID()}`, ref.id)).toBeUndefined();
      const withId = await outbox.storeDelivery(delivery(t, 'id:evt_9'));
      expect((await outbox.getDelivery(t.tenantId, withId.id))?.eventId).toBe('evt_9');
    }));

    it('appends each key once per subscription, across calls, within one call and concurrently', withOutbox(async (outbox) => {
      const t = ids();
      const a = await outbox.appendEvents(t, [{ key: 'k1', payload: { n: 1 } }, { key: 'k2', payload: { n: 2 } }, { key: 'k1', payload: { n: 99 } }]);
      expect(keys(a)).toEqual(['k1', 'k2']);
      expect(a[0]?.payload).toEqual({ n: 1 });
      const b = await outbox.appendEvents(t, [{ key: 'k2', payload: { n: 2 } }, { key: 'k3', payload: { n: 3 } }]);
      expect(keys(b)).toEqual(['k3']);
      const racing = await Promise.all(Array.from({ length: 8 }, () => outbox.appendEvents(t, [{ key: 'k4', payload: { n: 4 } }])));
      expect(racing.flat().length).toBe(1);
      const sameKeyOtherSub = await outbox.appendEvents({ ...t, subscriptionId: `s-${randomUUID()}` }, [{ key: 'k1', payload: {} }]);
      expect(keys(sameKeyOtherSub)).toEqual(['k1']);
      const all = await outbox.readAfter({ tenantId: t.tenantId, subscriptionId: t.subscriptionId, limit: 100 });
      expect(keys(all)).toEqual(['k1', 'k2', 'k3', 'k4']);
    }));

    it('returns full events with increasing positions and JSON payloads intact', withOutbox(async (outbox) => {
      const t = ids();
      const payload = { id: 820982911946154508n.toString(), name: 'Zoë 🚀', nested: { list: [1, 'two', null, true] }, empty: {} };
      const [e] = await outbox.appendEvents(t, [{ key: 'k', payload, occurredAt: 1_700_000_000_123 }]);
      expect(e).toMatchObject({ tenantId: t.tenantId, subscriptionId: t.subscriptionId, key: 'k', payload, occurredAt: 1_700_000_000_123 });
      expect(e?.ackedAt).toBeUndefined();
      expect(typeof e?.createdAt).toBe('number');
      expect(e?.position).toMatch(/^\d+$/);
      const more = await outbox.appendEvents(t, [{ key: 'k2', payload: 1 }, { key: 'k3', payload: 'three' }]);
      const positions = [e, ...more].map((x) => BigInt(x?.position ?? '0'));
      expect(positions[1]! > positions[0]!).toBe(true);
      expect(positions[2]! > positions[1]!).toBe(true);
      const [read] = await outbox.readAfter({ tenantId: t.tenantId, limit: 1 });
      expect(read).toEqual(e);
    }));

    it('pages with readAfter: after is exclusive, limit is honoured, subscription filter works', withOutbox(async (outbox) => {
      const t = ids();
      const t2 = { ...t, subscriptionId: `s-${randomUUID()}` };
      for (let i = 0; i < 5; i += 1) {
        await outbox.appendEvents(t, [{ key: `a${i}`, payload: i }]);
        await outbox.appendEvents(t2, [{ key: `b${i}`, payload: i }]);
      }
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await outbox.readAfter({ tenantId: t.tenantId, after, limit: 3 });
        if (page.length === 0) break;
        expect(page.length).toBeLessThanOrEqual(3);
        seen.push(...keys(page));
        after = page.at(-1)?.position;
      }
      expect(seen).toEqual(['a0', 'b0', 'a1', 'b1', 'a2', 'b2', 'a3', 'b3', 'a4', 'b4']);
      expect(keys(await outbox.readAfter({ tenantId: t.tenantId, subscriptionId: t2.subscriptionId, limit: 10 }))).toEqual(['b0', 'b1', 'b2', 'b3', 'b4']);
      expect(await outbox.readAfter({ tenantId: t.tenantId, after: '999999999999', limit: 10 })).toEqual([]);
    }));

    it('never shows or acks another tenant\'s events', withOutbox(async (outbox) => {
      const mine = ids();
      const theirs = ids();
      const [their] = await outbox.appendEvents(theirs, [{ key: 'secret', payload: { card: 'x' } }]);
      await outbox.appendEvents(mine, [{ key: 'mine', payload: {} }]);
      expect(keys(await outbox.readAfter({ tenantId: mine.tenantId, limit: 100 }))).toEqual(['mine']);
      expect(await outbox.readAfter({ tenantId: mine.tenantId, subscriptionId: theirs.subscriptionId, limit: 100 })).toEqual([]);
      expect(await outbox.ack({ tenantId: mine.tenantId, eventIds: [their?.id ?? ''] })).toBe(0);
      expect((await outbox.readAfter({ tenantId: theirs.tenantId, pendingOnly: true, limit: 10 })).length).toBe(1);
    }));

    it('acks idempotently; pendingOnly hides acked events while plain reads keep them', withOutbox(async (outbox) => {
      const t = ids();
      const [e1, e2] = await outbox.appendEvents(t, [{ key: '1', payload: 1 }, { key: '2', payload: 2 }]);
      expect(await outbox.ack({ tenantId: t.tenantId, eventIds: [e1?.id ?? '', e1?.id ?? '', randomUUID()] })).toBe(1);
      expect(await outbox.ack({ tenantId: t.tenantId, eventIds: [e1?.id ?? ''] })).toBe(0);
      expect(keys(await outbox.readAfter({ tenantId: t.tenantId, pendingOnly: true, limit: 10 }))).toEqual(['2']);
      const all = await outbox.readAfter({ tenantId: t.tenantId, limit: 10 });
      expect(keys(all)).toEqual(['1', '2']);
      expect(typeof all[0]?.ackedAt).toBe('number');
      expect(all[1]?.id).toBe(e2?.id);
    }));

    it('refuses bad read queries with INVALID_INPUT', withOutbox(async (outbox) => {
      const t = ids();
      for (const bad of [{ limit: 0 }, { limit: 1001 }, { limit: 1.5 }, { limit: 10, after: 'abc' }, { limit: 10, after: '-1' }]) {
        await expect(outbox.readAfter({ tenantId: t.tenantId, ...bad })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      }
    }));
  });
}
