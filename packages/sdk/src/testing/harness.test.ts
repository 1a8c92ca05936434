import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyAuth, BasicAuth, BearerTokenAuth, Connector, ConnectorError, OAuth2Auth, defineAction, defineConnector, defineTrigger } from '../index.ts';
import { createTestHarness } from './harness.ts';

const crm = defineConnector({
  name: 'acme',
  version: '1.0.0',
  baseUrl: 'https://api.acme.test/v2',
  auth: new ApiKeyAuth({ name: 'X-Api-Key' }),
  test: { path: '/me' },
  actions: [
    defineAction({
      name: 'createContact',
      description: 'Create a contact',
      params: { email: { type: 'string', format: 'email', required: true }, name: { type: 'string' } },
      output: { type: 'object', properties: { id: { type: 'string' }, email: { type: 'string' } }, required: ['id', 'email'] },
      async execute(params, ctx) {
        return (await ctx.http.post<{ id: string; email: string }>('/contacts', params)).data;
      },
    }),
    defineAction({
      name: 'getContact',
      description: 'Fetch a contact',
      params: { id: { type: 'string', required: true } },
      output: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
      async execute(params, ctx) {
        return (await ctx.http.get<{ id: string }>(`/contacts/${encodeURIComponent(params.id)}`)).data;
      },
    }),
  ],
  triggers: [
    defineTrigger({
      name: 'newContact',
      description: 'A contact was created',
      output: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
      polling: {
        intervalSeconds: 60,
        dedupe: { by: 'id', path: '/id' },
        async poll(ctx, state) {
          const since = (state as { since?: string } | undefined)?.since ?? '0';
          const res = await ctx.http.get<{ data: { id: string }[]; next: string }>('/contacts', { query: { since } });
          return { items: res.data.data, state: { since: res.data.next } };
        },
      },
    }),
  ],
});

