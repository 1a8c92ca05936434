// The service's webhook ingress while its store stalls or is unreachable: deliveries waiting on it are bounded, and a
// lookup that fails answers a clear 5xx. The store and the outbox are stubs; handleDelivery is the real one.
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Vault } from '@businessos/connector-runtime';
import type { TriggerManifest } from '@businessos/connector-sdk';
import { createMemoryOutbox, createMemorySeenEvents, type EventOutbox } from '@businessos/connector-triggers';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../config.ts';
import type { Db, Queryable } from '../db/db.ts';
import type { ServiceRuntime } from '../execution/service-runtime.ts';
import type { SubscriptionSecrets } from './subscription-secrets.ts';
import { clientKey, createWebhookIngress, type WebhookIngressDeps } from './webhook-ingress.ts';

const SECRET = 'shpss_ingress';
const TRIGGER: TriggerManifest = {
  name: 'newOrder',
  displayName: 'New order',
  description: 'A new order',
  type: 'webhook',
  webhook: { topic: 'orders/create', subscribe: true, unsubscribe: true, transform: true, verify: { scheme: 'shopify', secret: 'config:client_secret' }, eventId: 'header:X-Shopify-Webhook-Id' },
};
const TENANT = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const SUBSCRIPTION = '9b2f1c4e-1d2a-4f5e-8a7b-3c6d5e4f3a2b';

/** A store whose endpoint lookup finds every well-formed id, unless `down` makes it fail as an unreachable one. */
function stubDb(state: { down: boolean }): Db {
  return {
    engine: 'postgres',
    async withTenant<T>(_tenant: string | null, fn: (tx: Queryable) => Promise<T>): Promise<T> {
      if (state.down) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      const tx = {
        async query() {
          return { rows: [{ subscription_id: SUBSCRIPTION, tenant_id: TENANT, connection_id: 'conn-1', status: 'active', trigger_name: 'newOrder', connector_name: 'shopify', connector_version: '1.0.0', fields: {}, trigger: TRIGGER }], rowCount: 1 };
        },
      } as unknown as Queryable;
      return fn(tx);
    },
  } as unknown as Db;
}

function setup(outbox: EventOutbox, extra: Partial<WebhookIngressDeps> = {}, state = { down: false }) {
  const config = loadConfig({ BOS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'bos-webhook-ingress-')), BOS_OAUTH_APPS: JSON.stringify({ shopify: { client_id: 'app', client_secret: SECRET } }) });
  const secrets: SubscriptionSecrets = { put: async () => {}, get: async () => undefined, delete: async () => {} };
  const ingress = createWebhookIngress({ db: stubDb(state), runtime: {} as ServiceRuntime, vault: {} as Vault, config, secrets, outbox, seen: createMemorySeenEvents(), cacheTtlMs: 0, ...extra });
  return { ingress, state };
}

const endpointId = randomBytes(32).toString('base64url');
const delivery = (n: number, bytes = 100) => {
  const rawBody = Buffer.from(JSON.stringify({ id: n, pad: 'x'.repeat(bytes) }));
  return { endpointId, rawBody, query: {}, headers: { 'x-shopify-hmac-sha256': createHmac('sha256', SECRET).update(rawBody).digest('base64'), 'x-shopify-webhook-id': `wh-${n}` } };
};

