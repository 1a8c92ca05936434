import { defineConnector, defineTrigger, type SignatureSpec, type TriggerManifest } from '@businessos/connector-sdk';
import { describe, expect, it, vi } from 'vitest';
import { createMemoryOutbox } from '../outbox/memory-outbox.ts';
import type { EventOutbox } from '../outbox/types.ts';
import { createMemoryRateLimiter } from '../ratelimit/token-bucket.ts';
import { createMemorySeenEvents } from '../replay/seen-events.ts';
import { signDelivery } from '../verify/signature.ts';
import { handleDelivery, type IngressDeps, type IngressRequest, type TransformRequest, type WebhookEndpoint } from './handle-delivery.ts';

const NOW = 1_700_000_000_000;
const SECRET = 'shpss_test';

function trigger(verify: SignatureSpec | undefined, eventId?: string): Pick<TriggerManifest, 'name' | 'webhook'> {
  return { name: 'orderCreated', webhook: { topic: 'orders/create', subscribe: true, unsubscribe: true, transform: true, ...(verify ? { verify } : {}), ...(eventId ? { eventId } : {}) } };
}

const shopifyEndpoint: WebhookEndpoint = {
  id: 'ep_9f2c', tenantId: 't1', subscriptionId: 'sub1', status: 'active',
  trigger: trigger({ scheme: 'shopify', secret: 'subscription' }, 'header:X-Shopify-Webhook-Id'), secret: SECRET,
};

function setup(overrides: Partial<IngressDeps> = {}) {
  const outbox = createMemoryOutbox({ clock: { now: () => NOW } });
  const transform = vi.fn(async ({ delivery }: TransformRequest) => [delivery.body]);
  const deps: IngressDeps = { seen: createMemorySeenEvents({ clock: { now: () => NOW } }), outbox, transform, ...overrides };
  return { outbox, transform, deps };
}

function shopifyDelivery(body: string, webhookId = 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043', endpoint: WebhookEndpoint | null = shopifyEndpoint): IngressRequest {
  const raw = Buffer.from(body);
  return {
    endpointId: 'ep_9f2c', endpoint: endpoint ?? undefined, rawBody: raw, query: {}, now: NOW,
    headers: { 'content-type': 'application/json', 'x-shopify-webhook-id': webhookId, 'x-shopify-topic': 'orders/create', ...signDelivery({ scheme: 'shopify', secret: 'subscription' }, SECRET, raw) },
  };
}

