// The Stripe connector through the local simulator: what it sends (method, path, form body, the bearer key the
// host adds, Stripe-Version and Idempotency-Key) and what it makes of Stripe's answers, errors included.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createTestHarness } from '@businessos/connector-sdk/testing';
import { validateManifest } from '@businessos/connector-sdk/host';
import stripe from './index.ts';
import { STRIPE_API_VERSION } from './stripe-api.ts';

const fixturesDir = fileURLToPath(new URL('../fixtures', import.meta.url));
const harness = () => createTestHarness({ connector: stripe, fixturesDir, credentials: { token: 'sk_test_4eC39HqLyjWDarjtT1zdp7dc' } });

describe('stripe manifest', () => {
  it('passes validate and declares only api.stripe.com', () => {
    expect(validateManifest(stripe.manifest)).toEqual({ ok: true, issues: [] });
    expect(stripe.manifest.hosts).toEqual(['api.stripe.com']);
    expect(stripe.manifest.auth).toMatchObject({ type: 'bearer' });
    expect(stripe.manifest.test).toEqual({ method: 'GET', path: '/v1/balance' });
    expect(stripe.manifest.actions.map((a) => a.name)).toEqual(['createCustomer', 'createPaymentIntent', 'listCharges', 'createRefund']);
  });
});