describe('webhook ingress while the store stalls', () => {
  it('answers 503 with Retry-After at once past the deliveries or bytes waiting on the store, and takes them again once it answers', async () => {
    const memory = createMemoryOutbox();
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => (release = resolve));
    const outbox: EventOutbox = { ...memory, storeDelivery: async (d) => (await stalled, memory.storeDelivery(d)) };
    const { ingress } = setup(outbox, { maxPending: { deliveries: 3, bytes: 10_000 } });
    const waiting = [1, 2, 3].map((n) => ingress.receive(delivery(n)));
    const shed = await ingress.receive(delivery(4));
    expect(shed).toMatchObject({ status: 503, headers: { 'retry-after': expect.stringMatching(/^\d+$/) }, body: { error: { code: 'QUEUE_FULL', message: expect.stringContaining('retry') } } });
    release();
    expect((await Promise.all(waiting)).map((r) => r.status)).toEqual([200, 200, 200]);
    // Nothing waits any more: the refused delivery is taken when the provider retries it.
    expect(await ingress.receive(delivery(4))).toMatchObject({ status: 200 });

    // The bytes bound: one large delivery waiting leaves no room for another.
    let releaseBig!: () => void;
    const stalledBig = new Promise<void>((resolve) => (releaseBig = resolve));
    const slow: EventOutbox = { ...memory, storeDelivery: async (d) => (await stalledBig, memory.storeDelivery(d)) };
    const { ingress: bounded } = setup(slow, { maxPending: { deliveries: 100, bytes: 10_000 } });
    const big = bounded.receive(delivery(5, 6_000));
    expect(await bounded.receive(delivery(6, 6_000))).toMatchObject({ status: 503 });
    releaseBig();
    expect(await big).toMatchObject({ status: 200 });
    expect(memory.deliveries().map((d) => d.eventId).sort()).toEqual(['wh-1', 'wh-2', 'wh-3', 'wh-4', 'wh-5']);
  });

  it('answers a lookup the store cannot make with a 500 saying to retry, reports it, and stores nothing half', async () => {
    const memory = createMemoryOutbox();
    const onError = vi.fn();
    const { ingress, state } = setup(memory, { onError, maxPending: { deliveries: 1 } }, { down: true });
    for (const n of [1, 2]) {
      const res = await ingress.receive(delivery(n));
      expect(res).toMatchObject({ status: 500, body: { error: { code: 'INTERNAL', message: expect.stringMatching(/could not be looked up.*retry/) } } });
    }
    expect(onError).toHaveBeenCalledWith('resolve', expect.objectContaining({ code: 'ECONNREFUSED' }), endpointId);
    expect(memory.deliveries()).toEqual([]);
    // Failed lookups hold no room: with a bound of one, the next delivery is taken once the store is back.
    state.down = false;
    expect(await ingress.receive(delivery(1))).toMatchObject({ status: 200 });
    expect(memory.deliveries().map((d) => d.eventId)).toEqual(['wh-1']);
  });
});

/** A store that knows only `known` ids, counting the lookups it is asked. */
function knownOnlyDb(known: Set<string>, asked: { count: number }): Db {
  return {
    engine: 'postgres',
    async withTenant<T>(_tenant: string | null, fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const tx = {
        async query(_sql: string, params: readonly unknown[]) {
          asked.count += 1;
          if (!known.has(String(params[0]))) return { rows: [], rowCount: 0 };
          return { rows: [{ subscription_id: SUBSCRIPTION, tenant_id: TENANT, connection_id: 'conn-1', status: 'active', trigger_name: 'newOrder', connector_name: 'shopify', connector_version: '1.0.0', fields: {}, trigger: TRIGGER }], rowCount: 1 };
        },
      } as unknown as Queryable;
      return fn(tx);
    },
  } as unknown as Db;
}