describe('handleDelivery', () => {
  it('stores a correctly signed delivery, transforms it, and appends exactly one event', async () => {
    const { outbox, transform, deps } = setup();
    const res = await handleDelivery(shopifyDelivery('{"id":820982911946154508,"total_price":"10.00"}'), deps);
    expect(res).toMatchObject({ status: 200, body: { ok: true, events: 1, duplicate: false } });
    expect(transform).toHaveBeenCalledOnce();
    const [call] = transform.mock.calls[0] ?? [];
    expect(call?.delivery.headers['x-shopify-topic']).toBe('orders/create');
    expect(call?.delivery.rawBody).toBe('{"id":820982911946154508,"total_price":"10.00"}');
    const events = await outbox.readAfter({ tenantId: 't1', limit: 10 });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ subscriptionId: 'sub1', key: 'id:b54557e4-bdd9-4b37-8a5f-bf7d70bcd043#0' });
    const [stored] = outbox.deliveries();
    expect(stored?.rawBody.toString()).toBe('{"id":820982911946154508,"total_price":"10.00"}');
    expect(stored).toMatchObject({ processed: true, eventId: 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043' });
  });

  it('without a transform, answers once the raw delivery is stored, tells onStored, and leaves the events to the processor', async () => {
    const onStored = vi.fn();
    const { outbox, deps } = setup();
    const { transform: _unused, ...rest } = deps;
    const asyncDeps: IngressDeps = { ...rest, onStored };
    const res = await handleDelivery(shopifyDelivery('{"id":7}'), asyncDeps);
    const [stored] = outbox.deliveries();
    expect(res).toMatchObject({ status: 200, body: { ok: true, duplicate: false, deliveryId: stored?.id } });
    expect(stored).toMatchObject({ processed: false, eventId: 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043' });
    // With everything that was stored, so a processor in the same process needs no read back.
    const { processed: _processed, ...asStored } = stored!;
    expect(onStored).toHaveBeenCalledExactlyOnceWith(asStored);
    expect(onStored.mock.calls[0]![0].rawBody.toString()).toBe('{"id":7}');
    expect(await outbox.readAfter({ tenantId: 't1', limit: 10 })).toEqual([]);
    // The provider's retry: answered as a duplicate, nothing new stored, the processor not told again.
    expect(await handleDelivery(shopifyDelivery('{"id":7}'), asyncDeps)).toMatchObject({ status: 200, body: { ok: true, duplicate: true } });
    expect(outbox.deliveries()).toHaveLength(1);
    expect(onStored).toHaveBeenCalledOnce();
    // A wrong signature is refused before anything is stored.
    const forged = shopifyDelivery('{"id":8}', 'other');
    expect(await handleDelivery({ ...forged, rawBody: Buffer.from('{"id":9}') }, asyncDeps)).toMatchObject({ status: 401 });
    expect(outbox.deliveries()).toHaveLength(1);
  });

  it('answers a replay of the same event id with 200 duplicate and stores nothing new', async () => {
    const { outbox, transform, deps } = setup();
    await handleDelivery(shopifyDelivery('{"id":1}'), deps);
    const again = await handleDelivery(shopifyDelivery('{"id":1}'), deps);
    expect(again).toMatchObject({ status: 200, body: { duplicate: true, events: 0 } });
    expect(transform).toHaveBeenCalledOnce();
    expect(await outbox.readAfter({ tenantId: 't1', limit: 10 })).toHaveLength(1);
    expect(outbox.deliveries()).toHaveLength(1);
  });

  it('answers a replay of a processed event from the seen-set, without touching the outbox', async () => {
    const { outbox, deps } = setup();
    await handleDelivery(shopifyDelivery('{"id":1}'), deps);
    const storeDelivery = vi.fn(outbox.storeDelivery);
    const res = await handleDelivery(shopifyDelivery('{"id":1}'), { ...deps, outbox: { ...outbox, storeDelivery } });
    expect(res).toMatchObject({ status: 200, body: { duplicate: true } });
    expect(storeDelivery).not.toHaveBeenCalled();
  });

  it('completes a delivery whose worker died after storing it, when the provider retries', async () => {
    const { outbox, deps } = setup();
    const req = shopifyDelivery('{"id":1}');
    // The dead worker's traces: the id is marked seen and the raw delivery stored, no events.
    await deps.seen.markSeen('ep_9f2c', 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043', 3600);
    await outbox.storeDelivery({ tenantId: 't1', subscriptionId: 'sub1', endpointId: 'ep_9f2c', eventId: 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043', dedupeKey: 'id:b54557e4-bdd9-4b37-8a5f-bf7d70bcd043', receivedAt: NOW, headers: {}, query: {}, rawBody: req.rawBody });
    expect(await handleDelivery(req, deps)).toMatchObject({ status: 200, body: { events: 1, duplicate: false } });
    expect(await handleDelivery(req, deps)).toMatchObject({ status: 200, body: { events: 0, duplicate: true } });
    expect(await outbox.readAfter({ tenantId: 't1', limit: 10 })).toHaveLength(1);
  });

  it('stores a duplicate once even when the seen-set forgot it (outbox idempotency)', async () => {
    const { outbox, deps } = setup();
    await handleDelivery(shopifyDelivery('{"id":1}'), deps);
    const forgetful = { ...deps, seen: createMemorySeenEvents() };
    const again = await handleDelivery(shopifyDelivery('{"id":1}'), forgetful);
    expect(again).toMatchObject({ status: 200, body: { duplicate: true } });
    expect(await outbox.readAfter({ tenantId: 't1', limit: 10 })).toHaveLength(1);
  });

  it('dedupes deliveries without a declared event id by their body hash', async () => {
    const { outbox, deps } = setup();
    const endpoint = { ...shopifyEndpoint, trigger: trigger({ scheme: 'shopify', secret: 'subscription' }) };
    await handleDelivery(shopifyDelivery('{"id":1}', 'x', endpoint), deps);
    await handleDelivery(shopifyDelivery('{"id":1}', 'y', endpoint), deps);
    await handleDelivery(shopifyDelivery('{"id":2}', 'z', endpoint), deps);
    const events = await outbox.readAfter({ tenantId: 't1', limit: 10 });
    expect(events.map((e) => e.payload)).toEqual([{ id: 1 }, { id: 2 }]);
    expect(events[0]?.key).toMatch(/^body:[0-9a-f]{64}#0$/);
  });

  it('rejects a wrongly signed delivery with 401 AUTH_FAILED before storing anything', async () => {
    const { outbox, transform, deps } = setup();
    const req = shopifyDelivery('{"id":1}');
    const tampered = { ...req, rawBody: Buffer.from('{"id":2}') };
    const res = await handleDelivery(tampered, deps);
    expect(res).toMatchObject({ status: 401, body: { error: { code: 'AUTH_FAILED' } } });
    expect(transform).not.toHaveBeenCalled();
    expect(outbox.deliveries()).toHaveLength(0);
    // The refused delivery did not mark its id as seen: the genuine one is still accepted.
    expect((await handleDelivery(req, deps)).status).toBe(200);
  });

  it('rejects a replayed Stripe delivery whose timestamp left the window', async () => {
    const { outbox, deps } = setup();
    const spec: SignatureSpec = { scheme: 'stripe', secret: 'subscription' };
    const endpoint: WebhookEndpoint = { ...shopifyEndpoint, trigger: trigger(spec, '/id'), secret: 'whsec_x' };
    const raw = Buffer.from('{"id":"evt_1","type":"payment_intent.succeeded"}');
    const headers = signDelivery(spec, 'whsec_x', raw, NOW / 1000 - 600);
    const res = await handleDelivery({ endpointId: endpoint.id, endpoint, rawBody: raw, headers, query: {}, now: NOW }, deps);
    expect(res.status).toBe(401);
    expect(JSON.stringify(res.body)).toMatch(/tolerance/);
    expect(outbox.deliveries()).toHaveLength(0);
  });

  it('answers Slack\'s url_verification challenge after verifying it, without storing an event', async () => {
    const { outbox, transform, deps } = setup();
    const spec: SignatureSpec = { scheme: 'slack', secret: 'config:slack.signingSecret' };
    const endpoint: WebhookEndpoint = { ...shopifyEndpoint, trigger: trigger(spec, '/event_id'), secret: '8f742231b10e8888abcd99yyyzzz85a5' };
    const raw = Buffer.from('{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}');
    const good = await handleDelivery({ endpointId: endpoint.id, endpoint, rawBody: raw, headers: signDelivery(spec, endpoint.secret ?? '', raw, NOW / 1000), query: {}, now: NOW }, deps);
    expect(good).toMatchObject({ status: 200, body: { challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P' } });
    const unsigned = await handleDelivery({ endpointId: endpoint.id, endpoint, rawBody: raw, headers: {}, query: {}, now: NOW }, deps);
    expect(unsigned.status).toBe(401);
    expect(transform).not.toHaveBeenCalled();
    expect(outbox.deliveries()).toHaveLength(0);
  });

  it('answers unknown and disabled endpoints identically with 404', async () => {
    const { outbox, deps } = setup();
    const unknown = await handleDelivery(shopifyDelivery('{"id":1}', 'a', null), deps);
    const disabled = await handleDelivery(shopifyDelivery('{"id":1}', 'a', { ...shopifyEndpoint, status: 'disabled' }), deps);
    expect(unknown).toEqual(disabled);
    expect(unknown).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
    expect(outbox.deliveries()).toHaveLength(0);
  });

  it('caps the body size before anything else', async () => {
    const { deps } = setup({ limits: { maxBodyBytes: 10 } });
    const res = await handleDelivery(shopifyDelivery('{"id":"0123456789"}', 'a', null), deps);
    expect(res).toMatchObject({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE' } } });
  });

  it('rate-limits per endpoint with Retry-After, known or not', async () => {
    const { deps } = setup({ rateLimiter: createMemoryRateLimiter({ burst: 2, perSecond: 1 }) });
    expect((await handleDelivery(shopifyDelivery('{"id":1}', 'a'), deps)).status).toBe(200);
    expect((await handleDelivery(shopifyDelivery('{"id":2}', 'b'), deps)).status).toBe(200);
    const limited = await handleDelivery(shopifyDelivery('{"id":3}', 'c'), deps);
    expect(limited).toMatchObject({ status: 429, headers: { 'retry-after': '1' }, body: { error: { code: 'RATE_LIMITED' } } });
    const other = await handleDelivery({ ...shopifyDelivery('{"id":4}', 'd', null), endpointId: 'ep_other' }, deps);
    expect(other.status).toBe(404);
  });

  it('un-marks the event id and answers 5xx when storage fails, so the provider retry is accepted', async () => {
    const { outbox, deps } = setup();
    let fail = true;
    const flaky: EventOutbox = { ...outbox, storeDelivery: async (d) => { if (fail) throw new Error('connection reset'); return outbox.storeDelivery(d); } };
    const onError = vi.fn();
    const first = await handleDelivery(shopifyDelivery('{"id":1}'), { ...deps, outbox: flaky, onError });
    expect(first).toMatchObject({ status: 500, body: { error: { code: 'INTERNAL' } } });
    expect(onError).toHaveBeenCalledWith('store', expect.any(Error), shopifyEndpoint);
    fail = false;
    expect(await handleDelivery(shopifyDelivery('{"id":1}'), { ...deps, outbox: flaky })).toMatchObject({ status: 200, body: { events: 1 } });
  });

  it('keeps the stored delivery when transform fails, answers 5xx, and processes it on retry', async () => {
    const { outbox, deps } = setup();
    let fail = true;
    const transform = vi.fn(async ({ delivery }: TransformRequest) => {
      if (fail) throw Object.assign(new Error('deadline'), { code: 'SANDBOX_DEADLINE' });
      return [delivery.body];
    });
    const first = await handleDelivery(shopifyDelivery('{"id":1}'), { ...deps, transform });
    expect(first).toMatchObject({ status: 500, body: { error: { code: 'SANDBOX_DEADLINE' } } });
    expect(outbox.deliveries()).toMatchObject([{ processed: false }]);
    fail = false;
    expect(await handleDelivery(shopifyDelivery('{"id":1}'), { ...deps, transform })).toMatchObject({ status: 200, body: { events: 1 } });
    expect(outbox.deliveries()).toHaveLength(1);
  });

  it('keeps accepting deliveries, once each, when the rate limiter and the seen-set are down', async () => {
    const down = async () => { throw new Error('ECONNREFUSED 127.0.0.1:6379'); };
    const onError = vi.fn();
    const { outbox, deps } = setup({
      seen: { markSeen: down, markProcessed: down, isProcessed: down, forget: down },
      rateLimiter: { take: down },
      onError,
    });
    expect(await handleDelivery(shopifyDelivery('{"id":1}'), deps)).toMatchObject({ status: 200, body: { events: 1 } });
    expect(await handleDelivery(shopifyDelivery('{"id":1}'), deps)).toMatchObject({ status: 200, body: { duplicate: true } });
    expect(await outbox.readAfter({ tenantId: 't1', limit: 10 })).toHaveLength(1);
    expect(onError.mock.calls.map(([stage]) => stage)).toEqual(['rate-limit', 'dedupe', 'rate-limit', 'dedupe']);
  });

  it('stores one event per transformed event, each with a stable key', async () => {
    const { outbox, deps } = setup({ transform: async () => [{ n: 1 }, { n: 2 }, { n: 3 }] });
    expect((await handleDelivery(shopifyDelivery('{"batch":true}'), deps)).body).toMatchObject({ events: 3 });
    const keys = (await outbox.readAfter({ tenantId: 't1', limit: 10 })).map((e) => e.key);
    expect(keys).toEqual(['id:b54557e4-bdd9-4b37-8a5f-bf7d70bcd043#0', 'id:b54557e4-bdd9-4b37-8a5f-bf7d70bcd043#1', 'id:b54557e4-bdd9-4b37-8a5f-bf7d70bcd043#2']);
  });

  it('fails closed with 500 when the endpoint has no secret, and optionally refuses unsigned triggers', async () => {
    const { deps } = setup();
    const noSecret = await handleDelivery(shopifyDelivery('{"id":1}', 'a', { ...shopifyEndpoint, secret: undefined }), deps);
    expect(noSecret).toMatchObject({ status: 500, body: { error: { code: 'INTERNAL' } } });
    const unsignedEndpoint = { ...shopifyEndpoint, trigger: trigger(undefined) };
    expect((await handleDelivery(shopifyDelivery('{"id":1}', 'a', unsignedEndpoint), deps)).status).toBe(200);
    expect((await handleDelivery(shopifyDelivery('{"id":2}', 'b', unsignedEndpoint), { ...deps, limits: { allowUnsigned: false } })).status).toBe(401);
  });

  it('runs a real SDK connector\'s transform step, as the runtime will in the sandbox', async () => {
    const connector = defineConnector({
      name: 'stripe-like',
      version: '1.0.0',
      actions: [],
      triggers: [defineTrigger({
        name: 'paymentSucceeded',
        description: 'A payment succeeded',
        webhook: {
          verify: { scheme: 'stripe', secret: 'subscription' },
          eventId: '/id',
          transform(delivery) {
            const event = delivery.body as { type?: string; data?: { object?: unknown } };
            return event.type === 'payment_intent.succeeded' ? [event.data?.object] : [];
          },
        },
      })],
    });
    const [manifestTrigger] = connector.manifest.triggers;
    const endpoint: WebhookEndpoint = { id: 'ep_s', tenantId: 't1', subscriptionId: 'sub_s', status: 'active', trigger: manifestTrigger!, secret: 'whsec_abc' };
    const { outbox, deps } = setup({
      transform: async ({ endpoint: ep, delivery }) => (await connector.executeTrigger(ep.trigger.name, 'transform', delivery, { transport: async () => ({ status: 500, headers: {}, data: null }) })) as unknown[],
    });
    const send = (body: object) => {
      const raw = Buffer.from(JSON.stringify(body));
      return handleDelivery({ endpointId: 'ep_s', endpoint, rawBody: raw, headers: signDelivery(manifestTrigger!.webhook!.verify!, 'whsec_abc', raw, NOW / 1000), query: {}, now: NOW }, deps);
    };
    expect((await send({ id: 'evt_1', type: 'payment_intent.succeeded', data: { object: { id: 'pi_1', amount: 2000 } } })).body).toMatchObject({ events: 1 });
    expect((await send({ id: 'evt_2', type: 'charge.refunded', data: { object: { id: 'ch_1' } } })).body).toMatchObject({ events: 0 });
    expect((await send({ id: 'evt_1', type: 'payment_intent.succeeded', data: { object: { id: 'pi_1', amount: 2000 } } })).body).toMatchObject({ duplicate: true });
    expect((await outbox.readAfter({ tenantId: 't1', limit: 10 })).map((e) => [e.key, e.payload])).toEqual([['id:evt_1#0', { id: 'pi_1', amount: 2000 }]]);
    expect(outbox.deliveries().map((d) => d.processed)).toEqual([true, true]);
  });
});
