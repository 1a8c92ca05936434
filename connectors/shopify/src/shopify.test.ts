// The Shopify connector (class form) through the local simulator: an OAuth install against the local provider,
// what each action sends (method, path, JSON body, the X-Shopify-Access-Token the host adds), Link-header
// pagination, error mapping and the orders/create webhook trigger.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Connector } from '@businessos/connector-sdk';
import { validateManifest } from '@businessos/connector-sdk/host';
import { createTestHarness } from '@businessos/connector-sdk/testing';
import shopify, { ShopifyConnector } from './index.ts';

const fixturesDir = fileURLToPath(new URL('../fixtures', import.meta.url));
const delivery: { headers: Record<string, string>; body: Record<string, unknown> } = JSON.parse(
  readFileSync(new URL('../fixtures/webhooks/orders-create.json', import.meta.url), 'utf8'),
);
const TOKEN = 'shpat_fixture_token_0123456789abcdef';
const fields = { shop: 'jenny-store' };
/** A harness with a stored access token (no OAuth dance). */
const harness = () => createTestHarness({ connector: shopify, fixturesDir, fields, credentials: { accessToken: TOKEN } });

describe('shopify manifest (class form)', () => {
  it('is a Connector subclass instance whose manifest passes validate', () => {
    expect(shopify).toBeInstanceOf(ShopifyConnector);
    expect(shopify).toBeInstanceOf(Connector);
    expect(validateManifest(shopify.manifest)).toEqual({ ok: true, issues: [] });
  });

  it('declares OAuth2 on the shop\'s own domain, the token header and the shop field', () => {
    const m = shopify.manifest;
    expect(m.baseUrl).toBe('https://{shop}.myshopify.com/admin/api/2025-01');
    expect(m.hosts).toEqual(['{shop}.myshopify.com']);
    expect(m.auth).toMatchObject({
      type: 'oauth2',
      clientId: 'config.client_id',
      clientSecret: 'config.client_secret',
      authorizationUrl: 'https://{shop}.myshopify.com/admin/oauth/authorize',
      tokenUrl: 'https://{shop}.myshopify.com/admin/oauth/access_token',
      tokenHeader: { name: 'X-Shopify-Access-Token', prefix: '' },
      fields: { shop: { type: 'string', required: true } },
    });
    expect(m.test).toEqual({ method: 'GET', path: '/shop.json' });
    expect(m.actions.map((a) => a.name)).toEqual(['createOrder', 'getOrder', 'listOrders', 'createProduct']);
    expect(m.actions[0]?.params).toMatchObject({ type: 'object', required: ['line_items'], additionalProperties: false });
  });
});

describe('OAuth install through the simulator', () => {
  it('gets a token from the local provider and sends it as X-Shopify-Access-Token to the shop', async () => {
    await using h = await createTestHarness({ connector: shopify, fixturesDir, fields });
    const credentials = await h.connect();
    expect(h.oauth?.issued.at(-1)).toMatchObject({ grant: 'authorization_code', scope: 'read_orders,write_orders,read_products,write_products' });
    await expect(h.authenticate()).resolves.toEqual({ ok: true, checked: true, status: 200 });
    const req = h.api.requests[0];
    expect(req).toMatchObject({ method: 'GET', path: '/shop.json' });
    expect(req?.headers['x-shopify-access-token']).toBe(credentials.accessToken);
    expect(req?.headers.authorization).toBeUndefined();
  });

  it('refuses a revoked token with AUTH_FAILED', async () => {
    await using h = await createTestHarness({ connector: shopify, fixturesDir, fields });
    const credentials = await h.connect();
    // Shopify's offline tokens have no refresh token: a revoked one means the merchant must reinstall.
    h.setCredentials({ accessToken: credentials.accessToken ?? '' });
    h.oauth?.revoke(credentials.accessToken ?? '');
    await expect(h.authenticate()).rejects.toMatchObject({ code: 'AUTH_FAILED', upstreamStatus: 401 });
  });
});

