import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { OutboxEvent } from '@businessos/connector-triggers';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type ServerConfig } from '../config.ts';
import { createTestPostgres, servicesRequired, type TestDb } from '../db/test-db.ts';
import { startServer, type RunningServer } from '../main.ts';
import { createPgOutbox } from '../triggers/pg-outbox.ts';
import { EVENTS_QUEUE_NAME } from '../triggers/trigger-service.ts';
import { startStripeCustomersMock, type StripeCustomersMock } from './stripe-customers-mock.ts';

// "A polling trigger against a mock API emits each new item once across restarts of the service": the bundled
// Stripe connector's `newCustomer` polling trigger, run by the real service (startServer: store, migrations,
// runtime, sandbox) against a loopback mock of the Stripe API, stopped and started again on the same store.

const SECRET_KEY = 'sk_test_poll_4eC39HqLyjWDarjtT1zdp7dc';

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function start(config: ServerConfig, mock: StripeCustomersMock, lines: string[]): Promise<RunningServer> {
  // The connector calls its declared host api.stripe.com, on the mock's port; the test resolver points it at loopback.
  const runtimeConfig = {
    baseUrlOverrides: { stripe: `http://api.stripe.com:${new URL(mock.url).port}` },
    egress: { resolver: async (host: string) => (host === 'api.stripe.com' ? [{ address: '127.0.0.1', family: 4 as const }] : []) },
  };
  const server = await startServer(config, (line) => lines.push(line), { allowLoopbackEgress: true, runtimeConfig });
  await server.startup;
  return server;
}

