import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { OutboxEvent } from '@businessos/connector-triggers';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type ServerConfig } from '../config.ts';
import { createTestPostgres, servicesRequired, type TestDb } from '../db/test-db.ts';
import { startServer, type RunningServer } from '../main.ts';
import { createPgOutbox } from '../triggers/pg-outbox.ts';
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

/** A tenant with Stripe installed and connected through the API, and an active `newCustomer` polling subscription. */
async function enableNewCustomer(server: RunningServer, adminKey: string): Promise<{ tenantId: string; subscriptionId: string; key: string; connectionId: string }> {
  const tenant = await api<{ tenant: { id: string }; apiKey: { secret: string } }>(server, adminKey, 'POST', '/tenants', { name: `poll-${randomBytes(3).toString('hex')}` });
  const key = tenant.apiKey.secret;
  const search = await api<{ results: { id: string; name: string }[] }>(server, key, 'GET', '/marketplace/search?q=stripe');
  const listing = search.results.find((r) => r.name === 'stripe')!;
  const installed = await api<{ installation: { id: string } }>(server, key, 'POST', `/marketplace/install/${listing.id}`, {});
  const connection = await api<{ id: string }>(server, key, 'POST', '/connections', { installationId: installed.installation.id, name: 'main', credentials: { token: SECRET_KEY } });
  const tenantId = tenant.tenant.id;
  // Enabled through the API as a user would: the route writes the row and hands it to the polling service.
  const enabled = await api<{ id: string; kind: string; status: string }>(server, key, 'POST', `/connections/${connection.id}/triggers`, { trigger: 'newCustomer' });
  expect(enabled).toMatchObject({ kind: 'polling', status: 'active' });
  const subscriptionId = enabled.id;
  // Stripe's manifest polls every 5 minutes; the operator's per-subscription override makes it 250 ms for the test.
  await server.polling!.onPollingDisabled(subscriptionId);
  await server.db.withTenant(tenantId, (tx) => tx.query('UPDATE connectors.trigger_subscriptions SET poll_interval_ms = 250 WHERE id = $1', [subscriptionId]));
  await server.polling!.onPollingEnabled({ id: subscriptionId, tenantId });
  return { tenantId, subscriptionId, key, connectionId: connection.id };
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
async function runScenario(config: () => ServerConfig, mock: StripeCustomersMock, instances: number): Promise<void> {
  const lines: string[] = [];
  mock.addCustomer('Existing1');
  mock.addCustomer('Existing2');
  const first = await start(config(), mock, lines);
  const adminKey = /bos_[A-Za-z0-9_-]{43}/.exec(lines.join('\n'))?.[0];
  expect(adminKey).toBeDefined();
  const { tenantId, subscriptionId, key, connectionId } = await enableNewCustomer(first, adminKey!);

  // First poll: a baseline (the newest existing customer), nothing emitted.
  await until('the baseline poll', async () => (await first.db.withTenant(tenantId, (tx) => tx.query(`SELECT 1 FROM connectors.poll_states WHERE subscription_id = $1 AND state ->> 'baselined' = 'true'`, [subscriptionId]))).rows.length === 1);
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
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('emits each new Stripe customer once across a restart into two processes sharing the schedule', async () => {
    const masterKey = randomBytes(32).toString('hex');
    const config = () => ({ ...loadConfig({ DATABASE_URL: store.url!, REDIS_URL: redisUrl!, BOS_REDIS_PREFIX: prefix, PORT: '0', HOST: '127.0.0.1', BOS_MASTER_KEY: masterKey }), logLevel: 'silent' as const });
    await runScenario(config, mock, 2);
    // The schedule lives in Redis under this deployment's prefix.
    const redis = new Redis(redisUrl!);
    expect(await redis.keys(`${prefix}:bull:bos-trigger-polls:*`)).not.toEqual([]);
    redis.disconnect();
  }, 300_000);
});
