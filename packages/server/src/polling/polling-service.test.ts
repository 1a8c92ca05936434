import { ConnectorError } from '@businessos/connector-sdk';
import type { Runtime, TriggerInput } from '@businessos/connector-runtime';
import type { OutboxEvent } from '@businessos/connector-triggers';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../db/db.ts';
import { createTestPglite, type TestDb } from '../db/test-db.ts';
import type { ServiceRuntime } from '../execution/service-runtime.ts';
import { createPgOutbox } from '../triggers/pg-outbox.ts';
import { createPgPollStateStore } from './pg-poll-state-store.ts';
import { seedSubscription, until } from './test-fixtures.ts';
import { createPollingService, type PollingService } from './polling-service.ts';

// The polling side of the service over a real (in-memory PGlite) store and the real polling engine; only the
// connector's poll step is a stand-in: a fake "API" whose item list the tests grow.

interface Api {
  items: { id: string; n: number }[];
  /** Throw this instead of answering (auth failures). */
  failWith: ConnectorError | undefined;
  /** While set, a poll waits for it before it reads the items (a slow API the test releases). */
  gate: Promise<void> | undefined;
  calls: number;
}

const MANIFEST_TRIGGER = { name: 'newThing', type: 'polling' as const, polling: { intervalSeconds: 60, dedupe: { by: 'id' as const, path: '/id' } } };

/** A ServiceRuntime whose only working parts are `load` (the manifest's trigger) and the poll step. */
function fakeRuntime(api: Api): ServiceRuntime {
  const runtime: Pick<Runtime, 'load' | 'executeTrigger'> = {
    async load(connector, version) {
      return { key: `${connector}@${version}`, code: '', sha256: '0'.repeat(64), manifest: { name: connector, version, triggers: [MANIFEST_TRIGGER] } as never };
    },
    async executeTrigger<T>(_input: TriggerInput) {
      api.calls += 1;
      if (api.gate) await api.gate;
      if (api.failWith) throw api.failWith;
      // Like many APIs without a "since" filter: the newest page every time (oldest first); the engine dedupes by id.
      const data = { items: api.items.slice(-50), state: { lastCall: api.calls } };
      return { data: data as T, meta: { executionId: 'x', durationMs: 0, attempts: 1, httpCalls: 1, bytesIn: 0, bytesOut: 0 } };
    },
  };
  return { runtime: runtime as Runtime, asTenant: (_t, fn) => fn(), background: () => undefined, close: async () => undefined };
}

/** Every event the store's outbox holds for a tenant. */
async function eventsOf(db: Db, tenantId: string): Promise<OutboxEvent[]> {
  return createPgOutbox(db).readAfter({ tenantId, limit: 1000 });
}

/** Subscriptions of these tests poll every 100 ms (the operator's per-subscription interval). */
const EVERY_100_MS = { pollIntervalMs: 100 };