describe('createTestHarness with API-key auth', () => {
  it('runs an action through the host path: the host adds the key, the output is validated', async () => {
    await using h = await createTestHarness({
      connector: crm,
      credentials: { apiKey: 'k-123' },
      fixtures: [{ request: { method: 'POST', path: '/contacts', body: { email: 'a@b.co' } }, response: { status: 201, body: { id: 'c_1', email: '{{body.email}}' } } }],
    });
    const out = await h.run('createContact', { email: 'a@b.co' });
    expect(out).toEqual({ id: 'c_1', email: 'a@b.co' });
    const sent = h.api.requests[0];
    expect(sent?.headers['x-api-key']).toBe('k-123');
    expect(sent?.body).toEqual({ email: 'a@b.co' });
    // The base URL's path prefix is dropped when sending to the mock: fixtures use the API's own paths.
    expect(sent?.path).toBe('/contacts');
  });

  it('refuses invalid params before any request, naming the JSON path', async () => {
    await using h = await createTestHarness({ connector: crm });
    const error = await h.run('createContact', { email: 'not-an-email' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error).toMatchObject({ code: 'INVALID_INPUT', path: '/email' });
    expect(h.api.requests).toHaveLength(0);
  });

  it('reports an output that breaks the output schema as INVALID_OUTPUT', async () => {
    await using h = await createTestHarness({
      connector: crm,
      fixtures: [{ request: { method: 'GET', path: '/contacts/:id' }, response: { body: { name: 'no id here' } } }],
    });
    await expect(h.run('getContact', { id: '7' })).rejects.toMatchObject({ code: 'INVALID_OUTPUT' });
  });

  it('answers a request without a fixture with a helpful 501 that reaches the caller as NOT_IMPLEMENTED', async () => {
    await using h = await createTestHarness({
      connector: crm,
      fixtures: [{ name: 'list contacts', request: { method: 'GET', path: '/contacts' }, response: { body: { data: [] } } }],
    });
    const error = (await h.run('getContact', { id: '42' }).catch((e: unknown) => e)) as ConnectorError;
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error.code).toBe('NOT_IMPLEMENTED');
    expect(error.message).toContain('GET /contacts/42');
    expect(error.message).toContain('list contacts');
    expect(h.api.requests[0]?.status).toBe(501);
    const details = error.details as { suggestion: { request: { method: string; path: string } }; candidates: { fixture: string; mismatches: string[] }[] };
    expect(details.suggestion.request).toEqual({ method: 'GET', path: '/contacts/42' });
    expect(details.candidates[0]?.fixture).toBe('list contacts');
    expect(details.candidates[0]?.mismatches.join(' ')).toContain('path: expected /contacts, got /contacts/42');
    // The report never echoes the credentials the host added.
    expect(JSON.stringify(error.details)).not.toContain('test-api-key');
  });

  it('answers 401 to a wrong key, which the caller sees as AUTH_FAILED', async () => {
    await using h = await createTestHarness({
      connector: crm,
      credentials: { apiKey: 'right' },
      fixtures: [{ request: { method: 'GET', path: '/contacts/:id' }, response: { body: { id: '{{params.id}}' } } }],
    });
    await expect(h.run('getContact', { id: '1' })).resolves.toEqual({ id: '1' });
    await expect(h.run('getContact', { id: '1' }, { credentials: { apiKey: 'wrong' } })).rejects.toMatchObject({ code: 'AUTH_FAILED', upstreamStatus: 401 });
  });

  it('runs the connection test and polling triggers with their state', async () => {
    await using h = await createTestHarness({
      connector: crm,
      fixtures: [
        { request: { method: 'GET', path: '/me' }, response: { body: { id: 'me' } } },
        { request: { method: 'GET', path: '/contacts', query: { since: '0' } }, response: { body: { data: [{ id: 'c1' }, { id: 'c2' }], next: '2' } } },
        { request: { method: 'GET', path: '/contacts', query: { since: '2' } }, response: { body: { data: [], next: '2' } } },
      ],
    });
    await expect(h.authenticate()).resolves.toEqual({ ok: true, checked: true, status: 200 });
    const first = await h.poll('newContact');
    expect(first).toEqual({ items: [{ id: 'c1' }, { id: 'c2' }], state: { since: '2' } });
    expect(await h.poll('newContact', first.state)).toEqual({ items: [], state: { since: '2' } });
  });

  it('validates polled events against the trigger output schema', async () => {
    await using h = await createTestHarness({
      connector: crm,
      fixtures: [{ request: { method: 'GET', path: '/contacts' }, response: { body: { data: [{ name: 'no id' }], next: '1' } } }],
    });
    await expect(h.poll('newContact')).rejects.toMatchObject({ code: 'INVALID_OUTPUT', path: '/id' });
  });

  it('loads fixtures from a folder of JSON files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bos-fixtures-'));
    try {
      await writeFile(join(dir, 'contacts.json'), JSON.stringify([{ request: { method: 'GET', path: '/contacts/:id' }, response: { body: { id: 'from-file-{{params.id}}' } } }]));
      await using h = await createTestHarness({ connector: crm, fixturesDir: dir });
      await expect(h.run('getContact', { id: '9' })).resolves.toEqual({ id: 'from-file-9' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('wraps a plain exception from connector code as INTERNAL', async () => {
    const broken = defineConnector({
      name: 'broken',
      version: '1.0.0',
      actions: [defineAction({ name: 'boom', description: 'Throws', async execute() { throw new TypeError('oops'); } })],
    });
    await using h = await createTestHarness({ connector: broken });
    await expect(h.run('boom')).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('TypeError: oops') as unknown });
  });
});

