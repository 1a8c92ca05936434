// POST /webhooks/{endpointId} attacked over real HTTP on loopback: bodies at and over the cap (with and without a
// Content-Length), compressed bodies, odd content types, and endpoint ids that must all look the same when they lead
// nowhere. The route, the service's ingress and handleDelivery are the real ones; only the store lookup is a stub.
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Vault } from '@businessos/connector-runtime';
import type { TriggerManifest } from '@businessos/connector-sdk';
import { createMemoryOutbox, createMemorySeenEvents, type MemoryOutbox } from '@businessos/connector-triggers';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../app.ts';
import { loadConfig } from '../../../config.ts';
import type { Db, Queryable } from '../../../db/db.ts';
import type { ServiceRuntime } from '../../../execution/service-runtime.ts';
import type { SubscriptionSecrets } from '../../../triggers/subscription-secrets.ts';
import type { TriggerService } from '../../../triggers/trigger-service.ts';
import { createWebhookIngress } from '../../../triggers/webhook-ingress.ts';
import webhookRoute, { WEBHOOK_MAX_BYTES } from './post.ts';

const SECRET = 'shpss_transport';
const TRIGGER: TriggerManifest = {
  name: 'newOrder',
  displayName: 'New order',
  description: 'A new order',
  type: 'webhook',
  webhook: { topic: 'orders/create', subscribe: true, unsubscribe: true, transform: true, verify: { scheme: 'shopify', secret: 'config:client_secret' }, eventId: 'header:X-Shopify-Webhook-Id' },
};

const ACTIVE = randomBytes(32).toString('base64url');
const DISABLED = randomBytes(32).toString('base64url');
const FAILED = randomBytes(32).toString('base64url');

/** What `resolve_webhook_endpoint` would return; endpoints missing here are unknown (never existed, or deleted). */
const rows = new Map<string, { status: string }>([
  [ACTIVE, { status: 'active' }],
  [DISABLED, { status: 'stopped' }],
  [FAILED, { status: 'failed' }],
]);

const lookups: string[] = [];
const stubDb = {
  engine: 'pglite',
  async withTenant<T>(_tenant: string | null, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const tx = {
      async query(_sql: string, params: unknown[] = []) {
        const id = String(params[0]);
        lookups.push(id);
        const row = rows.get(id);
        return {
          rows: row ? [{ subscription_id: `sub-${id.slice(0, 6)}`, tenant_id: 'tenant-1', connection_id: 'conn-1', status: row.status, trigger_name: 'newOrder', connector_name: 'shopify', connector_version: '1.0.0', fields: {}, trigger: TRIGGER }] : [],
        };
      },
    } as unknown as Queryable;
    return fn(tx);
  },
} as unknown as Db;

const sign = (body: Buffer | string) => createHmac('sha256', SECRET).update(body).digest('base64');

let app: FastifyInstance;
let base: string;
let outbox: MemoryOutbox;

beforeAll(async () => {
  const config = loadConfig({ BOS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'bos-webhook-transport-')), BOS_OAUTH_APPS: JSON.stringify({ shopify: { client_id: 'app', client_secret: SECRET } }) });
  outbox = createMemoryOutbox();
  const secrets: SubscriptionSecrets = { put: async () => {}, get: async () => undefined, delete: async () => {} };
  const ingress = createWebhookIngress({ db: stubDb, runtime: {} as ServiceRuntime, vault: {} as Vault, config, secrets, outbox, seen: createMemorySeenEvents(), cacheTtlMs: 0 });
  const triggers = { receive: (r: Parameters<TriggerService['receive']>[0]) => ingress.receive(r) } as unknown as TriggerService;
  app = await buildApp({ config, db: stubDb, routes: [webhookRoute], triggers });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app?.close();
});

