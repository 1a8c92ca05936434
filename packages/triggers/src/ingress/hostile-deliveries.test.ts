// handleDelivery attacked the way a hostile sender would: forged handshakes, retries, cross-tenant event ids,
// bodies at the cap, compressed bodies. handle-delivery.test.ts covers the normal paths.
import { gzipSync } from 'node:zlib';
import type { SignatureSpec, TriggerManifest } from '@businessos/connector-sdk';
import { describe, expect, it, vi } from 'vitest';
import { createMemoryOutbox } from '../outbox/memory-outbox.ts';
import { createMemorySeenEvents } from '../replay/seen-events.ts';
import { signDelivery } from '../verify/signature.ts';
import { handleDelivery, type IngressDeps, type IngressRequest, type TransformRequest, type WebhookEndpoint } from './handle-delivery.ts';

const NOW = 1_700_000_000_000;
const SLACK: SignatureSpec = { scheme: 'slack', secret: 'config:signing_secret' };
const STRIPE: SignatureSpec = { scheme: 'stripe', secret: 'subscription' };

function trigger(verify: SignatureSpec, eventId?: string): Pick<TriggerManifest, 'name' | 'webhook'> {
  return { name: 'hook', webhook: { subscribe: true, unsubscribe: true, transform: true, verify, ...(eventId ? { eventId } : {}) } };
}

function endpoint(id: string, tenantId: string, verify: SignatureSpec, secret: string, eventId?: string): WebhookEndpoint {
  return { id, tenantId, subscriptionId: `sub-${id}`, status: 'active', trigger: trigger(verify, eventId), secret };
}

function setup() {
  let now = NOW;
  const clock = { now: () => now };
  const outbox = createMemoryOutbox({ clock });
  const transform = vi.fn(async ({ delivery }: TransformRequest) => [delivery.body]);
  const deps: IngressDeps = { seen: createMemorySeenEvents({ clock }), outbox, transform };
  return { outbox, transform, deps, advance: (ms: number) => (now += ms), now: () => now };
}

function request(ep: WebhookEndpoint | undefined, rawBody: Buffer, headers: Record<string, string>, now = NOW, endpointId = ep?.id ?? 'ep-unknown'): IngressRequest {
  return { endpointId, endpoint: ep, rawBody, headers: { 'content-type': 'application/json', ...headers }, query: {}, now };
}

describe('Slack url_verification from a hostile sender', () => {
  const secret = 'slack-signing-secret';
  const ep = endpoint('ep-slack', 't1', SLACK, secret, '/event_id');
  const challenge = 'c-3eZbrw1aBm2rZgRNFdxV2595E9CY3gmd';
  const body = Buffer.from(JSON.stringify({ token: 'x', challenge, type: 'url_verification' }));
  const ts = NOW / 1000;

  it('never echoes the challenge unless the handshake itself is correctly signed and fresh', async () => {
    const { outbox, transform, deps } = setup();
    const attempts: Record<string, string>[] = [
      {},
      { 'x-slack-request-timestamp': String(ts) },
      { ...signDelivery(SLACK, secret, body, ts), 'x-slack-signature': `v0=${'0'.repeat(64)}` },
      signDelivery(SLACK, 'another-apps-secret', body, ts),
      signDelivery(SLACK, secret, Buffer.from('{"type":"event_callback"}'), ts),
      signDelivery(SLACK, secret, body, ts - 301),
      { ...signDelivery(SLACK, secret, body, ts - 301), 'x-slack-request-timestamp': String(ts) },
    ];
    for (const headers of attempts) {
      const res = await handleDelivery(request(ep, body, headers), deps);
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(JSON.stringify(res.body)).not.toContain(challenge);
    }
    expect(transform).not.toHaveBeenCalled();
    expect(outbox.deliveries()).toHaveLength(0);
    const genuine = await handleDelivery(request(ep, body, signDelivery(SLACK, secret, body, ts)), deps);
    expect(genuine).toMatchObject({ status: 200, body: { challenge } });
  });

  it('answers a retry (X-Slack-Retry-Num, signed anew) as a duplicate of the first attempt', async () => {
    const { outbox, transform, deps } = setup();
    const message = Buffer.from(JSON.stringify({ type: 'event_callback', event_id: 'Ev0PV52K21', event: { type: 'message', text: 'hi' } }));
    const first = await handleDelivery(request(ep, message, signDelivery(SLACK, secret, message, ts)), deps);
    expect(first).toMatchObject({ status: 200, body: { duplicate: false, events: 1 } });
    for (const n of [1, 2, 3]) {
      const retryAt = ts + 60 * n;
      const retry = await handleDelivery(request(ep, message, { ...signDelivery(SLACK, secret, message, retryAt), 'x-slack-retry-num': String(n), 'x-slack-retry-reason': 'http_timeout' }, retryAt * 1000), deps);
      expect(retry).toMatchObject({ status: 200, body: { duplicate: true, events: 0 } });
    }
    expect(transform).toHaveBeenCalledOnce();
    expect(outbox.deliveries()).toHaveLength(1);
  });
});

