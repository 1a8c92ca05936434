import type { DeliveryInput } from '@businessos/connector-triggers';
import { describe, expect, it } from 'vitest';
import type { Db, QueryResult } from '../db/db.ts';
import { createDeliveryWriter } from './delivery-writer.ts';

/** A store that answers every INSERT as if each row was new, and records the batch sizes it was sent. */
function recordingDb(): { db: Db; batches: number[] } {
  const batches: number[] = [];
  let next = 0;
  const query = async <R,>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> => {
    if (!sql.startsWith('INSERT')) return { rows: [] as R[], rowCount: 0 } as QueryResult<R>;
    const subscriptions = params[1] as string[];
    const keys = params[4] as string[];
    batches.push(keys.length);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const rows = keys.map((k, i) => ({ id: `d${(next += 1)}`, subscription_id: subscriptions[i], dedupe_key: k }));
    return { rows: rows as R[], rowCount: rows.length } as QueryResult<R>;
  };
  const db = {
    engine: 'pglite',
    query,
    exec: async () => undefined,
    transaction: async (fn: (tx: Db) => Promise<unknown>) => fn(db),
    withTenant: async (_tenant: string | null, fn: (tx: Db) => Promise<unknown>) => fn(db),
    close: async () => undefined,
  } as unknown as Db;
  return { db, batches };
}

const delivery = (n: number): DeliveryInput => ({
  tenantId: '00000000-0000-4000-8000-000000000001',
  subscriptionId: '00000000-0000-4000-8000-000000000002',
  endpointId: 'e'.repeat(43),
  eventId: `evt_${n}`,
  dedupeKey: `evt_${n}`,
  receivedAt: Date.now(),
  headers: {},
  query: {},
  rawBody: Buffer.from(`{"n":${n}}`),
});

describe('createDeliveryWriter', () => {
  it('stores deliveries that arrive in the same turn of the event loop as one batch, not the first one alone', async () => {
    const { db, batches } = recordingDb();
    const writer = createDeliveryWriter(db);
    const stored = await Promise.all(Array.from({ length: 5 }, (_, i) => writer.store(delivery(i))));
    expect(batches).toEqual([5]);
    expect(stored.map((s) => s.duplicate)).toEqual([false, false, false, false, false]);
    expect(new Set(stored.map((s) => s.id)).size).toBe(5);
  });

  it('still writes a lone delivery without waiting for more, and batches what arrives while two batches are in flight', async () => {
    const { db, batches } = recordingDb();
    const writer = createDeliveryWriter(db, { maxInFlight: 2 });
    await writer.store(delivery(100));
    expect(batches).toEqual([1]);
    const first = writer.store(delivery(1));
    await new Promise((resolve) => setImmediate(resolve));
    const second = writer.store(delivery(2));
    await new Promise((resolve) => setImmediate(resolve));
    // Both slots are busy now: these three wait and go together.
    const rest = [3, 4, 5].map((n) => writer.store(delivery(n)));
    await Promise.all([first, second, ...rest]);
    expect(batches).toEqual([1, 1, 1, 3]);
  });
});
