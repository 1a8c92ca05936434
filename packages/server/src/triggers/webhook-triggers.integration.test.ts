// Webhook triggers end to end, as a new user meets them: the bundled Shopify, Stripe and Slack connectors on a
// service listening on loopback, their provider APIs mocked on loopback (the runtime's test-only loopback egress),
// deliveries sent over real HTTP, events read back through GET /events. On PGlite and on PostgreSQL.
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSandboxPool, createVault, type SandboxPool } from '@businessos/connector-runtime';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import { bootstrapPlatform } from '../bootstrap.ts';
import { loadConfig } from '../config.ts';
import { testEngines } from '../db/engines.ts';
import type { TestDb } from '../db/test-db.ts';
import { createServiceRuntime, type ServiceRuntime } from '../execution/service-runtime.ts';
import { seedBundledConnectors } from '../marketplace/seed.ts';
import { createPgVaultStore } from '../vault/pg-vault-store.ts';
import { createTriggerService, EVENTS_QUEUE_NAME, UNSUBSCRIBE_ATTEMPTS, type TriggerService } from './trigger-service.ts';

const SHOPIFY_SECRET = 'shpss_e2e_client_secret';
// Slack's documented example signing secret (https://api.slack.com/authentication/verifying-requests-from-slack).
const SLACK_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const STRIPE_WEBHOOK_SECRET = `whsec_${randomBytes(12).toString('hex')}`;

interface Recorded {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** Shopify's and Stripe's webhook-registration APIs on one loopback server; records every request. */
async function startMockProviders(): Promise<{ url: string; requests: Recorded[]; close(): Promise<void> }> {
  const requests: Recorded[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method ?? 'GET', path: url.pathname, headers: req.headers, body });
      res.setHeader('content-type', 'application/json');
      const send = (status: number, value: unknown) => {
        res.statusCode = status;
        res.end(JSON.stringify(value));
      };
      if (req.headers['x-shopify-access-token'] === 'shpat_revoked') return send(401, { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' });
      // A failing gateway whose error text holds a NUL character (which no PostgreSQL text column stores).
      if (req.headers['x-shopify-access-token'] === 'shpat_nul') return send(503, { errors: 'bad\u0000gateway' });
      if (req.method === 'POST' && url.pathname === '/admin/api/2025-01/webhooks.json') {
        const { webhook } = JSON.parse(body) as { webhook: { topic: string; address: string } };
        return send(201, { webhook: { id: 4759306, topic: webhook.topic, address: webhook.address, format: 'json' } });
      }
      if (req.method === 'DELETE' && url.pathname === '/admin/api/2025-01/webhooks/4759306.json') return send(200, {});
      if (req.method === 'POST' && url.pathname === '/v1/webhook_endpoints') {
        const form = new URLSearchParams(body);
        return send(200, { id: 'we_1Mr5jULkdIwHu7ix1ibLTM0x', object: 'webhook_endpoint', url: form.get('url'), enabled_events: form.getAll('enabled_events[0]'), secret: STRIPE_WEBHOOK_SECRET });
      }
      if (req.method === 'DELETE' && url.pathname === '/v1/webhook_endpoints/we_1Mr5jULkdIwHu7ix1ibLTM0x') return send(200, { id: 'we_1Mr5jULkdIwHu7ix1ibLTM0x', object: 'webhook_endpoint', deleted: true });
      return send(404, { errors: 'Not Found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

interface Service {
  app: FastifyInstance;
  /** BullMQ prefix of the events queue when REDIS_URL is set. */
  queuePrefix: string | undefined;
  redis: Redis | undefined;
  vault: ReturnType<typeof createVault>;
  base: string;
  triggers: TriggerService;
  as(key: string, options: InjectOptions): Promise<LightMyRequestResponse>;
  tenant(): Promise<{ tenantId: string; key: string }>;
  /** Installs a bundled connector and stores a connection as the OAuth callback or POST /connections would. */
  connect(t: { tenantId: string; key: string }, connector: string, credentials: Record<string, unknown>, fields?: Record<string, string>): Promise<string>;
  close(): Promise<void>;
}

async function startService(store: TestDb, providers: string): Promise<Service> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const masterKey = randomBytes(32);
  const mockPort = new URL(providers).port;
  const config = {
    ...loadConfig({
      BOS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'bos-triggers-')),
      BOS_PUBLIC_URL: base,
      BOS_OAUTH_APPS: JSON.stringify({ shopify: { client_id: 'shopify-app', client_secret: SHOPIFY_SECRET }, slack: { client_id: 'slack-app', client_secret: 'slack-secret', signing_secret: SLACK_SECRET } }),
    }),
    masterKey,
  };
  const boot = await bootstrapPlatform(store.db);
  const failed = (await seedBundledConnectors(store.db)).filter((o) => o.status === 'failed');
  if (failed.length > 0) throw new Error(`seeding failed: ${failed.map((f) => f.error).join('; ')}`);
  const vault = createVault({ store: createPgVaultStore(store.db), masterKey });
  const sandbox: SandboxPool = createSandboxPool({ workers: 1 });
  const runtime: ServiceRuntime = createServiceRuntime({
    db: store.db,
    vault,
    config,
    allowLoopback: true,
    sandbox,
    // The providers' real host names (so the manifests' declared hosts admit them), resolved to the loopback mock.
    runtimeConfig: {
      baseUrlOverrides: { shopify: `http://e2e-store.myshopify.com:${mockPort}/admin/api/2025-01`, stripe: `http://api.stripe.com:${mockPort}` },
      egress: { resolver: async (host) => (host.endsWith('.myshopify.com') || host === 'api.stripe.com' ? [{ address: '127.0.0.1', family: 4 }] : []) },
      retry: { maxAttempts: 1 },
    },
  });
  // With REDIS_URL: dedupe and rate limits in Redis and events pushed to BullMQ, under a prefix of this run's own.
  const redis = process.env.REDIS_URL ? new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: null }) : undefined;
  const prefix = `bos-test-${randomBytes(6).toString('hex')}`;
  const queuePrefix = redis ? `${prefix}:bull` : undefined;
  const triggers = createTriggerService({ db: store.db, runtime, vault, config, redis, queuePrefix, keyPrefix: prefix, rateLimit: { perSecond: 1, burst: 20 } });
  const app = await buildApp({ config, db: store.db, vault, runtime, triggers });
  await app.listen({ port, host: '127.0.0.1' });
  const as = (key: string, inject: InjectOptions) => app.inject({ ...inject, headers: { authorization: `Bearer ${key}`, ...inject.headers } });
  let n = 0;
  return {
    app,
    queuePrefix,
    redis,
    vault,
    base,
    triggers,
    as,
    async tenant() {
      const res = await as(boot.secret!, { method: 'POST', url: '/tenants', payload: { name: `triggers-${++n}` } });
      const body = res.json() as { tenant: { id: string }; apiKey: { secret: string } };
      return { tenantId: body.tenant.id, key: body.apiKey.secret };
    },
    async connect(t, connector, credentials, fields = {}) {
      const installed = await as(t.key, { method: 'POST', url: `/marketplace/install/${connector}`, payload: { connectionName: connector, fields } });
      expect(installed.statusCode, installed.body).toBeLessThan(300);
      const installationId = (installed.json() as { installation: { id: string } }).installation.id;
      const { rows } = await store.db.withTenant(t.tenantId, (tx) =>
        tx.query<{ id: string }>('INSERT INTO connectors.connections (tenant_id, installation_id, name, fields) VALUES ($1, $2, $3, $4) RETURNING id', [t.tenantId, installationId, connector, JSON.stringify(fields)]),
      );
      const id = rows[0]!.id;
      await vault.putCredentials(t.tenantId, id, { ...credentials, fields });
      return id;
    },
    async close() {
      await app.close();
      await triggers.close();
      await redis?.quit();
      await runtime.close();
      await sandbox.close();
    },
  };
}