describe('event-id replay across endpoints and time', () => {
  const event = Buffer.from('{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","type":"payment_intent.succeeded"}');

  it('dedupes per endpoint: the same provider event id sent to another tenant\'s endpoint is stored there too', async () => {
    const { outbox, deps } = setup();
    const a = endpoint('ep-a', 'tenant-a', STRIPE, 'whsec_a', '/id');
    const b = endpoint('ep-b', 'tenant-b', STRIPE, 'whsec_b', '/id');
    const send = (ep: WebhookEndpoint) => handleDelivery(request(ep, event, signDelivery(STRIPE, ep.secret ?? '', event, NOW / 1000)), deps);
    expect(await send(a)).toMatchObject({ status: 200, body: { duplicate: false, events: 1 } });
    expect(await send(b)).toMatchObject({ status: 200, body: { duplicate: false, events: 1 } });
    expect(await send(a)).toMatchObject({ status: 200, body: { duplicate: true, events: 0 } });
    expect(await send(b)).toMatchObject({ status: 200, body: { duplicate: true, events: 0 } });
    expect(outbox.deliveries().map((d) => [d.tenantId, d.subscriptionId, d.eventId])).toEqual([
      ['tenant-a', 'sub-ep-a', 'evt_1NG8Du2eZvKYlo2CUI79vXWy'],
      ['tenant-b', 'sub-ep-b', 'evt_1NG8Du2eZvKYlo2CUI79vXWy'],
    ]);
    expect(await outbox.readAfter({ tenantId: 'tenant-a', limit: 10 })).toHaveLength(1);
    expect(await outbox.readAfter({ tenantId: 'tenant-b', limit: 10 })).toHaveLength(1);
  });

  it('does not let one endpoint\'s signature through to another endpoint that shares the event id', async () => {
    const { outbox, deps } = setup();
    const a = endpoint('ep-a', 'tenant-a', STRIPE, 'whsec_a', '/id');
    const b = endpoint('ep-b', 'tenant-b', STRIPE, 'whsec_b', '/id');
    const signedForA = signDelivery(STRIPE, 'whsec_a', event, NOW / 1000);
    expect((await handleDelivery(request(a, event, signedForA), deps)).status).toBe(200);
    expect((await handleDelivery(request(b, event, signedForA), deps)).status).toBe(401);
    expect(outbox.deliveries()).toHaveLength(1);
  });

  it('answers a signed body replayed under a fresh unsigned id header as a duplicate (Shopify signs the body only)', async () => {
    const { outbox, transform, deps } = setup();
    const shopify: SignatureSpec = { scheme: 'shopify', secret: 'config:client_secret' };
    const ep = endpoint('ep-shop', 't1', shopify, 'shpss_x', 'header:X-Shopify-Webhook-Id');
    const order = Buffer.from('{"id":450789469,"total_price":"403.00"}');
    const captured = signDelivery(shopify, 'shpss_x', order);
    const first = await handleDelivery(request(ep, order, { ...captured, 'x-shopify-webhook-id': 'b54557e4-0001' }), deps);
    expect(first).toMatchObject({ status: 200, body: { duplicate: false, events: 1 } });
    for (const forgedId of ['b54557e4-0002', 'b54557e4-0003', ' B54557E4-0001 ']) {
      const replay = await handleDelivery(request(ep, order, { ...captured, 'x-shopify-webhook-id': forgedId }), deps);
      expect(replay, forgedId).toMatchObject({ status: 200, body: { duplicate: true, events: 0 } });
    }
    // Shopify's own retry (same id, same body) is still a duplicate, and a different order is still new.
    expect(await handleDelivery(request(ep, order, { ...captured, 'x-shopify-webhook-id': 'b54557e4-0001' }), deps)).toMatchObject({ status: 200, body: { duplicate: true } });
    const next = Buffer.from('{"id":450789470,"total_price":"12.00"}');
    expect(await handleDelivery(request(ep, next, { ...signDelivery(shopify, 'shpss_x', next), 'x-shopify-webhook-id': 'b54557e4-0002' }), deps)).toMatchObject({ status: 200, body: { duplicate: false, events: 1 } });
    expect(transform).toHaveBeenCalledTimes(2);
    expect(outbox.deliveries()).toHaveLength(2);
  });

  it('refuses a captured delivery replayed after the window, even once the dedupe memory forgot its id', async () => {
    const { outbox, deps, advance, now } = setup();
    const ep = endpoint('ep-a', 'tenant-a', STRIPE, 'whsec_a', '/id');
    const headers = signDelivery(STRIPE, 'whsec_a', event, NOW / 1000);
    const short = { ...deps, limits: { dedupeTtlSeconds: 60 } };
    expect((await handleDelivery(request(ep, event, headers, now()), short)).status).toBe(200);
    advance(301_000);
    const replay = await handleDelivery(request(ep, event, headers, now()), short);
    expect(replay).toMatchObject({ status: 401, body: { error: { code: 'AUTH_FAILED' } } });
    expect(outbox.deliveries()).toHaveLength(1);
  });
});