describe('createOrder', () => {
  it('posts { order: params } as JSON and returns Shopify\'s { order }', async () => {
    await using h = await harness();
    const params = { line_items: [{ variant_id: 447654529, quantity: 1 }], email: 'jenny.rosen@example.com', financial_status: 'pending', send_receipt: false };
    const out = await h.run('createOrder', params);
    expect(out).toMatchObject({ order: { id: 450789469, name: '#1001', email: 'jenny.rosen@example.com', financial_status: 'pending', total_price: '199.00' } });
    const req = h.api.requests[0];
    expect(req).toMatchObject({ method: 'POST', path: '/orders.json', body: { order: params } });
    expect(req?.headers['x-shopify-access-token']).toBe(TOKEN);
    expect(req?.headers['content-type']).toBe('application/json');
  });

  it('validates line items before sending: a custom item needs title and price, quantity at least 1', async () => {
    await using h = await harness();
    await expect(h.run('createOrder', { line_items: [] })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(h.run('createOrder', { line_items: [{ title: 'Gift wrap', quantity: 1 }] })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(h.run('createOrder', { line_items: [{ variant_id: 1, quantity: 0 }] })).rejects.toMatchObject({ code: 'INVALID_INPUT', path: '/line_items/0/quantity' });
    expect(h.api.requests).toHaveLength(0);
  });

  it('maps Shopify\'s 422 to INVALID_INPUT with its errors in the details', async () => {
    await using h = await harness();
    await expect(h.run('createOrder', { line_items: [{ variant_id: 999999, quantity: 1 }] })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      upstreamStatus: 422,
      details: { errors: { line_items: ['variant_id 999999 does not exist'] } },
    });
  });

  it('maps 429 with Retry-After to RATE_LIMITED with retryAfter', async () => {
    await using h = await harness();
    h.api.prependFixture({ request: { method: 'POST', path: '/orders.json' }, response: { status: 429, headers: { 'retry-after': '2.0' }, body: { errors: 'Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.' } }, times: 1 });
    await expect(h.run('createOrder', { line_items: [{ variant_id: 447654529, quantity: 1 }] })).rejects.toMatchObject({ code: 'RATE_LIMITED', retryAfter: 2 });
  });
});

describe('getOrder', () => {
  it('gets one order, passing fields through', async () => {
    await using h = await harness();
    await expect(h.run('getOrder', { id: 450789469, fields: 'id,name,total_price' })).resolves.toMatchObject({ order: { id: 450789469, name: '#1001' } });
    expect(h.api.requests[0]).toMatchObject({ method: 'GET', path: '/orders/450789469.json', query: { fields: 'id,name,total_price' } });
  });

  it('maps 404 to NOT_FOUND', async () => {
    await using h = await harness();
    await expect(h.run('getOrder', { id: 999 })).rejects.toMatchObject({ code: 'NOT_FOUND', upstreamStatus: 404 });
  });
});

describe('listOrders', () => {
  it('follows the Link header\'s rel="next" URL on the shop\'s domain', async () => {
    await using h = await harness();
    const out = await h.run<{ orders: { name: string }[] }>('listOrders', { financial_status: 'paid', created_at_min: '2025-01-01T00:00:00Z' });
    expect(out.orders.map((o) => o.name)).toEqual(['#1001', '#1000', '#999']);
    expect(h.api.requests.map((r) => [r.method, r.path, r.query])).toEqual([
      ['GET', '/orders.json', { status: 'any', financial_status: 'paid', created_at_min: '2025-01-01T00:00:00Z', limit: '250' }],
      // The next page is exactly the URL Shopify handed out (page_info and limit only, no other filters),
      // mapped by the simulator onto the same path a relative call uses.
      ['GET', '/orders.json', { limit: '2', page_info: 'eyJsYXN0X2lkIjo0NTA3ODk0NjgsImRpcmVjdGlvbiI6Im5leHQifQ' }],
    ]);
    expect(h.api.requests.every((r) => r.headers['x-shopify-access-token'] === TOKEN)).toBe(true);
  });

  it('stops at max_items without fetching the next page', async () => {
    await using h = await harness();
    const out = await h.run<{ orders: unknown[] }>('listOrders', { max_items: 2 });
    expect(out.orders).toHaveLength(2);
    expect(h.api.requests).toHaveLength(1);
    expect(h.api.requests[0]?.query.limit).toBe('2');
  });

  it('refuses a next link that points at another host (EGRESS_DENIED)', async () => {
    await using h = await harness();
    h.api.prependFixture({
      request: { method: 'GET', path: '/orders.json' },
      response: { status: 200, headers: { link: '<https://evil.example.com/admin/api/2025-01/orders.json?page_info=x>; rel="next"' }, body: { orders: [{ id: 1, name: '#1' }] } },
    });
    await expect(h.run('listOrders', {})).rejects.toMatchObject({ code: 'EGRESS_DENIED' });
    expect(h.api.requests).toHaveLength(1);
  });
});

describe('createProduct', () => {
  it('posts { product: params }', async () => {
    await using h = await harness();
    const params = { title: 'Burton Custom Freestyle 151', vendor: 'Burton', product_type: 'Snowboard', status: 'draft', variants: [{ price: '10.00', sku: 'BRT-151' }] };
    await expect(h.run('createProduct', params)).resolves.toMatchObject({ product: { id: 1072481062, title: 'Burton Custom Freestyle 151', status: 'draft', variants: [{ sku: 'BRT-151' }] } });
    expect(h.api.requests[0]).toMatchObject({ method: 'POST', path: '/products.json', body: { product: params } });
  });

  it('needs a title and a decimal price string', async () => {
    await using h = await harness();
    await expect(h.run('createProduct', { vendor: 'Burton' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(h.run('createProduct', { title: 'x', variants: [{ price: 10 }] })).rejects.toMatchObject({ code: 'INVALID_INPUT', path: '/variants/0/price' });
  });
});

describe('trigger newOrder', () => {
  it('declares the orders/create topic, Shopify HMAC verification with the app secret and the webhook id header', () => {
    expect(shopify.manifest.triggers[0]).toMatchObject({
      name: 'newOrder',
      type: 'webhook',
      webhook: { topic: 'orders/create', verify: { scheme: 'shopify', secret: 'config:client_secret' }, eventId: 'header:X-Shopify-Webhook-Id', subscribe: true, unsubscribe: true },
    });
  });

  it('registers the webhook with POST /webhooks.json and removes it with DELETE /webhooks/{id}.json', async () => {
    await using h = await harness();
    const sub = await h.subscribe('newOrder', 'https://hooks.businessos.test/webhooks/ep_abc');
    expect(sub).toEqual({ externalId: '4759306' });
    expect(h.api.requests[0]).toMatchObject({
      method: 'POST',
      path: '/webhooks.json',
      body: { webhook: { topic: 'orders/create', address: 'https://hooks.businessos.test/webhooks/ep_abc', format: 'json' } },
      headers: { 'x-shopify-access-token': TOKEN },
    });
    await h.trigger('newOrder', 'unsubscribe', sub);
    expect(h.api.requests[1]).toMatchObject({ method: 'DELETE', path: '/webhooks/4759306.json' });
  });

  it('adopts the existing webhook when Shopify says the address is already taken (a retried subscribe)', async () => {
    await using h = await harness();
    await expect(h.subscribe('newOrder', 'https://hooks.businessos.test/webhooks/ep_again')).resolves.toEqual({ externalId: '4759400' });
    expect(h.api.requests.map((r) => [r.method, r.path, r.status])).toEqual([
      ['POST', '/webhooks.json', 422],
      ['GET', '/webhooks.json', 200],
    ]);
  });

  it('treats unsubscribing a webhook that is already gone as done', async () => {
    await using h = await harness();
    await expect(h.trigger('newOrder', 'unsubscribe', { externalId: '404' })).resolves.toBeNull();
    expect(h.api.requests[0]).toMatchObject({ status: 404 });
  });

  it('turns a delivery into one order event', async () => {
    await using h = await harness();
    await expect(h.deliver('newOrder', delivery)).resolves.toEqual([delivery.body]);
  });
});
