import type { EventOutbox, OutboxEvent, StoredDelivery } from '@businessos/connector-triggers';
import { runOutboxConformance } from '@businessos/connector-triggers/testing';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../db/db.ts';
import { testEngines } from '../db/engines.ts';
import type { TestDb } from '../db/test-db.ts';
import { createPgOutbox, insertEvents, MAX_EVENTS_PER_INSERT, POSITION_SHIFT } from './pg-outbox.ts';

/**
 * The conformance suite names tenants `t-<uuid>` and subscriptions `s-<uuid>`; the service's ids are the uuids, and
 * its tenants are rows events refer to. This view maps the suite's ids to uuids (creating the tenant rows it
 * writes for) and back, and changes nothing else: every call reaches the PostgreSQL outbox as it is.
 */
function withSuiteIds(outbox: EventOutbox, db: Db): EventOutbox {
  const names = new Map<string, string>();
  const toUuid = (id: string) => {
    const uuid = id.replace(/^[ts]-/, '');
    names.set(uuid, id);
    return uuid;
  };
  const back = (uuid: string) => names.get(uuid) ?? uuid;
  const ensureTenant = (uuid: string) => db.query("INSERT INTO connectors.tenants (id, name) VALUES ($1, 'outbox conformance') ON CONFLICT DO NOTHING", [uuid]);
  const event = (e: OutboxEvent): OutboxEvent => ({ ...e, tenantId: back(e.tenantId), subscriptionId: back(e.subscriptionId) });
  const delivery = (d: StoredDelivery): StoredDelivery => ({ ...d, tenantId: back(d.tenantId), subscriptionId: back(d.subscriptionId) });
  return {
    async storeDelivery(d) {
      const tenantId = toUuid(d.tenantId);
      await ensureTenant(tenantId);
      return outbox.storeDelivery({ ...d, tenantId, subscriptionId: toUuid(d.subscriptionId) });
    },
    async appendEvents(target, events) {
      const tenantId = toUuid(target.tenantId);
      await ensureTenant(tenantId);
      return (await outbox.appendEvents({ ...target, tenantId, subscriptionId: toUuid(target.subscriptionId) }, events)).map(event);
    },
    async getDelivery(tenantId, id) {
      const found = await outbox.getDelivery(toUuid(tenantId), id);
      return found && delivery(found);
    },
    async readAfter(query) {
      const q = { ...query, tenantId: toUuid(query.tenantId), ...(query.subscriptionId === undefined ? {} : { subscriptionId: toUuid(query.subscriptionId) }) };
      return (await outbox.readAfter(q)).map(event);
    },
    ack: (request) => outbox.ack({ ...request, tenantId: toUuid(request.tenantId) }),
  };
}

