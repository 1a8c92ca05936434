import { NonRetryableError, UpstreamError } from '@businessos/connector-sdk';
import type { OutboxEvent } from '@businessos/connector-triggers';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngines } from '../db/engines.ts';
import type { TestDb } from '../db/test-db.ts';
import { listenForDeliveries } from './delivery-notifications.ts';
import { createDeliveryProcessor, MAX_EVENT_BYTES, MAX_EVENTS_PER_DELIVERY, type ClaimedDelivery } from './delivery-processor.ts';
import { createPgOutbox } from './pg-outbox.ts';

interface DeliveryState {
  processed: boolean;
  failed: boolean;
  attempts: number;
  last_error: string | null;
}

for (const engine of testEngines(process.env)) {
  const suite = engine.create ? describe : describe.skip;
  suite(`webhook delivery processor on ${engine.name}${engine.skipReason ? ` (skipped: ${engine.skipReason})` : ''}`, () => {
    let store: TestDb;
    beforeAll(async () => {
      store = await engine.create!();
    });
    afterAll(async () => {
      await store?.dispose();
    });

    /** A fresh tenant with `n` stored deliveries of one subscription, as ingress stores them. */
    async function stored(n: number) {
      const tenantId = randomUUID();
      const subscriptionId = randomUUID();
      await store.db.query("INSERT INTO connectors.tenants (id, name) VALUES ($1, 'processor')", [tenantId]);
      const outbox = createPgOutbox(store.db);
      const refs = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          outbox.storeDelivery({ tenantId, subscriptionId, endpointId: `endpoint-${subscriptionId}`, eventId: `evt_${i}`, dedupeKey: `id:evt_${i}`, receivedAt: Date.now(), headers: { 'content-type': 'application/json' }, query: {}, rawBody: Buffer.from(JSON.stringify({ id: `evt_${i}`, n: i })) }),
        ),
      );
      return { tenantId, subscriptionId, outbox, ids: refs.map((r) => r.id) };
    }
    const state = async (id: string) =>
      (await store.db.query<DeliveryState>('SELECT processed_at IS NOT NULL AS processed, failed_at IS NOT NULL AS failed, attempts, last_error FROM connectors.trigger_deliveries WHERE id = $1', [id])).rows[0]!;
    const eventsOf = async (tenantId: string) => createPgOutbox(store.db).readAfter({ tenantId, limit: 1000 });
    const payloadOf = (d: ClaimedDelivery) => JSON.parse(d.rawBody.toString('utf8')) as { id: string; n: number };

    it('turns each stored delivery into its events with the delivery id, marks it processed and publishes what it appended', async () => {
      const t = await stored(5);
      const published: OutboxEvent[] = [];
      // Delivery n yields n events: none for the first, which is processed all the same.
      const processor = createDeliveryProcessor({ db: store.db, transform: async (d) => Array.from({ length: payloadOf(d).n }, (_, k) => ({ of: payloadOf(d).id, k })), publish: async (e) => void published.push(...e) });
      try {
        expect(await processor.drain()).toBeGreaterThanOrEqual(5);
        const events = await eventsOf(t.tenantId);
        expect(events).toHaveLength(0 + 1 + 2 + 3 + 4);
        expect(events.filter((e) => e.key === 'id:evt_3#2')).toMatchObject([{ deliveryId: t.ids[3], subscriptionId: t.subscriptionId, payload: { of: 'evt_3', k: 2 } }]);
        expect(published.filter((e) => e.tenantId === t.tenantId).map((e) => e.id).sort()).toEqual(events.map((e) => e.id).sort());
        for (const id of t.ids) expect(await state(id)).toMatchObject({ processed: true, failed: false, attempts: 1 });
        expect((await t.outbox.getDelivery(t.tenantId, t.ids[0]!))?.processed).toBe(true);
      } finally {
        await processor.close();
      }
    });

    it('takes deliveries handed over by the process that stored them claimed: no sweep touches them, they become events without a claim statement; one waiting past half its claim is renewed first, unless another process took it', { timeout: 60_000 }, async () => {
      const tenantId = randomUUID();
      const subscriptionId = randomUUID();
      await store.db.query("INSERT INTO connectors.tenants (id, name) VALUES ($1, 'hand-over')", [tenantId]);
      const claimMs = 6000;
      const outbox = createPgOutbox(store.db, { claimDeliveriesForMs: claimMs });
      const input = (i: number) => ({ tenantId, subscriptionId, endpointId: `endpoint-${subscriptionId}`, eventId: `evt_${i}`, dedupeKey: `id:evt_${i}`, receivedAt: Date.now(), headers: { 'content-type': 'application/json' }, query: {}, rawBody: Buffer.from(JSON.stringify({ id: `evt_${i}`, n: i })) });
      const inputs = [0, 1, 2, 3, 4, 5].map(input);
      // Each step stores its deliveries just before handing them over, so every claim starts when its step does.
      const refs = await Promise.all(inputs.slice(0, 2).map((d) => outbox.storeDelivery(d)));
      // Stored claimed: attempt 1 is taken, and a sweep (of this or any other process) leaves them alone.
      for (const ref of refs) expect(await state(ref.id)).toMatchObject({ processed: false, attempts: 1 });
      const seen: { id: string; attempt: number; body: string }[] = [];
      const sweeper = createDeliveryProcessor({ db: store.db, transform: async () => [] });
      const processor = createDeliveryProcessor({
        db: store.db,
        handOverClaimMs: claimMs,
        transform: async (d) => {
          seen.push({ id: d.id, attempt: d.attempt, body: d.rawBody.toString('utf8') });
          return [{ of: payloadOf(d).id }];
        },
      });
      try {
        expect(await sweeper.drain()).toBe(0);
        // Handed over with their content: transformed as they were stored.
        expect(processor.handOver({ ...inputs[0]!, id: refs[0]!.id })).toBe(true);
        expect(processor.handOver({ ...inputs[1]!, id: refs[1]!.id })).toBe(true);
        await processor.drain();
        expect(seen.map((s) => s.id).sort()).toEqual([refs[0]!.id, refs[1]!.id].sort());
        expect(seen.every((s) => s.attempt === 1)).toBe(true);
        expect(seen.find((s) => s.id === refs[1]!.id)?.body).toBe(inputs[1]!.rawBody.toString('utf8'));
        for (const ref of refs.slice(0, 2)) expect(await state(ref.id)).toMatchObject({ processed: true, failed: false, attempts: 1 });
        expect((await eventsOf(tenantId)).map((e) => e.key).sort()).toEqual(['id:evt_0#0', 'id:evt_1#0']);
        // Closed, so that its sweeps cannot take what the rest of this test hands over to another processor.
        await processor.close();

        // Handed over while the processor is busy with another batch and not reached before half its claim has passed
        // (a backlog): its claim is renewed first, since nobody took it, and it is transformed as attempt 1.
        seen.length = 0;
        const gates = new Map<string, Promise<void>>();
        const opened = new Map<string, () => void>();
        // Told when a gated delivery's transform has begun: its batch is taken, so what is handed over next waits.
        const begun = new Map<string, () => void>();
        const begins = (id: string) => new Promise<void>((resolve) => begun.set(id, resolve));
        refs.push(...(await Promise.all([2, 3].map((i) => outbox.storeDelivery(inputs[i]!)))));
        gates.set(refs[3]!.id, new Promise<void>((resolve) => opened.set(refs[3]!.id, resolve)));
        const late = createDeliveryProcessor({
          db: store.db,
          handOverClaimMs: claimMs,
          transform: async (d) => {
            begun.get(d.id)?.();
            await gates.get(d.id);
            seen.push({ id: d.id, attempt: d.attempt, body: '' });
            return [{ late: true }];
          },
        });
        const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
        try {
          const third = begins(refs[3]!.id);
          late.handOver({ ...inputs[3]!, id: refs[3]!.id });
          await third;
          late.handOver({ ...inputs[2]!, id: refs[2]!.id });
          await pause(claimMs / 2 + 100);
          opened.get(refs[3]!.id)!();
          await late.drain();
          expect(seen.map((s) => [s.id, s.attempt])).toEqual([[refs[3]!.id, 1], [refs[2]!.id, 1]]);
          expect(await state(refs[2]!.id)).toMatchObject({ processed: true, attempts: 1 });

          // Not reached before its claim ran out, and another process's sweep took it meanwhile: it is that process's
          // now, so this one leaves it alone.
          seen.length = 0;
          refs.push(...(await Promise.all([4, 5].map((i) => outbox.storeDelivery(inputs[i]!)))));
          gates.set(refs[4]!.id, new Promise<void>((resolve) => opened.set(refs[4]!.id, resolve)));
          const fourth = begins(refs[4]!.id);
          late.handOver({ ...inputs[4]!, id: refs[4]!.id });
          await fourth;
          late.handOver({ ...inputs[5]!, id: refs[5]!.id });
          await pause(claimMs);
          await sweeper.drain();
          expect(await state(refs[5]!.id)).toMatchObject({ processed: true, attempts: 2 });
          opened.get(refs[4]!.id)!();
          await late.drain();
          expect(seen.map((s) => [refs.findIndex((r) => r.id === s.id), s.attempt])).toEqual([[4, 1]]);
          expect((await eventsOf(tenantId)).filter((e) => e.key.startsWith('id:evt_5#'))).toEqual([]);
        } finally {
          await late.close();
        }
        // A closed processor takes nothing.
        expect(late.handOver({ ...input(9), id: randomUUID() })).toBe(false);
      } finally {
        await processor.close();
        await sweeper.close();
      }
    });

    it('keeps deliveries handed over past its memory limits by id and reads them back at once under their first claim, not after the claim ran out; one another process took meanwhile is left to it', async () => {
      const tenantId = randomUUID();
      const subscriptionId = randomUUID();
      await store.db.query("INSERT INTO connectors.tenants (id, name) VALUES ($1, 'overflow')", [tenantId]);
      // A claim far longer than the test: only reading them back by id can get these deliveries processed in time.
      const claimMs = 10 * 60_000;
      const outbox = createPgOutbox(store.db, { claimDeliveriesForMs: claimMs });
      const inputs = [0, 1, 2, 3, 4, 5].map((i) => ({ tenantId, subscriptionId, endpointId: `endpoint-${subscriptionId}`, eventId: `evt_${i}`, dedupeKey: `id:evt_${i}`, receivedAt: Date.now(), headers: { 'content-type': 'application/json' }, query: {}, rawBody: Buffer.from(JSON.stringify({ id: `evt_${i}`, n: i })) }));
      const refs = [];
      for (const input of inputs) refs.push(await outbox.storeDelivery(input));
      // Another process's sweep took the last one after its claim had run out (attempt 2): it is not this process's.
      await store.db.query('UPDATE connectors.trigger_deliveries SET attempts = 2 WHERE id = $1', [refs[5]!.id]);
      const seen: { n: number; attempt: number }[] = [];
      const processor = createDeliveryProcessor({
        db: store.db,
        handOverClaimMs: claimMs,
        handOverLimits: { deliveries: 2 },
        transform: async (d) => {
          seen.push({ n: payloadOf(d).n, attempt: d.attempt });
          return [{ of: payloadOf(d).id }];
        },
      });
      try {
        for (const [i, ref] of refs.entries()) expect(processor.handOver({ ...inputs[i]!, id: ref.id })).toBe(true);
        await processor.drain();
        expect(seen.map((s) => s.n).sort()).toEqual([0, 1, 2, 3, 4]);
        expect(seen.every((s) => s.attempt === 1)).toBe(true);
        for (const ref of refs.slice(0, 5)) expect(await state(ref.id)).toMatchObject({ processed: true, failed: false, attempts: 1 });
        expect(await state(refs[5]!.id)).toMatchObject({ processed: false, attempts: 2 });
        expect((await eventsOf(tenantId)).map((e) => e.key).sort()).toEqual(['id:evt_0#0', 'id:evt_1#0', 'id:evt_2#0', 'id:evt_3#0', 'id:evt_4#0']);
      } finally {
        await processor.close();
      }
    });

    it('transforms the deliveries ingress hands over in one turn of the event loop together, not the first one alone', async () => {
      const tenantId = randomUUID();
      const subscriptionId = randomUUID();
      await store.db.query("INSERT INTO connectors.tenants (id, name) VALUES ($1, 'hand-over burst')", [tenantId]);
      const outbox = createPgOutbox(store.db, { claimDeliveriesForMs: 10_000 });
      const inputs = Array.from({ length: 6 }, (_, i) => ({ tenantId, subscriptionId, endpointId: `endpoint-${subscriptionId}`, eventId: `evt_${i}`, dedupeKey: `id:evt_${i}`, receivedAt: Date.now(), headers: {}, query: {}, rawBody: Buffer.from(JSON.stringify({ id: `evt_${i}`, n: i })) }));
      const refs = await Promise.all(inputs.map((d) => outbox.storeDelivery(d)));
      const singles: string[] = [];
      const batches: number[] = [];
      const processor = createDeliveryProcessor({
        db: store.db,
        transform: async (d) => {
          singles.push(d.id);
          return [{ of: payloadOf(d).id }];
        },
        transformMany: async (ds) => {
          batches.push(ds.length);
          return ds.map((d) => [{ of: payloadOf(d).id }]);
        },
      });
      try {
        // Started and idle (its first sweep done), as in a running service.
        processor.start();
        await processor.drain();
        for (const [i, ref] of refs.entries()) expect(processor.handOver({ ...inputs[i]!, id: ref.id })).toBe(true);
        await processor.drain();
        expect(singles).toEqual([]);
        expect(batches).toEqual([6]);
        expect((await eventsOf(tenantId)).map((e) => e.key).sort()).toEqual(inputs.map((d) => `${d.dedupeKey}#0`).sort());
      } finally {
        await processor.close();
      }
    });

    it('transforms one endpoint\'s deliveries in batches of at most 16, settles each delivery of a batch on its own, and goes one by one when a batch fails as a whole', async () => {
      const many = await stored(20);
      const mixed = await stored(4);
      const broken = await stored(3);
      const lone = await stored(1);
      const calls: { subscriptionId: string; size: number }[] = [];
      const singles: string[] = [];
      const processor = createDeliveryProcessor({
        db: store.db,
        async transform(d) {
          singles.push(d.subscriptionId);
          if (d.subscriptionId === broken.subscriptionId && payloadOf(d).n === 1) throw new NonRetryableError('delivery 1 is unreadable');
          return [{ id: payloadOf(d).id, single: true }];
        },
        async transformMany(ds) {
          calls.push({ subscriptionId: ds[0]!.subscriptionId, size: ds.length });
          expect(new Set(ds.map((d) => d.subscriptionId)).size).toBe(1);
          // As a sandbox violation would: the whole call fails, so its deliveries are transformed one by one.
          if (ds[0]!.subscriptionId === broken.subscriptionId) throw new Error('the sandbox was stopped');
          return ds.map((d) => (d.subscriptionId === mixed.subscriptionId && payloadOf(d).n === 2 ? new NonRetryableError('delivery 2 has no order') : [{ id: payloadOf(d).id, single: false }]));
        },
      });
      try {
        await processor.drain();
        const sizes = (t: { subscriptionId: string }) => calls.filter((c) => c.subscriptionId === t.subscriptionId).map((c) => c.size);
        expect(Math.max(...sizes(many))).toBeLessThanOrEqual(16);
        expect(sizes(many).reduce((a, b) => a + b, 0)).toBe(20);
        expect(singles.filter((s) => s === many.subscriptionId)).toEqual([]);
        // One delivery of a batch failing fails only that delivery.
        for (const [i, id] of mixed.ids.entries()) {
          expect(await state(id)).toMatchObject(i === 2 ? { failed: true, processed: false, last_error: expect.stringContaining('delivery 2 has no order') } : { processed: true, failed: false });
        }
        expect((await eventsOf(mixed.tenantId)).map((e) => e.payload)).toEqual(expect.arrayContaining([{ id: 'evt_0', single: false }, { id: 'evt_3', single: false }]));
        // The batch that failed as a whole: every delivery transformed on its own, the bad one failed alone.
        expect(singles.filter((s) => s === broken.subscriptionId)).toHaveLength(3);
        for (const [i, id] of broken.ids.entries()) {
          expect(await state(id)).toMatchObject(i === 1 ? { failed: true, last_error: expect.stringContaining('delivery 1 is unreadable') } : { processed: true, failed: false });
        }
        // A lone delivery goes through transform: no batch of one.
        expect(sizes(lone)).toEqual([]);
        expect((await eventsOf(lone.tenantId)).map((e) => e.payload)).toEqual([{ id: 'evt_0', single: true }]);
        expect(await eventsOf(many.tenantId)).toHaveLength(20);
      } finally {
        await processor.close();
      }
    });

    it('keeps exactly one event per delivery when two processes take the same deliveries (a lease ran out mid-transform)', async () => {
      const t = await stored(12);
      // leaseMs 0: every claim is already expired, so the second processor takes what the first is transforming.
      const slow = async (d: ClaimedDelivery) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return [{ id: payloadOf(d).id }];
      };
      const a = createDeliveryProcessor({ db: store.db, transform: slow, leaseMs: 0, batchSize: 4 });
      const b = createDeliveryProcessor({ db: store.db, transform: slow, leaseMs: 0, batchSize: 4 });
      try {
        await Promise.all([a.drain(), b.drain()]);
        const events = await eventsOf(t.tenantId);
        expect(events.map((e) => e.key).sort()).toEqual(t.ids.map((_, i) => `id:evt_${i}#0`).sort());
        for (const id of t.ids) expect((await state(id)).processed).toBe(true);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('takes up deliveries a killed process had claimed once its lease ran out', async () => {
      const t = await stored(3);
      // What a process killed mid-batch leaves behind: claimed (attempt 1) with a lease that has now run out.
      await store.db.query("UPDATE connectors.trigger_deliveries SET attempts = 1, next_attempt_at = now() - interval '1 second' WHERE id = ANY($1::uuid[])", [t.ids]);
      const processor = createDeliveryProcessor({ db: store.db, transform: async (d) => [{ id: payloadOf(d).id }] });
      try {
        processor.start();
        const deadline = Date.now() + 10_000;
        while ((await eventsOf(t.tenantId)).length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        expect((await eventsOf(t.tenantId)).map((e) => e.key).sort()).toEqual(['id:evt_0#0', 'id:evt_1#0', 'id:evt_2#0']);
        for (const id of t.ids) expect(await state(id)).toMatchObject({ processed: true, attempts: 2 });
      } finally {
        await processor.close();
      }
    });

    it('takes the deliveries it was woken with by id, skips ids that are unknown, done or leased, and its sweep still finds the rest', async () => {
      const woken = await stored(3);
      const others = await stored(2);
      const leased = await stored(1);
      await store.db.query("UPDATE connectors.trigger_deliveries SET attempts = 1, next_attempt_at = now() + interval '1 hour' WHERE id = $1", [leased.ids[0]]);
      const seen: string[] = [];
      const processor = createDeliveryProcessor({ db: store.db, pollMs: 60_000, batchSize: 2, transform: async (d) => (seen.push(d.id), [{ id: payloadOf(d).id }]) });
      try {
        processor.wake([...woken.ids, randomUUID(), leased.ids[0]!]);
        expect(await processor.drain()).toBeGreaterThanOrEqual(5);
        // Woken again with ids it already processed: nothing is transformed twice.
        processor.wake(woken.ids);
        await processor.drain();
        for (const t of [woken, others]) {
          expect((await eventsOf(t.tenantId)).map((e) => e.key).sort()).toEqual(t.ids.map((_, i) => `id:evt_${i}#0`));
          for (const id of t.ids) expect(await state(id)).toMatchObject({ processed: true, attempts: 1 });
        }
        expect(seen.filter((id) => woken.ids.includes(id) || others.ids.includes(id)).sort()).toEqual([...woken.ids, ...others.ids].sort());
        expect(await state(leased.ids[0]!)).toMatchObject({ processed: false, attempts: 1 });
      } finally {
        await processor.close();
      }
    });

    it('still works everything off while ingress keeps storing: it yields a share of the time, never all of it', async () => {
      const t = await stored(12);
      const processor = createDeliveryProcessor({ db: store.db, pollMs: 60_000, batchSize: 3, busyShare: 0.2, transform: async (d) => [{ id: payloadOf(d).id }] });
      // Ingress busy the whole time: a delivery id (of another process, unknown here) every few milliseconds.
      const busy = setInterval(() => processor.wake([randomUUID()]), 3);
      try {
        processor.wake(t.ids);
        await processor.drain();
        expect((await eventsOf(t.tenantId)).map((e) => e.key).sort()).toEqual(t.ids.map((_, i) => `id:evt_${i}#0`).sort());
      } finally {
        clearInterval(busy);
        await processor.close();
      }
    });

    it('on PostgreSQL starts at once on deliveries another process stored, told by NOTIFY at their commit (no poll)', async (ctx) => {
      if (!store.url) return ctx.skip();
      const seen: string[] = [];
      const processor = createDeliveryProcessor({ db: store.db, pollMs: 3_600_000, transform: async (d) => (seen.push(d.id), [{ id: payloadOf(d).id }]) });
      let listening!: () => void;
      const ready = new Promise<void>((resolve) => (listening = resolve));
      const listener = listenForDeliveries({
        connectionString: store.url,
        onDeliveries: (ids) => {
          if (ids.length === 0) listening();
          processor.wake(ids, { fromIngress: false });
        },
      });
      try {
        processor.start();
        await ready;
        await processor.drain();
        // Stored as another process's ingress stores them: nothing wakes this processor but the announcement.
        const t = await stored(3);
        const deadline = Date.now() + 20_000;
        while (t.ids.some((id) => !seen.includes(id)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        expect(seen.filter((id) => t.ids.includes(id)).sort()).toEqual([...t.ids].sort());
      } finally {
        await listener.close();
        await processor.close();
      }
    });

    it('fails alone, at once and with INVALID_OUTPUT, a delivery whose events the store cannot keep (NUL, lone surrogate, too many, too large, not JSON): the rest of its batch is processed', async () => {
      const t = await stored(8);
      const poison: Record<number, () => unknown[]> = {
        // A provider string with a NUL passed through as is (JSON allows it, jsonb does not), in a value or a key.
        1: () => [{ name: 'Robert\u0000; DROP' }],
        2: () => [{ ['k\u0000']: 1 }],
        3: () => [{ half: '\ud83d' }],
        // More events than a delivery may make, and one event larger than the limit.
        4: () => Array.from({ length: MAX_EVENTS_PER_DELIVERY + 1 }, (_, k) => k),
        5: () => [{ blob: 'x'.repeat(MAX_EVENT_BYTES) }],
        6: () => [{ n: 1n }],
        // An error whose message quotes a NUL is recorded all the same.
        7: () => {
          throw new NonRetryableError('unreadable field "a\u0000b"');
        },
      };
      let calls = 0;
      const processor = createDeliveryProcessor({
        db: store.db,
        backoffMs: () => 0,
        async transform(d) {
          calls += 1;
          const n = payloadOf(d).n;
          return poison[n]?.() ?? [{ id: payloadOf(d).id, text: 'a backslash then u0000: \\u0000 is fine' }];
        },
      });
      try {
        await processor.drain();
        expect(await state(t.ids[0]!)).toMatchObject({ processed: true, failed: false, attempts: 1 });
        expect((await eventsOf(t.tenantId)).map((e) => e.payload)).toEqual([{ id: 'evt_0', text: 'a backslash then u0000: \\u0000 is fine' }]);
        const reasons = { 1: /NUL/, 2: /NUL/, 3: /surrogate/, 4: new RegExp(`${MAX_EVENTS_PER_DELIVERY + 1} events`), 5: /bytes/, 6: /not JSON/ };
        for (const [n, reason] of Object.entries(reasons)) {
          const s = await state(t.ids[Number(n)]!);
          expect(s, `delivery ${n}`).toMatchObject({ processed: false, failed: true, attempts: 1, last_error: expect.stringMatching(/^INVALID_OUTPUT: /) });
          expect(s.last_error, `delivery ${n}`).toMatch(reason);
        }
        expect(await state(t.ids[7]!)).toMatchObject({ failed: true, attempts: 1, last_error: 'NON_RETRYABLE: unreadable field "a\\u0000b"' });
        // Failed for good: no sweep takes them again.
        expect(await processor.drain()).toBe(0);
        expect(calls).toBe(8);
      } finally {
        await processor.close();
      }
    });

    it('settles a batch one delivery at a time when storing it fails as a whole, so one delivery the store refuses cannot hold the others back', async () => {
      const t = await stored(3);
      // A refusal no check foresees: a trigger on the events table that rejects one payload.
      const fn = `connectors.refuse_${t.tenantId.replaceAll('-', '')}`;
      await store.db.query(`CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.payload ? 'refuse' THEN RAISE EXCEPTION 'refused by the store'; END IF; RETURN NEW; END $$`);
      await store.db.query(`CREATE TRIGGER refuse_${t.tenantId.replaceAll('-', '')} BEFORE INSERT ON connectors.trigger_events FOR EACH ROW EXECUTE FUNCTION ${fn}()`);
      const processor = createDeliveryProcessor({ db: store.db, maxAttempts: 2, backoffMs: () => 0, transform: async (d) => [payloadOf(d).n === 1 ? { refuse: true } : { id: payloadOf(d).id }] });
      try {
        await processor.drain();
        expect(await state(t.ids[0]!)).toMatchObject({ processed: true, failed: false });
        expect(await state(t.ids[2]!)).toMatchObject({ processed: true, failed: false });
        expect(await state(t.ids[1]!)).toMatchObject({ processed: false, failed: true, attempts: 2, last_error: expect.stringContaining('refused by the store') });
        expect((await eventsOf(t.tenantId)).map((e) => e.key).sort()).toEqual(['id:evt_0#0', 'id:evt_2#0']);
      } finally {
        await store.db.query(`DROP TRIGGER refuse_${t.tenantId.replaceAll('-', '')} ON connectors.trigger_events`);
        await store.db.query(`DROP FUNCTION ${fn}()`);
        await processor.close();
      }
    });

    it('retries a failing transform with backoff, then marks the delivery failed with its error; a connector\'s NonRetryableError fails at once', async () => {
      const t = await stored(2);
      let calls = 0;
      const waits: number[] = [];
      const processor = createDeliveryProcessor({
        db: store.db,
        maxAttempts: 3,
        backoffMs: (attempt) => {
          waits.push(attempt);
          return 0;
        },
        async transform(d) {
          calls += 1;
          if (payloadOf(d).n === 0) throw new UpstreamError('the provider is down', 503);
          throw new NonRetryableError('this event type cannot be read');
        },
      });
      try {
        await processor.drain();
        expect(await state(t.ids[0]!)).toEqual({ processed: false, failed: true, attempts: 3, last_error: expect.stringMatching(/^UPSTREAM_ERROR: .*the provider is down/) });
        expect(await state(t.ids[1]!)).toEqual({ processed: false, failed: true, attempts: 1, last_error: 'NON_RETRYABLE: this event type cannot be read' });
        expect(calls).toBe(4);
        expect(waits).toEqual([1, 2]);
        expect(await eventsOf(t.tenantId)).toEqual([]);
        // Failed deliveries stay failed: no sweep takes them again.
        expect(await processor.drain()).toBe(0);
        expect(calls).toBe(4);
      } finally {
        await processor.close();
      }
    });
  });
}