describe('createCustomer', () => {
  it('posts a form body with the bearer key, Stripe-Version and a derived Idempotency-Key', async () => {
    await using h = await harness();
    const out = await h.run('createCustomer', { email: 'jenny.rosen@example.com', name: 'Jenny Rosen', metadata: { crm_id: '4711' }, address: { city: 'Berlin', country: 'DE' } });
    expect(out).toMatchObject({ id: 'cus_NffrFeUfNV2Hib', object: 'customer', email: 'jenny.rosen@example.com', name: 'Jenny Rosen' });
    const req = h.api.requests[0];
    expect(req).toMatchObject({ method: 'POST', path: '/v1/customers' });
    expect(req?.headers.authorization).toBe('Bearer sk_test_4eC39HqLyjWDarjtT1zdp7dc');
    expect(req?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(req?.headers['stripe-version']).toBe(STRIPE_API_VERSION);
    expect(req?.rawBody).toBe('email=jenny.rosen%40example.com&name=Jenny+Rosen&metadata%5Bcrm_id%5D=4711&address%5Bcity%5D=Berlin&address%5Bcountry%5D=DE');
    expect(req?.headers['idempotency-key']).toMatch(/^bos-createCustomer-[0-9a-f]{28}$/);
  });

  it('derives the same key for the same params (safe retries), another for other params, and honours an explicit key', async () => {
    await using h = await harness();
    await h.run('createCustomer', { email: 'a@example.com', metadata: { a: '1', b: '2' } });
    await h.run('createCustomer', { metadata: { b: '2', a: '1' }, email: 'a@example.com' });
    await h.run('createCustomer', { email: 'b@example.com' });
    await h.run('createCustomer', { email: 'b@example.com', idempotency_key: 'order-1001-customer' });
    const keys = h.api.requests.map((r) => r.headers['idempotency-key']);
    expect(keys[0]).toBe(keys[1]);
    expect(keys[2]).not.toBe(keys[0]);
    expect(keys[3]).toBe('order-1001-customer');
    // The key travels as a header, never as a form field.
    expect(h.api.requests[3]?.body).toEqual({ email: 'b@example.com' });
  });

  it('rejects an invalid email before anything is sent', async () => {
    await using h = await harness();
    await expect(h.run('createCustomer', { email: 'not-an-email' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(h.api.requests).toHaveLength(0);
  });
});

describe('createPaymentIntent', () => {
  it('creates a payment intent', async () => {
    await using h = await harness();
    const out = await h.run('createPaymentIntent', { amount: 2000, currency: 'usd', customer: 'cus_NffrFeUfNV2Hib', payment_method: 'pm_card_visa', confirm: true, payment_method_types: ['card'] });
    expect(out).toMatchObject({ id: 'pi_3MtwBwLkdIwHu7ix28a3tqPa', status: 'succeeded', amount: 2000, customer: 'cus_NffrFeUfNV2Hib' });
    expect(h.api.requests[0]?.rawBody).toBe('amount=2000&currency=usd&customer=cus_NffrFeUfNV2Hib&payment_method=pm_card_visa&confirm=true&payment_method_types%5B0%5D=card');
  });

  it('maps 402 card_declined to NON_RETRYABLE with the decline code', async () => {
    await using h = await harness();
    const error = await h.run('createPaymentIntent', { amount: 2000, currency: 'usd', payment_method: 'pm_card_visa_chargeDeclinedInsufficientFunds', confirm: true }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'NON_RETRYABLE',
      upstreamStatus: 402,
      details: { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds', charge: 'ch_3NgDeclined', request_id: 'req_declined1' },
    });
    expect(String((error as Error).message)).toMatch(/declined \(card_declined\/insufficient_funds\): Your card has insufficient funds/);
  });

  it('maps 429 with Retry-After to RATE_LIMITED with retryAfter, and succeeds once Stripe lets it through', async () => {
    await using h = await harness();
    h.api.prependFixture({
      request: { method: 'POST', path: '/v1/payment_intents' },
      response: { status: 429, headers: { 'retry-after': '7' }, body: { error: { type: 'invalid_request_error', code: 'rate_limit', message: 'Too many requests' } } },
      times: 1,
    });
    await expect(h.run('createPaymentIntent', { amount: 2000, currency: 'usd' })).rejects.toMatchObject({ code: 'RATE_LIMITED', retryAfter: 7, upstreamStatus: 429 });
    await expect(h.run('createPaymentIntent', { amount: 2000, currency: 'usd' })).resolves.toMatchObject({ status: 'succeeded' });
    // The retry reuses the Idempotency-Key, so Stripe cannot create the payment twice.
    expect(h.api.requests[0]?.headers['idempotency-key']).toBe(h.api.requests[1]?.headers['idempotency-key']);
  });

  it('refuses an amount below 1 and a currency in upper case', async () => {
    await using h = await harness();
    await expect(h.run('createPaymentIntent', { amount: 0, currency: 'usd' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(h.run('createPaymentIntent', { amount: 100, currency: 'USD' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});

describe('listCharges', () => {
  it('follows starting_after across pages until has_more is false', async () => {
    await using h = await harness();
    const out = await h.run<{ charges: { id: string }[]; has_more: boolean }>('listCharges', { customer: 'cus_NffrFeUfNV2Hib', created_gte: 1679000000 });
    expect(out.charges.map((c) => c.id)).toEqual(['ch_1', 'ch_2', 'ch_3']);
    expect(out.has_more).toBe(false);
    expect(h.api.requests.map((r) => r.query)).toEqual([
      { limit: '100', customer: 'cus_NffrFeUfNV2Hib', 'created[gte]': '1679000000' },
      { limit: '100', customer: 'cus_NffrFeUfNV2Hib', 'created[gte]': '1679000000', starting_after: 'ch_2' },
    ]);
    expect(h.api.requests.every((r) => r.method === 'GET' && r.path === '/v1/charges' && r.headers.authorization === 'Bearer sk_test_4eC39HqLyjWDarjtT1zdp7dc')).toBe(true);
  });

  it('stops at max_items and says there is more', async () => {
    await using h = await harness();
    const out = await h.run<{ charges: { id: string }[]; has_more: boolean }>('listCharges', { max_items: 1 });
    expect(out).toMatchObject({ charges: [{ id: 'ch_1' }], has_more: true });
    expect(h.api.requests).toHaveLength(1);
    expect(h.api.requests[0]?.query.limit).toBe('2');
  });
});

describe('createRefund', () => {
  it('refunds part of a charge', async () => {
    await using h = await harness();
    const out = await h.run('createRefund', { charge: 'ch_3MmlLrLkdIwHu7ix0snN0B15', amount: 500, reason: 'requested_by_customer' });
    expect(out).toMatchObject({ id: 're_1Nispe2eZvKYlo2Cd31jOCgZ', amount: 500, charge: 'ch_3MmlLrLkdIwHu7ix0snN0B15', reason: 'requested_by_customer' });
    expect(h.api.requests[0]?.body).toEqual({ charge: 'ch_3MmlLrLkdIwHu7ix0snN0B15', amount: '500', reason: 'requested_by_customer' });
    expect(h.api.requests[0]?.headers['idempotency-key']).toMatch(/^bos-createRefund-/);
  });

  it('needs exactly one of charge and payment_intent', async () => {
    await using h = await harness();
    await expect(h.run('createRefund', { amount: 500 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(h.run('createRefund', { charge: 'ch_1', payment_intent: 'pi_1' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(h.api.requests).toHaveLength(0);
  });

  it('maps a 400 invalid_request_error to INVALID_INPUT at the parameter Stripe names', async () => {
    await using h = await harness();
    await expect(h.run('createRefund', { charge: 'ch_1', amount: 999999 })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      path: '/amount',
      upstreamStatus: 400,
      message: expect.stringMatching(/greater than charge amount/),
    });
  });
});

describe('connection test', () => {
  it('reads the balance with the key, and reports a refused key as AUTH_FAILED', async () => {
    await using h = await harness();
    await expect(h.authenticate()).resolves.toEqual({ ok: true, checked: true, status: 200 });
    expect(h.api.requests[0]).toMatchObject({ method: 'GET', path: '/v1/balance', headers: { authorization: 'Bearer sk_test_4eC39HqLyjWDarjtT1zdp7dc' } });
    await expect(h.authenticate({ credentials: { token: 'sk_test_revoked' } })).rejects.toMatchObject({ code: 'AUTH_FAILED', upstreamStatus: 401 });
  });
});

describe('trigger paymentIntentSucceeded', () => {
  it('registers a webhook endpoint for payment_intent.succeeded and keeps the signing secret', async () => {
    await using h = await harness();
    const sub = await h.subscribe('paymentIntentSucceeded', 'https://hooks.businessos.test/webhooks/ep_123');
    expect(sub).toEqual({ externalId: 'we_1Mr5jULkdIwHu7ix1ibLTM0x', secret: 'whsec_fixture_not_a_real_secret' });
    expect(h.api.requests[0]).toMatchObject({ method: 'POST', path: '/v1/webhook_endpoints' });
    expect(h.api.requests[0]?.body).toMatchObject({ url: 'https://hooks.businessos.test/webhooks/ep_123', enabled_events: ['payment_intent.succeeded'], api_version: STRIPE_API_VERSION });
    expect(h.api.requests[0]?.headers['idempotency-key']).toMatch(/^bos-createWebhookEndpoint-/);
    await h.trigger('paymentIntentSucceeded', 'unsubscribe', sub);
    expect(h.api.requests[1]).toMatchObject({ method: 'DELETE', path: '/v1/webhook_endpoints/we_1Mr5jULkdIwHu7ix1ibLTM0x' });
  });

  it('declares Stripe signature checking with the subscription secret and the event id', () => {
    expect(stripe.manifest.triggers[0]?.webhook).toMatchObject({ topic: 'payment_intent.succeeded', verify: { scheme: 'stripe', secret: 'subscription' }, eventId: '/id', subscribe: true, unsubscribe: true, transform: true });
  });

  it('turns an event into its PaymentIntent and ignores other event types', async () => {
    await using h = await harness();
    const pi = { id: 'pi_1', object: 'payment_intent', amount: 2000, currency: 'usd', status: 'succeeded', created: 1680800504, livemode: false };
    const event = { id: 'evt_1', object: 'event', api_version: STRIPE_API_VERSION, type: 'payment_intent.succeeded', data: { object: pi } };
    await expect(h.deliver('paymentIntentSucceeded', { body: event })).resolves.toEqual([pi]);
    await expect(h.deliver('paymentIntentSucceeded', { body: { ...event, type: 'payment_intent.created' } })).resolves.toEqual([]);
    await expect(h.deliver('paymentIntentSucceeded', { body: 'not json' })).resolves.toEqual([]);
  });
});

describe('trigger newCustomer (polling)', () => {
  it('sets a baseline first, then emits each new customer once, oldest first', async () => {
    await using h = await harness();
    const first = await h.poll('newCustomer');
    expect(first).toEqual({ items: [], state: { since: 1700000000, idsAtSince: ['cus_A'] } });
    expect(h.api.requests[0]?.query).toEqual({ limit: '1' });

    const second = await h.poll('newCustomer', first.state);
    expect(second.items.map((c) => (c as { id: string }).id)).toEqual(['cus_B', 'cus_C']);
    expect(second.state).toEqual({ since: 1700000100, idsAtSince: ['cus_C'] });
    expect(h.api.requests[1]?.query).toEqual({ 'created[gte]': '1700000000', limit: '100' });

    const third = await h.poll('newCustomer', second.state);
    expect(third).toEqual({ items: [], state: { since: 1700000100, idsAtSince: ['cus_C'] } });
  });

  it('declares id-based dedupe', () => {
    expect(stripe.manifest.triggers[1]).toMatchObject({ name: 'newCustomer', type: 'polling', polling: { intervalSeconds: 300, dedupe: { by: 'id', path: '/id' } } });
  });
});