async function api<T>(server: RunningServer, key: string, method: string, url: string, body?: unknown): Promise<T> {
  const res = await fetch(`${server.address}${url}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** Enables `newCustomer` on a connection through the API, polling every 250 ms; resolves to the subscription's id. */
async function enablePolling(server: RunningServer, key: string, tenantId: string, connectionId: string): Promise<string> {
  // Enabled through the API as a user would: the route writes the row and hands it to the polling service.
  const enabled = await api<{ id: string; kind: string; status: string }>(server, key, 'POST', `/connections/${connectionId}/triggers`, { trigger: 'newCustomer' });
  expect(enabled).toMatchObject({ kind: 'polling', status: 'active' });
  const subscriptionId = enabled.id;
  // Stripe's manifest polls every 5 minutes; the operator's per-subscription override makes it 250 ms for the test.
  await server.polling!.onPollingDisabled(subscriptionId);
  await server.db.withTenant(tenantId, (tx) => tx.query('UPDATE connectors.trigger_subscriptions SET poll_interval_ms = 250 WHERE id = $1', [subscriptionId]));
  await server.polling!.onPollingEnabled({ id: subscriptionId, tenantId });
  return subscriptionId;
}

/** A tenant with Stripe installed and connected through the API, and an active `newCustomer` polling subscription. */
async function enableNewCustomer(server: RunningServer, adminKey: string): Promise<{ tenantId: string; subscriptionId: string; key: string; connectionId: string }> {
  const tenant = await api<{ tenant: { id: string }; apiKey: { secret: string } }>(server, adminKey, 'POST', '/tenants', { name: `poll-${randomBytes(3).toString('hex')}` });
  const key = tenant.apiKey.secret;
  const search = await api<{ results: { id: string; name: string }[] }>(server, key, 'GET', '/marketplace/search?q=stripe');
  const listing = search.results.find((r) => r.name === 'stripe')!;
  const installed = await api<{ installation: { id: string } }>(server, key, 'POST', `/marketplace/install/${listing.id}`, {});
  const connection = await api<{ id: string }>(server, key, 'POST', '/connections', { installationId: installed.installation.id, name: 'main', credentials: { token: SECRET_KEY } });
  const tenantId = tenant.tenant.id;
  const subscriptionId = await enablePolling(server, key, tenantId, connection.id);
  return { tenantId, subscriptionId, key, connectionId: connection.id };
}

/** Whether the subscription's first poll recorded its baseline. */
async function baselined(server: RunningServer, tenantId: string, subscriptionId: string): Promise<boolean> {
  const { rows } = await server.db.withTenant(tenantId, (tx) => tx.query(`SELECT 1 FROM connectors.poll_states WHERE subscription_id = $1 AND state ->> 'baselined' = 'true'`, [subscriptionId]));
  return rows.length === 1;
}

async function eventsOf(server: RunningServer, tenantId: string): Promise<OutboxEvent[]> {
  return createPgOutbox(server.db).readAfter({ tenantId, limit: 1000 });
}

const customerIds = (events: OutboxEvent[]) => events.map((e) => (e.payload as { id: string }).id);
/** Requests of a poll that found no state: the baseline asks for the newest customer only. */
const baselineRequests = (mock: StripeCustomersMock) => mock.requests.filter((r) => r.query.limit === '1' && r.query['created[gte]'] === undefined);

/**
 * The scenario on one store: baseline, two new customers, restart (`instances` processes the second time, all
 * sharing the store), a customer created while the service was down and one after; each emitted exactly once.
 */
async function runScenario(config: () => ServerConfig, mock: StripeCustomersMock, instances: number): Promise<{ subscriptionId: string }> {
  const lines: string[] = [];
  mock.addCustomer('Existing1');
  mock.addCustomer('Existing2');
  const first = await start(config(), mock, lines);
  const adminKey = /bos_[A-Za-z0-9_-]{43}/.exec(lines.join('\n'))?.[0];
  expect(adminKey).toBeDefined();
  const { tenantId, subscriptionId, key, connectionId } = await enableNewCustomer(first, adminKey!);

  // First poll: a baseline (the newest existing customer), nothing emitted.
  await until('the baseline poll', () => baselined(first, tenantId, subscriptionId));
  await until('a poll after the baseline', () => mock.requests.some((r) => r.query['created[gte]'] !== undefined));
  expect(await eventsOf(first, tenantId)).toEqual([]);
  expect(mock.requests.every((r) => r.authorization === `Bearer ${SECRET_KEY}`)).toBe(true);

  const a = mock.addCustomer('Ada');
  const b = mock.addCustomer('Bob');
  await until('Ada and Bob', async () => (await eventsOf(first, tenantId)).length >= 2);
  await first.stop();

  // Created while the service is down: found by the first poll after the restart.
  const c = mock.addCustomer('Cy');
  const servers: RunningServer[] = [];
  for (let i = 0; i < instances; i += 1) servers.push(await start(config(), mock, lines));
  const second = servers[0]!;
  await until('Cy after the restart', async () => (await eventsOf(second, tenantId)).length >= 3);
  const d = mock.addCustomer('Di');
  await until('Di', async () => (await eventsOf(second, tenantId)).length >= 4);
  // A few more polls that find nothing new.
  const seen = mock.requests.length;
  await until('three more polls', () => mock.requests.length >= seen + 3);
  for (const s of servers) await s.stop();

  const third = await start(config(), mock, lines);
  const events = await eventsOf(third, tenantId);

  // The key is revoked at Stripe: polls fail with AUTH_FAILED, back off, and after three in a row the connection
  // shows needs_reauth and the subscription failed, through the API.
  mock.rotateKey('sk_test_rotated_elsewhere');
  const connectionStatus = async () => (await api<{ items: { id: string; status: string; statusDetail: string | null }[] }>(third, key, 'GET', '/connections')).items.find((c) => c.id === connectionId)!;
  await until('the connection to need re-authentication', async () => (await connectionStatus()).status === 'needs_reauth');
  expect((await connectionStatus()).statusDetail).toMatch(/newCustomer failed 3 times in a row with AUTH_FAILED/);
  const subscriptions = await api<{ items: { id: string; status: string; poll: unknown }[] }>(third, key, 'GET', `/connections/${connectionId}/triggers`);
  // The tenant sees why polling stopped and how it went before: the failures in a row and the provider's refusal.
  expect(subscriptions.items.find((s) => s.id === subscriptionId)).toMatchObject({
    status: 'failed',
    poll: { failures: 3, lastError: { code: 'AUTH_FAILED', message: expect.any(String) }, lastSuccessAt: expect.stringMatching(/^\d{4}-/), nextAttemptAt: expect.stringMatching(/^\d{4}-/) },
  });
  expect(mock.requests.filter((r) => r.status === 401).length).toBeGreaterThanOrEqual(3);
  await third.stop();
  expect(customerIds(events)).toEqual([a.id, b.id, c.id, d.id]);
  expect(new Set(events.map((e) => e.key)).size).toBe(4);
  expect(events.every((e) => e.subscriptionId === subscriptionId && e.tenantId === tenantId)).toBe(true);
  // The connector's cursor survived every restart: there was exactly one baseline, ever.
  expect(baselineRequests(mock)).toHaveLength(1);
  return { subscriptionId };
}

/**
 * A poll is caught at the API (the mock holds its request) while the tenant disables the trigger through the API;
 * released after the disable committed, it must store nothing. Enabled again, the trigger starts from a new
 * baseline: customers created while it was off are not replayed.
 */
async function runDisableScenario(config: ServerConfig, mock: StripeCustomersMock): Promise<void> {
  const lines: string[] = [];
  mock.addCustomer('Existing');
  const server = await start(config, mock, lines);
  try {
    const adminKey = /bos_[A-Za-z0-9_-]{43}/.exec(lines.join('\n'))?.[0];
    const { tenantId, subscriptionId, key, connectionId } = await enableNewCustomer(server, adminKey!);
    await until('the baseline poll', () => baselined(server, tenantId, subscriptionId));
    const ada = mock.addCustomer('Ada');
    await until('Ada', async () => (await eventsOf(server, tenantId)).length >= 1);

    const release = mock.hold();
    mock.addCustomer('Late');
    await until('a poll waiting at the API', () => mock.held > 0);
    const status = async () => (await server.db.withTenant(tenantId, (tx) => tx.query<{ status: string }>('SELECT status FROM connectors.trigger_subscriptions WHERE id = $1', [subscriptionId]))).rows[0]!.status;
    // The in-process scheduler answers the disable only once the poll in progress ended: not awaited before release.
    const disabling = api<{ subscription: { status: string } }>(server, key, 'DELETE', `/connections/${connectionId}/triggers/${subscriptionId}`);
    await until('the disable to commit', async () => (await status()) === 'stopped');
    release();
    expect(await disabling).toMatchObject({ subscription: { status: 'stopped' } });
    const refused = () => lines.some((l) => l.includes(`Polling subscription ${subscriptionId} was disabled while it was polling`));
    await until('the held poll to end', async () => refused() || (await eventsOf(server, tenantId)).length > 1);
    expect(customerIds(await eventsOf(server, tenantId))).toEqual([ada.id]);
    expect(refused()).toBe(true);

    mock.addCustomer('WhileOff');
    const baselinesBefore = baselineRequests(mock).length;
    const again = await enablePolling(server, key, tenantId, connectionId);
    expect(again).not.toBe(subscriptionId);
    await until('the new baseline', () => baselined(server, tenantId, again));
    expect(baselineRequests(mock)).toHaveLength(baselinesBefore + 1);
    const di = mock.addCustomer('Di');
    await until('Di', async () => (await eventsOf(server, tenantId)).length >= 2);
    const seen = mock.requests.length;
    await until('two more polls', () => mock.requests.length >= seen + 2);
    const events = await eventsOf(server, tenantId);
    expect(events.map((e) => [e.subscriptionId, (e.payload as { id: string }).id])).toEqual([[subscriptionId, ada.id], [again, di.id]]);
  } finally {
    await server.stop();
  }
}

describe('polling trigger across restarts: in-process scheduler, embedded store (PGlite on disk)', () => {
  let mock: StripeCustomersMock;
  beforeAll(async () => {
    mock = await startStripeCustomersMock(SECRET_KEY);
  });
  afterAll(async () => {
    await mock?.close();
  });

  it('emits each new Stripe customer once, none of the existing ones, across a restart', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'bos-polling-'));
    const config = () => ({ ...loadConfig({ BOS_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' }), logLevel: 'silent' as const });
    await runScenario(config, mock, 1);
  }, 300_000);

  it('stores nothing from a poll still running when the trigger was disabled, and re-enables from a new baseline', async () => {
    const own = await startStripeCustomersMock(SECRET_KEY);
    try {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'bos-polling-'));
      await runDisableScenario({ ...loadConfig({ BOS_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' }), logLevel: 'silent' as const }, own);
    } finally {
      await own.close();
    }
  }, 300_000);
});

const databaseUrl = process.env.DATABASE_URL;
const redisUrl = process.env.REDIS_URL;
if ((!databaseUrl || !redisUrl) && servicesRequired(process.env)) throw new Error('BOS_REQUIRE_SERVICES=1 but DATABASE_URL or REDIS_URL is not set: the BullMQ polling test needs both');
const withServices = databaseUrl && redisUrl ? describe : describe.skip;

withServices(`polling trigger across restarts: BullMQ scheduler, PostgreSQL${databaseUrl && redisUrl ? '' : ' (skipped: DATABASE_URL and REDIS_URL are needed)'}`, () => {
  let mock: StripeCustomersMock;
  let store: TestDb;
  const prefix = `bos-test-poll-${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    mock = await startStripeCustomersMock(SECRET_KEY);
    store = await createTestPostgres(databaseUrl!);
    await store.db.close();
  }, 120_000);
  afterAll(async () => {
    await mock?.close();
    await store?.dispose().catch(() => undefined);
    const redis = new Redis(redisUrl!);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('emits each new Stripe customer once across a restart into two processes sharing the schedule', async () => {
    const masterKey = randomBytes(32).toString('hex');
    const config = () => ({ ...loadConfig({ DATABASE_URL: store.url!, REDIS_URL: redisUrl!, BOS_REDIS_PREFIX: prefix, PORT: '0', HOST: '127.0.0.1', BOS_MASTER_KEY: masterKey }), logLevel: 'silent' as const });
    const { subscriptionId } = await runScenario(config, mock, 2);
    // The schedule lives in Redis under this deployment's prefix.
    const redis = new Redis(redisUrl!);
    expect(await redis.keys(`${prefix}:bull:bos-trigger-polls:*`)).not.toEqual([]);
    // Each stored event was also pushed to the events queue, once.
    const queue = new Queue(EVENTS_QUEUE_NAME, { connection: redis, prefix: `${prefix}:bull` });
    try {
      const jobs = (await queue.getJobs(['waiting', 'delayed', 'active', 'completed'])).filter((j) => (j.data as { subscriptionId: string }).subscriptionId === subscriptionId);
      expect(jobs.map((j) => j.name)).toEqual(['trigger-event', 'trigger-event', 'trigger-event', 'trigger-event']);
    } finally {
      await queue.close();
      redis.disconnect();
    }
  }, 300_000);

  it('stores nothing from a poll still running when the trigger was disabled, and re-enables from a new baseline', async () => {
    const own = await startStripeCustomersMock(SECRET_KEY);
    // Its own database (a first start, which prints the admin key) and key prefix (no schedule of the other test).
    const db = await createTestPostgres(databaseUrl!);
    await db.db.close();
    try {
      const masterKey = randomBytes(32).toString('hex');
      await runDisableScenario({ ...loadConfig({ DATABASE_URL: db.url!, REDIS_URL: redisUrl!, BOS_REDIS_PREFIX: `${prefix}-off`, PORT: '0', HOST: '127.0.0.1', BOS_MASTER_KEY: masterKey }), logLevel: 'silent' as const }, own);
    } finally {
      await own.close();
      await db.dispose().catch(() => undefined);
    }
  }, 300_000);
});