describe('createTestHarness: the host path stays offline', () => {
  const hooks = defineConnector({
    name: 'hooks',
    version: '1.0.0',
    baseUrl: 'https://api.hooks.test',
    hosts: ['hooks.other.test'],
    actions: [
      defineAction({ name: 'declared', description: 'x', async execute(_p, ctx) { return (await ctx.http.post<Record<string, unknown>>('https://hooks.other.test/in/abc', { a: 1 })).data; } }),
      defineAction({ name: 'undeclared', description: 'x', async execute(_p, ctx) { return (await ctx.http.get<Record<string, unknown>>('https://evil.test/steal')).data; } }),
    ],
  });

  it('sends absolute URLs on declared hosts to the mock API, and refuses undeclared hosts with EGRESS_DENIED', async () => {
    await using h = await createTestHarness({ connector: hooks, fixtures: [{ request: { method: 'POST', path: '/in/:id' }, response: { body: { got: '{{params.id}}' } } }] });
    await expect(h.run('declared')).resolves.toEqual({ got: 'abc' });
    await expect(h.run('undeclared')).rejects.toMatchObject({ code: 'EGRESS_DENIED' });
    expect(h.api.requests).toHaveLength(1);
  });

  it('does not refresh tokens against a real token endpoint', async () => {
    const real = defineConnector({
      name: 'real',
      version: '1.0.0',
      baseUrl: 'https://api.real.test',
      auth: new OAuth2Auth({ clientId: 'id', authorizationUrl: 'https://real.test/authorize', tokenUrl: 'https://real.test/token' }),
      actions: [defineAction({ name: 'ping', description: 'x', async execute(_p, ctx) { return (await ctx.http.get<Record<string, unknown>>('/ping')).data; } })],
    });
    await using h = await createTestHarness({ connector: real, credentials: { accessToken: 'old', refreshToken: 'r' }, apiAuth: { type: 'bearer', token: 'new' } });
    expect(h.oauth).toBeUndefined();
    const error = (await h.run('ping').catch((e: unknown) => e)) as ConnectorError;
    expect(error.code).toBe('NETWORK_ERROR');
    expect(error.message).toContain('works offline');
  });
});

describe('createTestHarness: webhook triggers and logs', () => {
  const hooked = defineConnector({
    name: 'hooked',
    version: '1.0.0',
    baseUrl: 'https://api.hooked.test',
    auth: new BearerTokenAuth(),
    actions: [],
    triggers: [
      defineTrigger({
        name: 'orderCreated',
        description: 'An order was created',
        output: { type: 'object', properties: { orderId: { type: 'string' } }, required: ['orderId'] },
        webhook: {
          topic: 'orders/create',
          async subscribe(ctx, { webhookUrl, topic }) {
            const res = await ctx.http.post<{ id: string; secret: string }>('/webhooks', { url: webhookUrl, topic });
            ctx.log.info('subscribed', { id: res.data.id });
            return { externalId: res.data.id, secret: res.data.secret };
          },
          async unsubscribe(ctx, sub) {
            await ctx.http.delete(`/webhooks/${sub.externalId}`);
          },
          transform(delivery) {
            const body = delivery.body as { orders: { id: string }[] };
            return body.orders.map((o) => ({ orderId: o.id }));
          },
        },
      }),
    ],
  });

  it('subscribes, transforms deliveries into validated events and unsubscribes', async () => {
    await using h = await createTestHarness({
      connector: hooked,
      fixtures: [
        { request: { method: 'POST', path: '/webhooks', body: { topic: 'orders/create', url: '*' } }, response: { status: 201, body: { id: 'wh_1', secret: 'whsec_test' } } },
        { request: { method: 'DELETE', path: '/webhooks/:id' }, response: { status: 204 } },
      ],
    });
    const sub = await h.subscribe('orderCreated', 'https://platform.test/hooks/1');
    expect(sub).toEqual({ externalId: 'wh_1', secret: 'whsec_test' });
    expect(h.api.requests[0]?.body).toEqual({ url: 'https://platform.test/hooks/1', topic: 'orders/create' });
    expect(h.logs).toEqual([{ level: 'info', message: 'subscribed', data: { id: 'wh_1' } }]);
    await expect(h.deliver('orderCreated', { body: { orders: [{ id: 'o1' }, { id: 'o2' }] } })).resolves.toEqual([{ orderId: 'o1' }, { orderId: 'o2' }]);
    await expect(h.deliver('orderCreated', { body: { orders: [{ id: 3 }] } })).rejects.toMatchObject({ code: 'INVALID_OUTPUT', path: '/orderId' });
    await expect(h.trigger('orderCreated', 'unsubscribe', sub)).resolves.toBeNull();
    expect(h.api.lastRequest()).toMatchObject({ method: 'DELETE', path: '/webhooks/wh_1', status: 204 });
  });
});