interface EventView {
  id: string;
  position: string;
  subscriptionId: string;
  key: string;
  payload: Record<string, unknown>;
  deliveryId: string | null;
  ackedAt: string | null;
}

const post = (url: string, body: string | Buffer, headers: Record<string, string>) => fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

for (const engine of testEngines(process.env)) {
  const suite = engine.create ? describe : describe.skip;
  suite(`webhook triggers end to end on ${engine.name}${engine.skipReason ? ` (skipped: ${engine.skipReason})` : ''}`, () => {
    let store: TestDb;
    let providers: Awaited<ReturnType<typeof startMockProviders>>;
    let s: Service;

    beforeAll(async () => {
      store = await engine.create!();
      providers = await startMockProviders();
      s = await startService(store, providers.url);
    }, 120_000);
    afterAll(async () => {
      await s?.close();
      await providers?.close();
      await store?.dispose();
    });

    /** The tenant's trigger.* audit actions, oldest first. */
    const triggerAudit = async (tenantId: string) =>
      (await store.db.withTenant(tenantId, (tx) => tx.query<{ action: string }>("SELECT action FROM connectors.audit_log WHERE action LIKE 'trigger.%' ORDER BY id"))).rows.map((r) => r.action);
    const installationOf = async (tenantId: string, connectionId: string) =>
      (await store.db.withTenant(tenantId, (tx) => tx.query<{ installation_id: string }>('SELECT installation_id FROM connectors.connections WHERE id = $1', [connectionId]))).rows[0]!.installation_id;

    /** Enables Shopify's `newOrder` on a connection through the API (201), answering the subscription. */
    const enableNewOrder = async (key: string, connectionId: string) => {
      const res = await s.as(key, { method: 'POST', url: `/connections/${connectionId}/triggers`, payload: { trigger: 'newOrder' } });
      expect(res.statusCode, res.body).toBe(201);
      return res.json() as { id: string; webhookUrl: string };
    };
    const events = async (key: string, query: string) => {
      const res = await s.as(key, { url: `/events?${query}` });
      expect(res.statusCode, res.body).toBe(200);
      return (res.json() as { items: EventView[]; next: string | null }).items;
    };
    /**
     * A 200 means the delivery is stored; the delivery processor turns it into events in the background. This waits
     * until no delivery of the subscription is left to process (processed, or failed for good), then reads its events.
     */
    const settledEvents = async (key: string, subscriptionId: string, query = '') => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const { rows } = await store.db.query<{ n: number }>('SELECT count(*)::int AS n FROM connectors.trigger_deliveries WHERE subscription_id = $1 AND processed_at IS NULL AND failed_at IS NULL', [subscriptionId]);
        if (rows[0]!.n === 0) return events(key, `subscription=${subscriptionId}${query}`);
        if (Date.now() > deadline) throw new Error(`${rows[0]!.n} deliveries of ${subscriptionId} were still unprocessed after 20 s`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };

    it('Shopify orders/create: registered at the mock with its URL, signed deliveries become one event, wrong signatures and replays do not, disabling unregisters', async () => {
      const t = await s.tenant();
      const connectionId = await s.connect(t, 'shopify', { accessToken: 'shpat_e2e_token', tokenType: 'bearer' }, { shop: 'e2e-store' });

      const sub = await enableNewOrder(t.key, connectionId);
      expect(sub).toMatchObject({ status: 'active', kind: 'webhook', externalId: '4759306', manualSetup: false });
      const endpointId = sub.webhookUrl.split('/webhooks/')[1]!;
      expect(sub.webhookUrl).toBe(`${s.base}/webhooks/${endpointId}`);
      expect(endpointId).toMatch(/^[A-Za-z0-9_-]{43}$/);

      // The mock received the registration, with the app's access token and the subscription's own address.
      const registration = providers.requests.find((r) => r.method === 'POST' && r.path.endsWith('/webhooks.json'));
      expect(registration?.headers['x-shopify-access-token']).toBe('shpat_e2e_token');
      expect(JSON.parse(registration!.body)).toEqual({ webhook: { topic: 'orders/create', address: sub.webhookUrl, format: 'json' } });

      const order = '{"id":450789469,"admin_graphql_api_id":"gid://shopify/Order/450789469","name":"#1001","email":"jon@example.com","created_at":"2025-01-15T12:00:00-05:00","currency":"USD","total_price":"403.00","financial_status":"paid","line_items":[]}';
      const signed = { 'x-shopify-hmac-sha256': createHmac('sha256', SHOPIFY_SECRET).update(order).digest('base64'), 'x-shopify-webhook-id': 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043', 'x-shopify-topic': 'orders/create' };
      const first = await post(sub.webhookUrl, order, signed);
      expect(first.status, await first.clone().text()).toBe(200);
      const accepted = (await first.json()) as { ok: boolean; duplicate: boolean; deliveryId: string };
      expect(accepted).toMatchObject({ ok: true, duplicate: false, deliveryId: expect.any(String) });

      let items = await settledEvents(t.key, sub.id);
      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({ subscriptionId: sub.id, key: 'id:b54557e4-bdd9-4b37-8a5f-bf7d70bcd043#0', payload: { id: 450789469, name: '#1001' }, ackedAt: null, deliveryId: accepted.deliveryId });
      // The raw delivery was stored as received, before the 2xx.
      const stored = await s.triggers.outbox.getDelivery(t.tenantId, items[0]!.deliveryId!);
      expect(stored?.rawBody.toString('utf8')).toBe(order);

      // The same delivery again (Shopify retries with the same webhook id): stored once, no second event.
      const again = await post(sub.webhookUrl, order, signed);
      expect(again.status).toBe(200);
      expect(await again.json()).toMatchObject({ ok: true, duplicate: true });
      const { rows } = await store.db.withTenant(t.tenantId, (tx) => tx.query<{ n: number }>('SELECT count(*)::int AS n FROM connectors.trigger_deliveries WHERE subscription_id = $1', [sub.id]));
      expect(rows[0]!.n).toBe(1);

      // Wrongly signed: 401 problem+json, nothing stored. Re-serialised JSON with the original signature fails too.
      const forged = await post(sub.webhookUrl, order.replace('403.00', '1.00'), signed);
      expect(forged.status).toBe(401);
      expect(forged.headers.get('content-type')).toContain('application/problem+json');
      expect(await forged.json()).toMatchObject({ status: 401, code: 'AUTH_FAILED' });
      const unsigned = await post(sub.webhookUrl, JSON.stringify(JSON.parse(order), null, 2), { ...signed, 'x-shopify-webhook-id': 'other' });
      expect(unsigned.status).toBe(401);
      items = await settledEvents(t.key, sub.id);
      expect(items).toHaveLength(1);

      // Enabling twice is a conflict; "test trigger" answers the sample; GET /triggers lists it.
      expect((await s.as(t.key, { method: 'POST', url: `/connections/${connectionId}/triggers`, payload: { trigger: 'newOrder' } })).statusCode).toBe(409);
      const sample = await s.as(t.key, { method: 'POST', url: `/connections/${connectionId}/triggers/test`, payload: { trigger: 'newOrder' } });
      expect(sample.json()).toMatchObject({ sample: true, events: [{ id: 5827398746123, name: '#9999' }] });
      expect(((await s.as(t.key, { url: '/triggers' })).json() as { items: { id: string }[] }).items.map((i) => i.id)).toEqual([sub.id]);

      // Acknowledge: pending reads hide it, plain reads keep it, a second ack counts 0.
      const ack = await s.as(t.key, { method: 'POST', url: '/events/ack', payload: { ids: [items[0]!.id] } });
      expect(ack.json()).toEqual({ acked: 1 });
      expect((await s.as(t.key, { method: 'POST', url: '/events/ack', payload: { ids: [items[0]!.id] } })).json()).toEqual({ acked: 0 });
      expect(await events(t.key, `subscription=${sub.id}&pending=true`)).toEqual([]);
      expect((await events(t.key, `subscription=${sub.id}`))[0]?.ackedAt).not.toBeNull();

      // Another tenant sees none of it.
      const other = await s.tenant();
      expect(await events(other.key, '')).toEqual([]);
      expect((await s.as(other.key, { method: 'DELETE', url: `/connections/${connectionId}/triggers/${sub.id}` })).statusCode).toBe(404);

      // Renewal re-registers the hook at the same address (unsubscribe, then subscribe) and stays active.
      await store.db.query("UPDATE connectors.trigger_subscriptions SET renew_at = now() - interval '1 second' WHERE id = $1", [sub.id]);
      const before = providers.requests.length;
      expect(await s.triggers.renewDue()).toBe(1);
      expect(providers.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual(['DELETE /admin/api/2025-01/webhooks/4759306.json', 'POST /admin/api/2025-01/webhooks.json']);
      expect(JSON.parse(providers.requests.at(-1)!.body).webhook.address).toBe(sub.webhookUrl);

      // Disable: unregistered at the mock; the endpoint then answers exactly like one that never existed.
      const disabled = await s.as(t.key, { method: 'DELETE', url: `/connections/${connectionId}/triggers/${sub.id}` });
      expect(disabled.statusCode, disabled.body).toBe(200);
      expect(disabled.json()).toMatchObject({ unsubscribed: true, subscription: { status: 'stopped' } });
      expect(providers.requests.at(-1)).toMatchObject({ method: 'DELETE', path: '/admin/api/2025-01/webhooks/4759306.json' });
      const afterDisable = await post(sub.webhookUrl, order, signed);
      const unknown = await post(`${s.base}/webhooks/${randomBytes(32).toString('base64url')}`, order, signed);
      expect(afterDisable.status).toBe(404);
      expect(unknown.status).toBe(404);
      const strip = (b: Record<string, unknown>) => ({ ...b, requestId: undefined, instance: undefined });
      expect(strip((await afterDisable.json()) as Record<string, unknown>)).toEqual(strip((await unknown.json()) as Record<string, unknown>));

      expect(await triggerAudit(t.tenantId)).toEqual(['trigger.enable', 'trigger.renew', 'trigger.disable']);
    });

    it('Stripe payment_intent.succeeded: the secret Stripe returns is sealed, Stripe-Signature is checked with its timestamp window, deleting the connection unsubscribes', async () => {
      const t = await s.tenant();
      const connectionId = await s.connect(t, 'stripe', { token: 'sk_test_e2e' });
      const enabled = await s.as(t.key, { method: 'POST', url: `/connections/${connectionId}/triggers`, payload: { trigger: 'paymentIntentSucceeded' } });
      expect(enabled.statusCode, enabled.body).toBe(201);
      const sub = enabled.json() as { id: string; webhookUrl: string; externalId: string; hasSecret: boolean };
      expect(sub).toMatchObject({ externalId: 'we_1Mr5jULkdIwHu7ix1ibLTM0x', hasSecret: true });
      const registration = providers.requests.findLast((r) => r.method === 'POST' && r.path === '/v1/webhook_endpoints');
      expect(new URLSearchParams(registration!.body).get('url')).toBe(sub.webhookUrl);
      expect(registration!.headers.authorization).toBe('Bearer sk_test_e2e');
      // The signing secret is stored sealed, never in plain text.
      const raw = await store.db.query<{ secret: unknown }>('SELECT secret FROM connectors.trigger_subscriptions WHERE id = $1', [sub.id]);
      expect(JSON.stringify(raw.rows[0]!.secret)).not.toContain(STRIPE_WEBHOOK_SECRET);

      const event = JSON.stringify({ id: 'evt_3MtwBwLkdIwHu7ix0snN0B15', object: 'event', type: 'payment_intent.succeeded', created: 1680800504, data: { object: { id: 'pi_3MtwBwLkdIwHu7ix28a3tqPa', object: 'payment_intent', amount: 2000, amount_received: 2000, currency: 'usd', status: 'succeeded', created: 1680800504, livemode: false, metadata: {} } } });
      const sign = (body: string, t0: number, secret = STRIPE_WEBHOOK_SECRET) => ({ 'stripe-signature': `t=${t0},v1=${createHmac('sha256', secret).update(`${t0}.${body}`).digest('hex')}` });
      const now = Math.floor(Date.now() / 1000);

      const ok = await post(sub.webhookUrl, event, sign(event, now));
      expect(ok.status, await ok.clone().text()).toBe(200);
      expect(await ok.json()).toMatchObject({ ok: true, duplicate: false });
      // Stripe retries the same event: stored once.
      expect(await (await post(sub.webhookUrl, event, sign(event, now + 5))).json()).toMatchObject({ ok: true, duplicate: true });
      // A replayed signature outside the 300 s tolerance, a wrong secret: 401, nothing stored.
      const stale = await post(sub.webhookUrl, event.replace('evt_3M', 'evt_4M'), sign(event.replace('evt_3M', 'evt_4M'), now - 301));
      expect(stale.status).toBe(401);
      expect(((await stale.json()) as { detail: string }).detail).toMatch(/timestamp|tolerance|window/i);
      expect((await post(sub.webhookUrl, event, sign(event, now, 'whsec_wrong'))).status).toBe(401);

      const items = await settledEvents(t.key, sub.id);
      expect(items.map((e) => e.payload)).toEqual([expect.objectContaining({ id: 'pi_3MtwBwLkdIwHu7ix28a3tqPa', status: 'succeeded' })]);

      // Correctly signed, but the connector cannot turn it into a PaymentIntent (its output schema refuses it): stored
      // and acknowledged, then marked failed with the reason, which the tenant sees on the subscription; no event.
      const broken = JSON.stringify({ id: 'evt_broken_1', object: 'event', type: 'payment_intent.succeeded', created: now, data: { object: 'not a payment intent' } });
      const brokenAnswer = await post(sub.webhookUrl, broken, sign(broken, now));
      expect(brokenAnswer.status, await brokenAnswer.clone().text()).toBe(200);
      const { deliveryId: brokenId } = (await brokenAnswer.json()) as { deliveryId: string };
      expect(await settledEvents(t.key, sub.id)).toHaveLength(1);
      const failedRow = await store.db.query<{ failed: boolean; last_error: string }>('SELECT failed_at IS NOT NULL AS failed, last_error FROM connectors.trigger_deliveries WHERE id = $1', [brokenId]);
      expect(failedRow.rows[0]).toMatchObject({ failed: true, last_error: expect.stringMatching(/^INVALID_OUTPUT: /) });
      const listed = (await s.as(t.key, { url: `/connections/${connectionId}/triggers` })).json() as { items: { id: string; statusDetail: string | null }[] };
      expect(listed.items.find((i) => i.id === sub.id)?.statusDetail).toMatch(new RegExp(`^Delivery ${brokenId} could not be turned into events after 1 attempt\\(s\\): INVALID_OUTPUT`));

      // Deleting the connection unsubscribes at Stripe and stops the endpoint.
      const deleted = await s.as(t.key, { method: 'DELETE', url: `/connections/${connectionId}` });
      expect(deleted.statusCode, deleted.body).toBe(204);
      expect(providers.requests.at(-1)).toMatchObject({ method: 'DELETE', path: '/v1/webhook_endpoints/we_1Mr5jULkdIwHu7ix1ibLTM0x' });
      expect((await post(sub.webhookUrl, event, sign(event, now))).status).toBe(404);
      // The events stay readable after their subscription is gone.
      expect(await events(t.key, `subscription=${sub.id}`)).toHaveLength(1);
    });

    it('Slack messages: url_verification answered, v0 signatures checked (Slack\'s documented example is refused as stale), uninstalling stops the endpoint', async () => {
      const t = await s.tenant();
      const connectionId = await s.connect(t, 'slack', { accessToken: 'xoxb-e2e', tokenType: 'bot' });
      const enabled = await s.as(t.key, { method: 'POST', url: `/connections/${connectionId}/triggers`, payload: { trigger: 'newMessage' } });
      expect(enabled.statusCode, enabled.body).toBe(201);
      // Slack has no subscribe API: the URL is pasted into the app's Event Subscriptions.
      const sub = enabled.json() as { id: string; webhookUrl: string; manualSetup: boolean; status: string };
      expect(sub).toMatchObject({ manualSetup: true, status: 'active' });
      const signSlack = (body: string, ts: number) => ({ 'x-slack-request-timestamp': String(ts), 'x-slack-signature': `v0=${createHmac('sha256', SLACK_SECRET).update(`v0:${ts}:${body}`).digest('hex')}` });
      const now = Math.floor(Date.now() / 1000);

      // Slack's documented url_verification request.
      const verification = '{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}';
      const challenged = await post(sub.webhookUrl, verification, signSlack(verification, now));
      expect(challenged.status).toBe(200);
      expect(await challenged.json()).toEqual({ challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P' });
      // An unsigned challenge is refused: the handshake does not bypass verification.
      expect((await post(sub.webhookUrl, verification, {})).status).toBe(401);

      // Slack's documented signed example (slash-command body, timestamp 1531420618): correct signature, long stale.
      const documented = 'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
      expect(signSlack(documented, 1531420618)['x-slack-signature']).toBe('v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503');
      const replayed = await fetch(sub.webhookUrl, { method: 'POST', body: documented, headers: { 'content-type': 'application/x-www-form-urlencoded', ...signSlack(documented, 1531420618) } });
      expect(replayed.status).toBe(401);

      const message = JSON.stringify({ token: 'XXYYZZ', team_id: 'T123ABC456', api_app_id: 'A123ABC456', type: 'event_callback', event_id: 'Ev123ABC456', event_time: 1355517523, event: { type: 'message', channel: 'C123ABC456', user: 'U123ABC456', text: 'Hello world', ts: '1355517523.000005', event_ts: '1355517523.000005', channel_type: 'channel' } });
      const delivered = await post(sub.webhookUrl, message, signSlack(message, now));
      expect(delivered.status, await delivered.clone().text()).toBe(200);
      expect((await post(sub.webhookUrl, message, signSlack(message, now + 1))).status).toBe(200);
      const bot = message.replace('"user":"U123ABC456"', '"bot_id":"B1","user":"U123ABC456"').replace('Ev123ABC456', 'Ev999');
      expect(await (await post(sub.webhookUrl, bot, signSlack(bot, now))).json()).toMatchObject({ ok: true, duplicate: false });
      const wrong = await post(sub.webhookUrl, message, { ...signSlack(message, now), 'x-slack-signature': `v0=${'0'.repeat(64)}` });
      expect(wrong.status).toBe(401);
      const items = await settledEvents(t.key, sub.id);
      expect(items.map((e) => e.payload)).toEqual([expect.objectContaining({ type: 'message', text: 'Hello world', channel: 'C123ABC456' })]);

      // Uninstalling stops the subscription locally (Slack has no unsubscribe step) and audits it.
      const installationId = await installationOf(t.tenantId, connectionId);
      const uninstalled = await s.as(t.key, { method: 'DELETE', url: `/installations/${installationId}` });
      expect(uninstalled.statusCode, uninstalled.body).toBe(200);
      expect((await post(sub.webhookUrl, message, signSlack(message, now))).status).toBe(404);
      expect(await triggerAudit(t.tenantId)).toEqual(['trigger.enable', 'trigger.disable']);
    });

    it('still turns a delivery it acknowledged into its event when the trigger is disabled before the processor got to it, and fails it (NOT_FOUND) once the connection is deleted', async () => {
      const t = await s.tenant();
      const connectionId = await s.connect(t, 'shopify', { accessToken: 'shpat_late' }, { shop: 'e2e-store' });
      const sub = await enableNewOrder(t.key, connectionId);
      const endpointId = sub.webhookUrl.split('/webhooks/')[1]!;
      // Stored as ingress stores it, but scheduled for later (as after a failed attempt), so the processor leaves it.
      const order = '{"id":450789999,"name":"#1999","line_items":[]}';
      const { rows } = await store.db.query<{ id: string }>(
        `INSERT INTO connectors.trigger_deliveries (tenant_id, subscription_id, endpoint_id, event_id, dedupe_key, received_at, headers, query, raw_body, next_attempt_at)
         VALUES ($1, $2, $3, 'late-1', 'id:late-1', now(), '{"x-shopify-topic":"orders/create"}', '{}', $4, now() + interval '1 hour') RETURNING id::text`,
        [t.tenantId, sub.id, endpointId, Buffer.from(order)],
      );
      const disabled = await s.as(t.key, { method: 'DELETE', url: `/connections/${connectionId}/triggers/${sub.id}` });
      expect(disabled.json()).toMatchObject({ subscription: { status: 'stopped' } });
      await store.db.query('UPDATE connectors.trigger_deliveries SET next_attempt_at = now() WHERE id = $1', [rows[0]!.id]);
      await s.triggers.drainDeliveries();
      const items = await settledEvents(t.key, sub.id);
      expect(items).toMatchObject([{ key: 'id:late-1#0', deliveryId: rows[0]!.id, payload: { id: 450789999, name: '#1999' } }]);

      // Once the connection is deleted there is nothing to run the transform with: failed at once, with the reason.
      const later = await store.db.query<{ id: string }>(
        `INSERT INTO connectors.trigger_deliveries (tenant_id, subscription_id, endpoint_id, event_id, dedupe_key, received_at, headers, query, raw_body, next_attempt_at)
         VALUES ($1, $2, $3, 'late-2', 'id:late-2', now(), '{}', '{}', $4, now() + interval '1 hour') RETURNING id::text`,
        [t.tenantId, sub.id, endpointId, Buffer.from(order.replace('450789999', '450790000'))],
      );
      expect((await s.as(t.key, { method: 'DELETE', url: `/connections/${connectionId}` })).statusCode).toBe(204);
      await store.db.query('UPDATE connectors.trigger_deliveries SET next_attempt_at = now() WHERE id = $1', [later.rows[0]!.id]);
      await s.triggers.drainDeliveries();
      const gone = await store.db.query<{ failed: boolean; attempts: number; last_error: string }>('SELECT failed_at IS NOT NULL AS failed, attempts, last_error FROM connectors.trigger_deliveries WHERE id = $1', [later.rows[0]!.id]);
      expect(gone.rows[0]).toMatchObject({ failed: true, attempts: 1, last_error: expect.stringMatching(/^NOT_FOUND: .*deleted/) });
      expect(await settledEvents(t.key, sub.id)).toHaveLength(1);
    });

    it('pushes each new event to the BullMQ queue once when Redis is configured', async (ctx) => {
      if (!s.redis) return ctx.skip();
      const t = await s.tenant();
      const connectionId = await s.connect(t, 'shopify', { accessToken: 'shpat_q' }, { shop: 'e2e-store' });
      const sub = await enableNewOrder(t.key, connectionId);
      const order = '{"id":450789470,"name":"#1002","line_items":[]}';
      const headers = { 'x-shopify-hmac-sha256': createHmac('sha256', SHOPIFY_SECRET).update(order).digest('base64'), 'x-shopify-webhook-id': 'queue-1' };
      expect((await post(sub.webhookUrl, order, headers)).status).toBe(200);
      expect((await post(sub.webhookUrl, order, headers)).status).toBe(200);
      const [event] = await settledEvents(t.key, sub.id);
      const queue = new Queue(EVENTS_QUEUE_NAME, { connection: s.redis, prefix: s.queuePrefix! });
      try {
        const jobs = (await queue.getJobs(['waiting', 'delayed', 'active', 'completed'])).filter((j) => (j.data as { subscriptionId: string }).subscriptionId === sub.id);
        expect(jobs).toHaveLength(1);
        expect(jobs[0]!.name).toBe('trigger-event');
        expect(jobs[0]!.data).toMatchObject({ id: event!.id, position: event!.position, tenantId: t.tenantId, subscriptionId: sub.id, key: 'id:queue-1#0', payload: { id: 450789470 } });
      } finally {
        await queue.close();
      }
    });

    it('polling triggers: a polling row, scheduled through the polling hooks on enable and unscheduled on disable', async () => {
      const calls: string[] = [];
      s.triggers.setPollingHooks({
        async onPollingEnabled(ref) {
          calls.push(`enabled ${ref.id} ${ref.tenantId}`);
        },
        async onPollingDisabled(id) {
          calls.push(`disabled ${id}`);
        },
      });
      try {
        const t = await s.tenant();
        const connectionId = await s.connect(t, 'stripe', { token: 'sk_test_poll' });
        const enabled = await s.as(t.key, { method: 'POST', url: `/connections/${connectionId}/triggers`, payload: { trigger: 'newCustomer', config: { note: 'crm sync' } } });
        expect(enabled.statusCode, enabled.body).toBe(201);
        const sub = enabled.json() as { id: string };
        expect(enabled.json()).toMatchObject({ kind: 'polling', status: 'active', webhookUrl: null, config: { note: 'crm sync' } });
        expect(calls).toEqual([`enabled ${sub.id} ${t.tenantId}`]);
        const disabled = await s.as(t.key, { method: 'DELETE', url: `/connections/${connectionId}/triggers/${sub.id}` });
        expect(disabled.json()).toMatchObject({ unsubscribed: true, subscription: { status: 'stopped' } });
        expect(calls).toEqual([`enabled ${sub.id} ${t.tenantId}`, `disabled ${sub.id}`]);
      } finally {
        s.triggers.setPollingHooks(undefined);
      }
    });

    it('rate-limits each endpoint on its own, answering 429 with Retry-After', async () => {
      const noisy = `${s.base}/webhooks/${randomBytes(32).toString('base64url')}`;
      const statuses: number[] = [];
      for (let i = 0; i < 22; i += 1) statuses.push((await post(noisy, '{}', {})).status);
      expect(statuses.slice(0, 20).every((st) => st === 404)).toBe(true);
      expect(statuses.at(-1)).toBe(429);
      const limited = await post(noisy, '{}', {});
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await limited.json()).toMatchObject({ code: 'RATE_LIMITED' });
      expect((await post(`${s.base}/webhooks/${randomBytes(32).toString('base64url')}`, '{}', {})).status).toBe(404);
    });

    it('leaves nothing behind when the provider refuses the registration, and marks a lapsed subscription failed when renewal fails', async () => {
      const t = await s.tenant();
      const revoked = await s.connect(t, 'shopify', { accessToken: 'shpat_revoked' }, { shop: 'e2e-store' });
      const refused = await s.as(t.key, { method: 'POST', url: `/connections/${revoked}/triggers`, payload: { trigger: 'newOrder' } });
      expect(refused.statusCode).toBe(401);
      expect(refused.json()).toMatchObject({ code: 'AUTH_EXPIRED', detail: expect.stringContaining('Registering the webhook of shopify.newOrder') });
      expect((await s.as(t.key, { url: `/connections/${revoked}/triggers` })).json()).toEqual({ items: [] });

      const connectionId = await s.connect(t, 'shopify', { accessToken: 'shpat_ok' }, { shop: 'e2e-store' });
      const sub = (await s.as(t.key, { method: 'POST', url: `/connections/${connectionId}/triggers`, payload: { trigger: 'newOrder' } })).json() as { id: string; webhookUrl: string };
      // The token is revoked at the provider, and the hook has lapsed by the time the renewal runs.
      await s.vault.putCredentials(t.tenantId, connectionId, { accessToken: 'shpat_revoked', fields: { shop: 'e2e-store' } });
      await store.db.query("UPDATE connectors.trigger_subscriptions SET expires_at = now() - interval '1 second', renew_at = now() - interval '1 second' WHERE id = $1", [sub.id]);
      expect(await s.triggers.renewDue()).toBe(0);
      const [after] = ((await s.as(t.key, { url: `/connections/${connectionId}/triggers` })).json() as { items: { status: string; statusDetail: string }[] }).items;
      expect(after).toMatchObject({ status: 'failed', statusDetail: expect.stringContaining('enable the trigger again') });
      const order = '{"id":1}';
      expect((await post(sub.webhookUrl, order, { 'x-shopify-hmac-sha256': createHmac('sha256', SHOPIFY_SECRET).update(order).digest('base64') })).status).toBe(404);
      expect(await triggerAudit(t.tenantId)).toEqual(['trigger.enable', 'trigger.enable_failed', 'trigger.enable']);
    });

    it('disabling stops locally even when the provider refuses to unsubscribe; uninstalling unregisters the hook', async () => {
      const t = await s.tenant();
      const connectionId = await s.connect(t, 'shopify', { accessToken: 'shpat_ok' }, { shop: 'e2e-store' });
      const enable = () => enableNewOrder(t.key, connectionId);
      const first = await enable();
      await s.vault.putCredentials(t.tenantId, connectionId, { accessToken: 'shpat_revoked', fields: { shop: 'e2e-store' } });
      const disabled = await s.as(t.key, { method: 'DELETE', url: `/connections/${connectionId}/triggers/${first.id}` });
      expect(disabled.statusCode, disabled.body).toBe(200);
      expect(disabled.json()).toMatchObject({ unsubscribed: false, detail: expect.stringContaining('tries again at'), subscription: { status: 'stopped', unsubscribeRetryAt: expect.any(String) } });
      const order = '{"id":2}';
      const headers = { 'x-shopify-hmac-sha256': createHmac('sha256', SHOPIFY_SECRET).update(order).digest('base64') };
      expect((await post(first.webhookUrl, order, headers)).status).toBe(404);

      // Enabled again (a new endpoint), then the connector is uninstalled: both hooks are removed at the provider (the
      // first one, still waiting for its retry, is tried once more before its row goes).
      await s.vault.putCredentials(t.tenantId, connectionId, { accessToken: 'shpat_ok', fields: { shop: 'e2e-store' } });
      const second = await enable();
      expect(second.webhookUrl).not.toBe(first.webhookUrl);
      const installationId = await installationOf(t.tenantId, connectionId);
      const before = providers.requests.length;
      const uninstalled = await s.as(t.key, { method: 'DELETE', url: `/installations/${installationId}` });
      expect(uninstalled.statusCode, uninstalled.body).toBe(200);
      expect(uninstalled.json()).toMatchObject({ unsubscribeFailures: [] });
      expect(providers.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual(['DELETE /admin/api/2025-01/webhooks/4759306.json', 'DELETE /admin/api/2025-01/webhooks/4759306.json']);
      expect((await post(second.webhookUrl, order, headers)).status).toBe(404);
    });

    it('deleting a connection while a hook of its triggers is still at the provider answers 409 and keeps it; a later delete removes the hook first, ?force=true deletes anyway', async () => {
      const t = await s.tenant();
      const enableOn = (connectionId: string) => enableNewOrder(t.key, connectionId);
      const connectionId = await s.connect(t, 'shopify', { accessToken: 'shpat_ok' }, { shop: 'e2e-store' });
      const sub = await enableOn(connectionId);
      await s.vault.putCredentials(t.tenantId, connectionId, { accessToken: 'shpat_revoked', fields: { shop: 'e2e-store' } });
      const refused = await s.as(t.key, { method: 'DELETE', url: `/connections/${connectionId}` });
      expect(refused.statusCode, refused.body).toBe(409);
      expect(refused.headers['content-type']).toContain('application/problem+json');
      expect(refused.json()).toMatchObject({ code: 'CONFLICT', type: expect.stringContaining('hooks-not-removed'), detail: expect.stringMatching(new RegExp(`hook 4759306 of trigger newOrder \\(subscription ${sub.id}\\).*\\?force=true`)) });
      // Still there, its trigger stopped, the removal scheduled.
      const listed = await s.as(t.key, { method: 'GET', url: `/connections/${connectionId}/triggers` });
      expect(listed.json()).toMatchObject({ items: [{ id: sub.id, status: 'stopped', unsubscribeRetryAt: expect.any(String) }] });

      // The account works again: the next delete removes the hook, then the connection.
      await s.vault.putCredentials(t.tenantId, connectionId, { accessToken: 'shpat_ok', fields: { shop: 'e2e-store' } });
      const before = providers.requests.length;
      expect((await s.as(t.key, { method: 'DELETE', url: `/connections/${connectionId}` })).statusCode).toBe(204);
      expect(providers.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual(['DELETE /admin/api/2025-01/webhooks/4759306.json']);
      expect((await s.as(t.key, { method: 'GET', url: `/connections/${connectionId}/triggers` })).statusCode).toBe(404);

      // Still refused by the provider: ?force=true deletes, and the audit names the hook left behind.
      const forced = await s.connect(t, 'shopify', { accessToken: 'shpat_ok' }, { shop: 'e2e-store' });
      const forcedSub = await enableOn(forced);
      await s.vault.putCredentials(t.tenantId, forced, { accessToken: 'shpat_revoked', fields: { shop: 'e2e-store' } });
      expect((await s.as(t.key, { method: 'DELETE', url: `/connections/${forced}?force=yes` })).statusCode).toBe(400);
      expect((await s.as(t.key, { method: 'DELETE', url: `/connections/${forced}?force=true` })).statusCode).toBe(204);
      const audit = await store.db.query<{ details: unknown }>(`SELECT details FROM connectors.audit_log WHERE action = 'connection.delete' AND target_id = $1`, [forced]);
      expect(audit.rows).toEqual([{ details: { force: true, abandonedHooks: [{ subscription: forcedSub.id, trigger: 'newOrder', externalId: '4759306' }] } }]);
      // The subscription's own entry says what became of its hook: no retry is promised for a row deleted right after.
      const forcedDisable = await store.db.query<{ details: { detail: string } }>(`SELECT details FROM connectors.audit_log WHERE action = 'trigger.disable' AND target_id = $1`, [forcedSub.id]);
      expect(forcedDisable.rows).toEqual([{ details: expect.objectContaining({ unsubscribed: false, detail: expect.stringMatching(/did not confirm removing hook 4759306: .*remove it in the provider's settings$/) }) }]);
      expect(forcedDisable.rows[0]!.details.detail).not.toContain('tries again');

      // A hook the service gave up on (after the sweep's last attempt) holds nothing back, and is named again.
      const last = await s.connect(t, 'shopify', { accessToken: 'shpat_ok' }, { shop: 'e2e-store' });
      const lastSub = await enableOn(last);
      await s.vault.putCredentials(t.tenantId, last, { accessToken: 'shpat_revoked', fields: { shop: 'e2e-store' } });
      expect((await s.as(t.key, { method: 'DELETE', url: `/connections/${last}/triggers/${lastSub.id}` })).statusCode).toBe(200);
      await store.db.query('UPDATE connectors.trigger_subscriptions SET unsubscribe_attempts = $2, unsubscribe_at = now() WHERE id = $1', [lastSub.id, UNSUBSCRIBE_ATTEMPTS - 1]);
      expect(await s.triggers.retryUnsubscribes()).toBe(0);
      const gaveUp = await store.db.query<{ details: { gaveUp?: boolean; detail?: string } }>(`SELECT details FROM connectors.audit_log WHERE action = 'trigger.unsubscribe' AND target_id = $1`, [lastSub.id]);
      expect(gaveUp.rows).toMatchObject([{ details: { gaveUp: true, detail: expect.stringContaining('hook 4759306') } }]);
      expect((await s.as(t.key, { method: 'DELETE', url: `/connections/${last}` })).statusCode).toBe(204);
      const lastAudit = await store.db.query<{ details: unknown }>(`SELECT details FROM connectors.audit_log WHERE action = 'connection.delete' AND target_id = $1`, [last]);
      expect(lastAudit.rows).toEqual([{ details: { force: false, abandonedHooks: [{ subscription: lastSub.id, trigger: 'newOrder', externalId: '4759306' }] } }]);
    });

    it('deleting a connection whose provider fails with a NUL character in its error text still answers 409 and keeps the hook scheduled for removal', async () => {
      const t = await s.tenant();
      const connectionId = await s.connect(t, 'shopify', { accessToken: 'shpat_ok' }, { shop: 'e2e-store' });
      const sub = await enableNewOrder(t.key, connectionId);
      await s.vault.putCredentials(t.tenantId, connectionId, { accessToken: 'shpat_nul', fields: { shop: 'e2e-store' } });
      const refused = await s.as(t.key, { method: 'DELETE', url: `/connections/${connectionId}` });
      expect(refused.statusCode, refused.body).toBe(409);
      const listed = await s.as(t.key, { method: 'GET', url: `/connections/${connectionId}/triggers` });
      expect(listed.json()).toMatchObject({ items: [{ id: sub.id, status: 'stopped', unsubscribeRetryAt: expect.any(String), statusDetail: expect.stringContaining('bad\uFFFDgateway') }] });
    });

    it('uninstalling answers which trigger hooks the provider did not remove, with why', async () => {
      const t = await s.tenant();
      const connectionId = await s.connect(t, 'shopify', { accessToken: 'shpat_ok' }, { shop: 'e2e-store' });
      const sub = await enableNewOrder(t.key, connectionId);
      // The token was revoked at the provider meanwhile: the unsubscribe call is refused, the hook stays there.
      await s.vault.putCredentials(t.tenantId, connectionId, { accessToken: 'shpat_revoked', fields: { shop: 'e2e-store' } });
      const uninstalled = await s.as(t.key, { method: 'DELETE', url: `/installations/${await installationOf(t.tenantId, connectionId)}` });
      expect(uninstalled.statusCode, uninstalled.body).toBe(200);
      expect(uninstalled.json()).toMatchObject({
        unsubscribeFailures: [{ subscriptionId: sub.id, connectionId, trigger: 'newOrder', reason: expect.stringContaining('remove it in the provider') }],
      });
      // The rows go with the installation: nothing promises a retry.
      expect(uninstalled.json()).not.toMatchObject({ unsubscribeFailures: [{ reason: expect.stringContaining('tries again') }] });
    });

    it('refuses bad input with problem+json: unknown trigger, oversized body, bad event queries', async () => {
      const t = await s.tenant();
      const connectionId = await s.connect(t, 'shopify', { accessToken: 'shpat_x' }, { shop: 'x' });
      const unknown = await s.as(t.key, { method: 'POST', url: `/connections/${connectionId}/triggers`, payload: { trigger: 'nope' } });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json()).toMatchObject({ code: 'NOT_FOUND', detail: expect.stringContaining('newOrder') });
      const big = await post(`${s.base}/webhooks/${randomBytes(32).toString('base64url')}`, Buffer.alloc(1024 * 1024 + 1, 0x20), {});
      expect(big.status).toBe(413);
      expect(big.headers.get('content-type')).toContain('application/problem+json');
      const badAfter = await s.as(t.key, { url: '/events?after=abc' });
      expect(badAfter.statusCode).toBe(400);
      expect(badAfter.json()).toMatchObject({ code: 'INVALID_INPUT' });
    });
  });
}