for (const engine of testEngines(process.env)) {
  const suite = engine.create ? describe : describe.skip;
  suite(`PostgreSQL events outbox on ${engine.name}${engine.skipReason ? ` (skipped: ${engine.skipReason})` : ''}`, () => {
    let store: TestDb;
    beforeAll(async () => {
      store = await engine.create!();
    });
    afterAll(async () => {
      await store?.dispose();
    });

    runOutboxConformance(() => withSuiteIds(createPgOutbox(store.db), store.db), { name: `runOutboxConformance (${engine.name})` });

    it('keeps tenants apart by row-level security even without the tenant filter, and refuses ids that are not uuids', async () => {
      const outbox = createPgOutbox(store.db);
      const [a, b] = [randomUUID(), randomUUID()];
      await store.db.query("INSERT INTO connectors.tenants (id, name) VALUES ($1, 'a'), ($2, 'b')", [a, b]);
      const sub = randomUUID();
      const [event] = await outbox.appendEvents({ tenantId: a, subscriptionId: sub }, [{ key: 'k', payload: { secret: 1 } }]);
      // Tenant b's transaction cannot see a's rows at all, whatever the query says.
      const leaked = await store.db.withTenant(b, (tx) => tx.query('SELECT id FROM connectors.trigger_events WHERE id = $1', [event!.id]));
      expect(leaked.rows).toEqual([]);
      await expect(outbox.appendEvents({ tenantId: 'not-a-uuid', subscriptionId: sub }, [])).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      expect(await outbox.readAfter({ tenantId: 'not-a-uuid', limit: 10 })).toEqual([]);
    });

    it('refuses, saying which event and where, payloads jsonb cannot hold and more events than one transaction\'s positions, storing none of them', async () => {
      const outbox = createPgOutbox(store.db);
      const tenantId = randomUUID();
      const sub = randomUUID();
      await store.db.query("INSERT INTO connectors.tenants (id, name) VALUES ($1, 'unstorable')", [tenantId]);
      const append = (events: { key: string; payload: unknown }[]) => outbox.appendEvents({ tenantId, subscriptionId: sub }, events);
      await expect(append([{ key: 'ok', payload: 1 }, { key: 'nul', payload: { customer: { name: 'Bob\u0000' } } }])).rejects.toMatchObject({ code: 'INVALID_INPUT', path: '/events/1/payload/customer/name', message: expect.stringContaining('NUL') });
      await expect(append([{ key: 'half', payload: ['😀'.slice(0, 1)] }])).rejects.toMatchObject({ code: 'INVALID_INPUT', path: '/events/0/payload/0', message: expect.stringContaining('surrogate') });
      await expect(append([{ key: 'big', payload: 1n }])).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('not JSON') });
      // Positions above a transaction's 2^20 would collide with the next transaction's events.
      const many = Array.from({ length: MAX_EVENTS_PER_INSERT + 1 }, (_, i) => ({ key: `k${i}`, payload: i }));
      await expect(append(many)).rejects.toMatchObject({ code: 'INVALID_INPUT', path: '/events' });
      expect(MAX_EVENTS_PER_INSERT * 4).toBeLessThanOrEqual(POSITION_SHIFT);
      expect(await outbox.readAfter({ tenantId, limit: 10 })).toEqual([]);
      // What a backslash and "u0000" spell is an ordinary string.
      expect(await append([{ key: 'text', payload: { s: '\\u0000' } }])).toMatchObject([{ payload: { s: '\\u0000' } }]);
    });

    // Positions come from transaction ids and no lock orders the appenders, so these need transactions that really
    // overlap: PGlite has one connection and runs transactions one after another.
    const overlapping = engine.name === 'postgres' ? it : it.skip;

    overlapping('holds back an event committed while an older transaction of the tenant is still open, then returns both in position order', async () => {
      const outbox = createPgOutbox(store.db);
      const tenantId = randomUUID();
      const sub = randomUUID();
      await store.db.query("INSERT INTO connectors.tenants (id, name) VALUES ($1, 'overlap')", [tenantId]);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let started!: () => void;
      const inserted = new Promise<void>((resolve) => (started = resolve));
      // The older transaction takes its position first and commits last.
      const older = store.db.withTenant(tenantId, async (tx) => {
        await insertEvents(tx, [{ tenantId, subscriptionId: sub, key: 'older', payload: 1 }]);
        started();
        await gate;
      });
      await inserted;
      const [newer] = await outbox.appendEvents({ tenantId, subscriptionId: sub }, [{ key: 'newer', payload: 2 }]);
      // Committed, but below it a transaction may still commit: a reader that got it could skip 'older'.
      expect(await outbox.readAfter({ tenantId, limit: 10 })).toEqual([]);
      release();
      await older;
      const all = await outbox.readAfter({ tenantId, limit: 10 });
      expect(all.map((e) => e.key)).toEqual(['older', 'newer']);
      expect(all[1]).toEqual(newer);
      expect(BigInt(all[0]!.position) < BigInt(all[1]!.position)).toBe(true);
    });

    overlapping('never lets a reader paging with after= skip an event while appends of one tenant overlap and commit out of order', async () => {
      const outbox = createPgOutbox(store.db);
      const tenantId = randomUUID();
      const sub = randomUUID();
      await store.db.query("INSERT INTO connectors.tenants (id, name) VALUES ($1, 'overlap race')", [tenantId]);
      const written: string[] = [];
      let writing = true;
      const writer = async (w: number) => {
        for (let i = 0; i < 25; i += 1) {
          const key = `w${w}-${i}`;
          // Hold the transaction open a random while after taking the position, so commits come out of order.
          await store.db.withTenant(tenantId, async (tx) => {
            await insertEvents(tx, [{ tenantId, subscriptionId: sub, key, payload: i }]);
            await new Promise((resolve) => setTimeout(resolve, Math.random() * 15));
          });
          written.push(key);
        }
      };
      const read: string[] = [];
      const reader = async () => {
        let after: string | undefined;
        for (;;) {
          const done = !writing;
          const page = await outbox.readAfter({ tenantId, after, limit: 7 });
          read.push(...page.map((e) => e.key));
          if (page.length > 0) after = page.at(-1)!.position;
          else if (done) return;
        }
      };
      const reading = reader();
      await Promise.all(Array.from({ length: 6 }, (_, w) => writer(w)));
      writing = false;
      await reading;
      expect(written).toHaveLength(150);
      expect([...read].sort()).toEqual([...written].sort());
    });
  });
}