describe('unknown, inactive and mismatched endpoints', () => {
  it('answer the exact same 404, without verifying, storing or reporting anything', async () => {
    const { outbox, deps } = setup();
    const onError = vi.fn();
    const ep = endpoint('ep-real', 't1', STRIPE, 'whsec_x', '/id');
    const body = Buffer.from('{"id":"evt_x"}');
    const headers = signDelivery(STRIPE, 'whsec_x', body, NOW / 1000);
    const answers = await Promise.all([
      handleDelivery(request(undefined, body, headers), { ...deps, onError }),
      ...['disabled', 'pending', 'failed', 'stopped', ''].map((status) => handleDelivery(request({ ...ep, status }, body, headers), { ...deps, onError })),
      handleDelivery(request(ep, body, headers, NOW, 'ep-other'), { ...deps, onError }),
      handleDelivery(request({ ...ep, status: 'disabled', secret: undefined }, body, {}), { ...deps, onError }),
    ]);
    for (const a of answers) expect(a).toEqual(answers[0]);
    expect(answers[0]).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
    expect(onError).not.toHaveBeenCalled();
    expect(outbox.deliveries()).toHaveLength(0);
  });
});

describe('bodies at the edges', () => {
  const secret = 'whsec_edge';
  const ep = endpoint('ep-edge', 't1', STRIPE, secret);

  it('accepts a signed body of exactly 1 MiB and refuses one byte more with 413 before verifying', async () => {
    const { outbox, deps } = setup();
    const onError = vi.fn();
    const atCap = Buffer.alloc(1024 * 1024, 0x61);
    const ok = await handleDelivery(request(ep, atCap, signDelivery(STRIPE, secret, atCap, NOW / 1000)), deps);
    expect(ok.status).toBe(200);
    expect(outbox.deliveries()[0]?.rawBody.length).toBe(1024 * 1024);
    const over = Buffer.alloc(1024 * 1024 + 1, 0x61);
    const refused = await handleDelivery(request(ep, over, signDelivery(STRIPE, secret, over, NOW / 1000)), { ...deps, onError });
    expect(refused).toMatchObject({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE' } } });
    expect(onError).not.toHaveBeenCalled();
    expect(outbox.deliveries()).toHaveLength(1);
  });

  it('verifies a compressed body as the bytes received and stores those bytes, never the inflated ones', async () => {
    const { outbox, deps } = setup();
    const json = Buffer.from(`{"id":"evt_gz","pad":"${'x'.repeat(4096)}"}`);
    const gz = gzipSync(json);
    const headers = { 'content-encoding': 'gzip' };
    const overInflated = await handleDelivery(request(ep, gz, { ...headers, ...signDelivery(STRIPE, secret, json, NOW / 1000) }), deps);
    expect(overInflated.status).toBe(401);
    const overReceived = await handleDelivery(request(ep, gz, { ...headers, ...signDelivery(STRIPE, secret, gz, NOW / 1000) }), deps);
    expect(overReceived.status).toBe(200);
    expect(outbox.deliveries().map((d) => d.rawBody.equals(gz))).toEqual([true]);
  });

  it('verifies an empty body like any other: signed passes, unsigned or signed for other bytes fails', async () => {
    const { outbox, transform, deps } = setup();
    const empty = Buffer.alloc(0);
    expect((await handleDelivery(request(ep, empty, {}), deps)).status).toBe(401);
    expect((await handleDelivery(request(ep, empty, signDelivery(STRIPE, secret, '{}', NOW / 1000)), deps)).status).toBe(401);
    expect((await handleDelivery(request(ep, empty, signDelivery(STRIPE, secret, empty, NOW / 1000)), deps)).status).toBe(200);
    expect(transform).toHaveBeenCalledWith(expect.objectContaining({ delivery: expect.objectContaining({ body: '', rawBody: '' }) }));
    expect(outbox.deliveries()).toHaveLength(1);
  });

  it('treats the content type as untrusted: the signature decides, whatever the sender claims', async () => {
    const { outbox, deps } = setup();
    const body = Buffer.from('{"id":"evt_ct"}');
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', 'multipart/form-data; boundary=x']) {
      const forged = await handleDelivery(request(ep, body, { 'content-type': ct, 'stripe-signature': `t=${NOW / 1000},v1=${'0'.repeat(64)}` }), deps);
      expect(forged.status).toBe(401);
    }
    const genuine = await handleDelivery(request(ep, body, { ...signDelivery(STRIPE, secret, body, NOW / 1000), 'content-type': 'text/plain' }), deps);
    expect(genuine.status).toBe(200);
    expect(outbox.deliveries()).toHaveLength(1);
  });
});