const post = (id: string, body: Buffer | string, headers: Record<string, string> = {}) => fetch(`${base}/webhooks/${id}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

describe('webhook transport', () => {
  it('accepts a signed body of exactly 1 MiB and refuses 1 MiB + 1 byte with 413 problem+json', async () => {
    const atCap = Buffer.alloc(WEBHOOK_MAX_BYTES, 0x20);
    const ok = await post(ACTIVE, atCap, { 'x-shopify-hmac-sha256': sign(atCap), 'x-shopify-webhook-id': 'cap-1' });
    expect(ok.status, await ok.clone().text()).toBe(200);
    expect(outbox.deliveries().find((d) => d.eventId === 'cap-1')?.rawBody.length).toBe(WEBHOOK_MAX_BYTES);
    const over = Buffer.alloc(WEBHOOK_MAX_BYTES + 1, 0x20);
    const refused = await post(ACTIVE, over, { 'x-shopify-hmac-sha256': sign(over), 'x-shopify-webhook-id': 'cap-2' });
    expect(refused.status).toBe(413);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(await refused.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(outbox.deliveries().some((d) => d.eventId === 'cap-2')).toBe(false);
  });

  it('answers 413 to a chunked body without Content-Length as soon as it passes the cap, before the sender is done', async () => {
    const total = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const result = await new Promise<{ status: number; body: string; sent: number }>((resolve, reject) => {
      let sent = 0;
      let answered = false;
      const req = httpRequest(`${base}/webhooks/${ACTIVE}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-shopify-hmac-sha256': sign('x') } }, (res) => {
        answered = true;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body, sent });
        });
      });
      req.on('error', (error) => (answered ? undefined : reject(error)));
      const pump = () => {
        while (!answered && sent < total) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        if (!answered) req.end();
      };
      pump();
    });
    expect(result.status).toBe(413);
    expect(JSON.parse(result.body)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    // The answer came while the sender was still writing: the service stopped reading at the cap.
    expect(result.sent).toBeLessThan(total);
  });

  it('neither inflates a gzip body nor lets it past the cap: the signature is over the bytes received', async () => {
    const json = Buffer.from(`{"id":1,"pad":"${'a'.repeat(2 * WEBHOOK_MAX_BYTES)}"}`);
    const gz = gzipSync(json);
    expect(gz.length).toBeLessThan(WEBHOOK_MAX_BYTES);
    const overInflated = await post(ACTIVE, gz, { 'content-encoding': 'gzip', 'x-shopify-hmac-sha256': sign(json), 'x-shopify-webhook-id': 'gz-1' });
    expect(overInflated.status).toBe(401);
    const overReceived = await post(ACTIVE, gz, { 'content-encoding': 'gzip', 'x-shopify-hmac-sha256': sign(gz), 'x-shopify-webhook-id': 'gz-2' });
    expect(overReceived.status, await overReceived.clone().text()).toBe(200);
    expect(outbox.deliveries().find((d) => d.eventId === 'gz-2')?.rawBody.equals(gz)).toBe(true);
  });

  it('takes the body as bytes whatever the content type, or none, and verifies them', async () => {
    for (const [i, ct] of ['application/x-www-form-urlencoded', 'text/plain; charset=latin1', 'application/octet-stream', 'application/xml', undefined].entries()) {
      const body = `order=${i}&total=10.00`;
      const contentType: Record<string, string> = ct ? { 'content-type': ct } : {};
      const send = (signature: string, id: string) => fetch(`${base}/webhooks/${ACTIVE}`, { method: 'POST', body: Buffer.from(body), headers: { ...contentType, 'x-shopify-hmac-sha256': signature, 'x-shopify-webhook-id': id } });
      const forged = await send(sign(`${body} `), `ct-forged-${i}`);
      expect(forged.status, String(ct)).toBe(401);
      const res = await send(sign(body), `ct-${i}`);
      expect(res.status, `${ct}: ${await res.clone().text()}`).toBe(200);
      expect(await res.json()).toMatchObject({ ok: true, duplicate: false });
      expect(outbox.deliveries().find((d) => d.eventId === `ct-${i}`)?.rawBody.toString()).toBe(body);
    }
  });

  it('answers a captured Shopify delivery replayed under a fresh X-Shopify-Webhook-Id as a duplicate', async () => {
    const order = '{"id":820982911946154508,"total_price":"403.00"}';
    const first = await post(ACTIVE, order, { 'x-shopify-hmac-sha256': sign(order), 'x-shopify-webhook-id': 'replay-1' });
    expect(await first.json()).toMatchObject({ ok: true, duplicate: false });
    const replay = await post(ACTIVE, order, { 'x-shopify-hmac-sha256': sign(order), 'x-shopify-webhook-id': 'replay-2' });
    expect(replay.status).toBe(200);
    expect(await replay.json()).toMatchObject({ ok: true, duplicate: true });
    expect(outbox.deliveries().filter((d) => d.rawBody.toString() === order)).toHaveLength(1);
  });

  it('refuses a NUL in the query (which no store keeps) with 400 problem+json, known endpoint or not, storing nothing', async () => {
    const order = '{"id":7}';
    const signed = { 'x-shopify-hmac-sha256': sign(order), 'x-shopify-webhook-id': 'nul-query' };
    for (const [id, query] of [[ACTIVE, 'ref=%00'], [ACTIVE, 'a%00=1'], [ACTIVE, 'ref=ok&ref=a%00'], [randomBytes(32).toString('base64url'), 'ref=%00']] as const) {
      const res = await fetch(`${base}/webhooks/${id}?${query}`, { method: 'POST', body: order, headers: { 'content-type': 'application/json', ...signed } });
      expect(res.status, query).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(await res.json()).toMatchObject({ code: 'INVALID_INPUT', detail: expect.stringContaining('NUL') });
    }
    expect(outbox.deliveries().some((d) => d.eventId === 'nul-query')).toBe(false);
    const fine = await fetch(`${base}/webhooks/${ACTIVE}?ref=%E2%9C%93&x=%ED%A0%80`, { method: 'POST', body: order, headers: { 'content-type': 'application/json', ...signed } });
    expect(fine.status, await fine.clone().text()).toBe(200);
    expect(outbox.deliveries().find((d) => d.eventId === 'nul-query')?.query).toEqual({ ref: '✓', x: '%ED%A0%80' });
  });

  it('verifies an empty body (no Content-Type, or a JSON one) instead of failing to parse it', async () => {
    const unsigned = await fetch(`${base}/webhooks/${ACTIVE}`, { method: 'POST' });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toMatchObject({ code: 'AUTH_FAILED' });
    const signed = await post(ACTIVE, '', { 'x-shopify-hmac-sha256': sign(''), 'x-shopify-webhook-id': 'empty-1' });
    expect(signed.status, await signed.clone().text()).toBe(200);
    expect(outbox.deliveries().find((d) => d.eventId === 'empty-1')?.rawBody.length).toBe(0);
  });
});