describe('createTestHarness with other auth types', () => {
  const make = (auth: ApiKeyAuth | BasicAuth | BearerTokenAuth) =>
    defineConnector({
      name: 'x',
      version: '1.0.0',
      baseUrl: 'https://{region}.x.test',
      auth,
      actions: [defineAction({ name: 'ping', description: 'Ping', async execute(_p, ctx) { return (await ctx.http.get<Record<string, unknown>>('/ping')).data; } })],
    });
  const ping = [{ request: { method: 'GET', path: '/ping' }, response: { body: { pong: true } } }];

  it('applies bearer tokens and fills URL template fields with test values', async () => {
    await using h = await createTestHarness({ connector: make(new BearerTokenAuth()), fixtures: ping });
    await expect(h.run('ping')).resolves.toEqual({ pong: true });
    expect(h.api.requests[0]?.headers.authorization).toBe('Bearer test-token');
    expect(h.fields.region).toBe('test-region');
  });

  it('applies HTTP basic credentials', async () => {
    await using h = await createTestHarness({ connector: make(new BasicAuth()), fixtures: ping, credentials: { username: 'u', password: 'p' }, fields: { region: 'eu' } });
    await expect(h.run('ping')).resolves.toEqual({ pong: true });
    expect(h.api.requests[0]?.headers.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
  });

  it('sends query-string API keys', async () => {
    await using h = await createTestHarness({ connector: make(new ApiKeyAuth({ name: 'key', in: 'query' })), fixtures: ping });
    await h.run('ping');
    expect(h.api.requests[0]?.query.key).toBe('test-api-key');
  });
});

class ShopConnector extends Connector {
  constructor() {
    super({
      name: 'shop',
      version: '1.0.0',
      baseUrl: 'https://{shop}.shop.test/admin/api',
      auth: new OAuth2Auth({
        clientId: 'config.client_id',
        clientSecret: 'config.client_secret',
        authorizationUrl: 'https://{shop}.shop.test/oauth/authorize',
        tokenUrl: 'https://{shop}.shop.test/oauth/token',
        scopes: ['read_orders', 'write_orders'],
        tokenHeader: { name: 'X-Shop-Access-Token', prefix: '' },
      }),
      actions: [
        {
          name: 'listOrders',
          description: 'List orders',
          execute: async () => (await this.api.get('/orders.json')).data,
        },
      ],
    });
  }
}

describe('createTestHarness with OAuth2', () => {
  const orders = [{ request: { method: 'GET', path: '/orders.json' }, response: { body: { orders: [{ id: 1 }] } } }];
  let shop: ShopConnector;
  beforeAll(() => {
    shop = new ShopConnector();
  });
  afterAll(() => undefined);

  it('connects on first use with authorization code + PKCE and sends the token the way the manifest says', async () => {
    await using h = await createTestHarness({ connector: shop, fixtures: orders });
    await expect(h.run('listOrders')).resolves.toEqual({ orders: [{ id: 1 }] });
    const token = h.credentials?.accessToken;
    expect(token).toMatch(/^mat_/);
    expect(h.api.requests[0]?.headers['x-shop-access-token']).toBe(token);
    expect(h.oauth?.issued[0]).toMatchObject({ grant: 'authorization_code', clientId: 'test-client-id', scope: 'read_orders write_orders' });
  });

  it('refreshes an expired token transparently and keeps the new one', async () => {
    await using h = await createTestHarness({ connector: shop, fixtures: orders });
    const first = await h.connect();
    h.oauth?.advanceTime(3601);
    expect(h.oauth?.verify(first.accessToken as string)).toEqual({ active: false, reason: 'expired' });
    await expect(h.run('listOrders')).resolves.toEqual({ orders: [{ id: 1 }] });
    expect(h.api.requests.map((r) => r.status)).toEqual([401, 200]);
    expect(h.credentials?.accessToken).not.toBe(first.accessToken);
    expect(h.credentials?.refreshToken).not.toBe(first.refreshToken);
    expect(h.oauth?.issued.at(-1)?.grant).toBe('refresh_token');
  });

  it('turns a revoked token without a refresh token into AUTH_FAILED', async () => {
    await using h = await createTestHarness({ connector: shop, fixtures: orders, oauth: true });
    const creds = await h.connect();
    h.setCredentials({ accessToken: creds.accessToken as string });
    h.oauth?.revoke(creds.accessToken as string);
    const error = (await h.run('listOrders').catch((e: unknown) => e)) as ConnectorError;
    expect(error.code).toBe('AUTH_FAILED');
    expect(h.api.lastRequest()?.status).toBe(401);
    expect(JSON.stringify(error.details)).toContain('revoked');
  });

  it('turns a revoked grant (refresh token) into AUTH_EXPIRED: the tenant must reconnect', async () => {
    await using h = await createTestHarness({ connector: shop, fixtures: orders });
    const creds = await h.connect();
    h.oauth?.revoke(creds.refreshToken as string);
    await expect(h.run('listOrders')).rejects.toMatchObject({ code: 'AUTH_EXPIRED' });
  });

  it('supports the client-credentials grant', async () => {
    const m2m = defineConnector({
      name: 'm2m',
      version: '1.0.0',
      baseUrl: 'https://api.m2m.test',
      auth: new OAuth2Auth({ grant: 'client_credentials', clientId: 'config.client_id', tokenUrl: 'https://auth.m2m.test/token', scopes: ['read'] }),
      actions: [defineAction({ name: 'ping', description: 'Ping', async execute(_p, ctx) { return (await ctx.http.get<Record<string, unknown>>('/ping')).data; } })],
    });
    await using h = await createTestHarness({ connector: m2m, fixtures: [{ request: { path: '/ping' }, response: { body: 'pong', headers: { 'content-type': 'text/plain' } } }] });
    await expect(h.run('ping')).resolves.toBe('pong');
    expect(h.oauth?.issued[0]).toMatchObject({ grant: 'client_credentials', scope: 'read' });
    expect(h.credentials?.refreshToken).toBeUndefined();
  });

  it('connects a connector without PKCE and without a declared secret as a confidential test client', async () => {
    const legacy = defineConnector({
      name: 'legacy',
      version: '1.0.0',
      baseUrl: 'https://api.legacy.test',
      auth: new OAuth2Auth({ clientId: 'legacy-app', pkce: false, authorizationUrl: 'https://legacy.test/authorize', tokenUrl: 'https://legacy.test/token', clientAuth: 'basic' }),
      actions: [defineAction({ name: 'ping', description: 'Ping', async execute(_p, ctx) { return (await ctx.http.get<Record<string, unknown>>('/ping')).data; } })],
    });
    await using h = await createTestHarness({ connector: legacy, fixtures: [{ request: { path: '/ping' }, response: { body: { ok: 1 } } }] });
    await expect(h.run('ping')).resolves.toEqual({ ok: 1 });
    expect(h.oauth?.issued[0]).toMatchObject({ clientId: 'legacy-app', grant: 'authorization_code' });
  });

  it('reports a denied consent as AUTH_FAILED', async () => {
    await using h = await createTestHarness({ connector: shop, fixtures: orders, oauth: { autoConsent: false } });
    await expect(h.connect()).rejects.toMatchObject({ code: 'AUTH_FAILED', message: expect.stringContaining('access_denied') as unknown });
  });
});