describe('webhook ingress against a flood of made-up endpoint ids', () => {
  const made = () => randomBytes(32).toString('base64url');
  function limited(known: Set<string>, cacheTtlMs: number) {
    const asked = { count: 0 };
    const config = loadConfig({ BOS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'bos-webhook-ingress-')), BOS_OAUTH_APPS: JSON.stringify({ shopify: { client_id: 'app', client_secret: SECRET } }) });
    const secrets: SubscriptionSecrets = { put: async () => {}, get: async () => undefined, delete: async () => {} };
    const ingress = createWebhookIngress({
      db: knownOnlyDb(known, asked),
      runtime: {} as ServiceRuntime,
      vault: {} as Vault,
      config,
      secrets,
      outbox: createMemoryOutbox(),
      seen: createMemorySeenEvents(),
      cacheTtlMs,
      lookupsPerClient: { burst: 5, perSecond: 0.01 },
    });
    return { ingress, asked };
  }
  const to = (id: string, n: number, clientAddress: string) => ({ ...delivery(n), endpointId: id, clientAddress });

  it('stops asking the store for a client that keeps sending unknown ids, answering 429 for any id it would look up, known or not', async () => {
    const real = made();
    const { ingress, asked } = limited(new Set([real]), 0);
    for (let i = 0; i < 5; i += 1) expect(await ingress.receive(to(made(), i, '203.0.113.7'))).toMatchObject({ status: 404 });
    // The sixth unknown id still gets its 404, and uses up the bucket.
    expect(await ingress.receive(to(made(), 5, '203.0.113.7'))).toMatchObject({ status: 404 });
    expect(asked.count).toBe(6);
    const refused = await ingress.receive(to(made(), 6, '203.0.113.7'));
    expect(refused).toMatchObject({ status: 429, headers: { 'retry-after': expect.stringMatching(/^[1-9]\d*$/) }, body: { error: { code: 'RATE_LIMITED' } } });
    // The same answer for an endpoint that exists: the limit says nothing about which ids are real.
    expect(await ingress.receive(to(real, 7, '203.0.113.7'))).toMatchObject({ status: 429, body: { error: { code: 'RATE_LIMITED' } } });
    expect(asked.count).toBe(6);
    // Other clients are not held back; an IPv4 client seen as IPv4-mapped IPv6 is the same client.
    expect(await ingress.receive(to(real, 8, '198.51.100.9'))).toMatchObject({ status: 200 });
    expect(await ingress.receive(to(made(), 9, '::ffff:203.0.113.7'))).toMatchObject({ status: 429 });
    // Ids that cannot be endpoint ids never reach the store, so they are not limited either.
    expect(await ingress.receive(to('not-an-id', 10, '203.0.113.7'))).toMatchObject({ status: 404 });
  });

  it('never limits deliveries to endpoints that exist, however many and however often they are looked up', async () => {
    const ids = Array.from({ length: 40 }, made);
    const { ingress, asked } = limited(new Set(ids), 0);
    for (const [n, id] of ids.entries()) expect(await ingress.receive(to(id, n, '2001:db8:1:2::10'))).toMatchObject({ status: 200 });
    expect(asked.count).toBe(40);
  });

  it('keeps serving an endpoint resolved before the client was limited, without asking the store', async () => {
    const real = made();
    const { ingress, asked } = limited(new Set([real]), 60_000);
    expect(await ingress.receive(to(real, 0, '2001:db8:1:2::10'))).toMatchObject({ status: 200 });
    for (let i = 1; i <= 6; i += 1) await ingress.receive(to(made(), i, '2001:db8:1:2::' + i.toString(16)));
    // The whole /64 is one client.
    expect(await ingress.receive(to(made(), 7, '2001:db8:1:2:ffff::1'))).toMatchObject({ status: 429 });
    const before = asked.count;
    expect(await ingress.receive(to(real, 8, '2001:db8:1:2::10'))).toMatchObject({ status: 200 });
    expect(asked.count).toBe(before);
  });

  it('counts IPv6 clients per /64 and IPv4 clients per address', () => {
    expect(clientKey('2001:db8:0:5::1')).toBe(clientKey('2001:0db8:0000:0005:ffff:ffff:ffff:ffff'));
    expect(clientKey('2001:db8:0:5::1')).not.toBe(clientKey('2001:db8:0:6::1'));
    expect(clientKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(clientKey('192.0.2.1')).not.toBe(clientKey('192.0.2.2'));
    expect(clientKey('::1')).toBe(clientKey('0:0:0:0:0:0:0:1'));
  });
});