describe('endpoint ids that lead nowhere', () => {
  const order = '{"id":1}';
  const headers = { 'x-shopify-hmac-sha256': sign(order), 'x-shopify-webhook-id': 'nowhere' };
  /** Everything a sender sees, minus what differs per request by design. */
  const seen = async (res: Response) => {
    const h = Object.fromEntries(res.headers);
    delete h.date;
    const body = (await res.json()) as Record<string, unknown>;
    delete body.requestId;
    delete h['content-length'];
    return { status: res.status, headers: h, body };
  };

  it('answer unknown, deleted, disabled, failed and malformed ids with the same 404, status, headers and body', async () => {
    const ids = [
      randomBytes(32).toString('base64url'),
      DISABLED,
      FAILED,
      'short',
      'x'.repeat(43).replace(/^x/, '.'),
      `${ACTIVE}A`,
      // The longest id the router hands to the route (longer path segments are refused by the router itself).
      'a'.repeat(100),
      encodeURIComponent('../../admin'),
      encodeURIComponent('ñ'.repeat(43)),
    ];
    const reference = await seen(await post(randomBytes(32).toString('base64url'), order, headers));
    expect(reference).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    for (const id of ids) expect(await seen(await post(id, order, headers)), id).toEqual(reference);
    expect(outbox.deliveries().some((d) => d.eventId === 'nowhere')).toBe(false);
  });

  it('does not ask the store about ids that cannot be endpoint ids', async () => {
    lookups.length = 0;
    for (const id of ['short', 'a'.repeat(100), '%00', `${ACTIVE}=`]) await post(id, order, headers);
    expect(lookups).toEqual([]);
  });
});