describe('polling service (in-process scheduler, PGlite)', () => {
  let store: TestDb;
  let api: Api;
  const services: PollingService[] = [];
  const start = async (extra: Partial<Parameters<typeof createPollingService>[0]> = {}) => {
    const service = createPollingService({ db: store.db, runtime: fakeRuntime(api), maxBackoffMs: 200, ...extra });
    services.push(service);
    await service.start();
    return service;
  };

  // One migrated store for the file (each test seeds its own tenants); everything else is fresh per test.
  beforeAll(async () => {
    store = await createTestPglite();
  }, 120_000);
  afterAll(async () => {
    await store?.dispose();
  });
  beforeEach(() => {
    api = { items: [{ id: 'a', n: 1 }, { id: 'b', n: 2 }], failWith: undefined, gate: undefined, calls: 0 };
  });
  afterEach(async () => {
    for (const s of services.splice(0)) await s.close();
    // Stop whatever this test left active, so the next test's service does not poll it.
    await store.db.query(`UPDATE connectors.trigger_subscriptions SET status = 'stopped'`);
  });

  it('baselines, emits each new item once, and keeps doing so across a restart on the same store', async () => {
    const { tenantId, subscriptionId } = await seedSubscription(store.db, EVERY_100_MS);
    const first = await start();
    expect(first.mode).toBe('in-process');
    await until('the baseline poll', () => api.calls >= 2);
    expect(await eventsOf(store.db, tenantId)).toEqual([]);

    api.items.push({ id: 'c', n: 3 }, { id: 'd', n: 4 });
    await until('c and d', async () => (await eventsOf(store.db, tenantId)).length === 2);
    await first.close();

    const callsBefore = api.calls;
    api.items.push({ id: 'e', n: 5 });
    const second = await start();
    await until('e after the restart', async () => (await eventsOf(store.db, tenantId)).length === 3);
    await until('two more polls', () => api.calls >= callsBefore + 3);
    await second.close();

    const events = await eventsOf(store.db, tenantId);
    expect(events.map((e) => e.payload)).toEqual([{ id: 'c', n: 3 }, { id: 'd', n: 4 }, { id: 'e', n: 5 }]);
    expect(events.every((e) => e.subscriptionId === subscriptionId)).toBe(true);
    expect(events.map((e) => e.key)).toEqual(['id:c', 'id:d', 'id:e']);
    // The state is in PostgreSQL, tenant-scoped: the connector's cursor and the ids seen.
    const state = await createPgPollStateStore({ db: store.db, tenantOf: async () => tenantId }).load(subscriptionId);
    expect(state).toMatchObject({ baselined: true, failures: 0 });
    expect(state!.seenIds).toEqual(expect.arrayContaining(['id:a', 'id:b', 'id:c', 'id:d', 'id:e']));
  });

  it('keeps poll states per tenant under row-level security', async () => {
    const a = await seedSubscription(store.db, EVERY_100_MS);
    const b = await seedSubscription(store.db, EVERY_100_MS);
    await start();
    await until('both baselines', async () => (await store.db.query('SELECT 1 FROM connectors.poll_states WHERE subscription_id = ANY($1)', [[a.subscriptionId, b.subscriptionId]])).rows.length === 2);
    const seenByA = await store.db.withTenant(a.tenantId, (tx) => tx.query<{ subscription_id: string }>('SELECT subscription_id FROM connectors.poll_states'));
    expect(seenByA.rows.map((r) => r.subscription_id)).toEqual([a.subscriptionId]);
    // A store asked to write b's state under a's tenant writes nothing (RLS), and reading finds nothing.
    const wrong = createPgPollStateStore({ db: store.db, tenantOf: async () => a.tenantId });
    expect(await wrong.load(b.subscriptionId)).toBeUndefined();
  });

  it('backs off on failures and, after repeated auth failures, marks the connection and stops polling', async () => {
    const { tenantId, subscriptionId, connectionId } = await seedSubscription(store.db, EVERY_100_MS);
    const service = await start({ authFailureThreshold: 3 });
    await until('the baseline', () => api.calls >= 1);
    api.failWith = new ConnectorError('AUTH_FAILED', 'Acme refused the API key; reconnect');
    const status = async () => (await store.db.withTenant(tenantId, (tx) => tx.query<{ status: string; status_detail: string | null }>('SELECT status, status_detail FROM connectors.connections WHERE id = $1', [connectionId]))).rows[0]!;
    await until('needs_reauth', async () => (await status()).status === 'needs_reauth');
    expect((await status()).status_detail).toMatch(/AUTH_FAILED.*Reconnect the account/);
    const sub = await store.db.withTenant(tenantId, (tx) => tx.query<{ status: string }>('SELECT status FROM connectors.trigger_subscriptions WHERE id = $1', [subscriptionId]));
    expect(sub.rows[0]!.status).toBe('failed');
    const state = await createPgPollStateStore({ db: store.db, tenantOf: async () => tenantId }).load(subscriptionId);
    expect(state).toMatchObject({ authFailures: 3, lastError: { code: 'AUTH_FAILED' } });
    expect(state!.nextAttemptAt).toBeGreaterThan(state!.lastSuccessAt!);
    const calls = api.calls;
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(api.calls).toBe(calls);

    // Reconnected and enabled again: the backoff is cleared and new items flow; nothing from before is replayed.
    api.failWith = undefined;
    api.items.push({ id: 'z', n: 26 });
    await store.db.withTenant(tenantId, (tx) => tx.query(`UPDATE connectors.trigger_subscriptions SET status = 'active' WHERE id = $1`, [subscriptionId]));
    await service.onPollingEnabled({ id: subscriptionId, tenantId });
    await until('z', async () => (await eventsOf(store.db, tenantId)).length === 1);
    expect((await eventsOf(store.db, tenantId))[0]!.payload).toEqual({ id: 'z', n: 26 });
  });

  it('schedules on enable and stops on disable', async () => {
    const service = await start();
    const { tenantId, subscriptionId } = await seedSubscription(store.db, EVERY_100_MS);
    await service.onPollingEnabled({ id: subscriptionId, tenantId });
    await until('the baseline', () => api.calls >= 1);
    await service.onPollingDisabled(subscriptionId);
    const calls = api.calls;
    api.items.push({ id: 'late', n: 9 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(api.calls).toBe(calls);
    expect(await eventsOf(store.db, tenantId)).toEqual([]);
  });

  it('stores none of the items of a poll that was running when its subscription was disabled', async () => {
    const { tenantId, subscriptionId } = await seedSubscription(store.db, EVERY_100_MS);
    const service = await start();
    const states = createPgPollStateStore({ db: store.db, tenantOf: async () => tenantId });
    await until('the baseline', async () => (await states.load(subscriptionId))?.baselined === true);
    let release!: () => void;
    api.gate = new Promise((resolve) => { release = resolve; });
    const calls = api.calls;
    api.items.push({ id: 'late', n: 9 });
    await until('a poll waiting at the API', () => api.calls > calls);
    // Disabled as the trigger service does it: the row first (committed), then the scheduler.
    await store.db.withTenant(tenantId, (tx) => tx.query(`UPDATE connectors.trigger_subscriptions SET status = 'stopped' WHERE id = $1`, [subscriptionId]));
    const unscheduled = service.onPollingDisabled(subscriptionId);
    api.gate = undefined;
    release();
    // The in-process scheduler lets the running poll finish before it resolves.
    await unscheduled;
    expect(await eventsOf(store.db, tenantId)).toEqual([]);
    expect(await states.load(subscriptionId)).toMatchObject({ lastError: { code: 'CONFLICT', message: expect.stringContaining('was disabled while it was polling') } });
  });

  it('refuses to schedule unknown, webhook and inactive subscriptions, saying which', async () => {
    const service = await start();
    const hook = await seedSubscription(store.db, { ...EVERY_100_MS, kind: 'webhook' });
    await expect(service.onPollingEnabled({ id: hook.subscriptionId, tenantId: hook.tenantId })).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('webhook subscription') });
    await expect(service.onPollingEnabled({ id: '00000000-0000-4000-8000-000000000000', tenantId: hook.tenantId })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const stopped = await seedSubscription(store.db, EVERY_100_MS);
    await store.db.query(`UPDATE connectors.trigger_subscriptions SET status = 'stopped' WHERE id = $1`, [stopped.subscriptionId]);
    await expect(service.onPollingEnabled({ id: stopped.subscriptionId, tenantId: stopped.tenantId })).rejects.toMatchObject({ code: 'CONFLICT' });
    // Another tenant's subscription is unknown to a tenant (RLS).
    const other = await seedSubscription(store.db, EVERY_100_MS);
    await expect(service.onPollingEnabled({ id: other.subscriptionId, tenantId: hook.tenantId })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
