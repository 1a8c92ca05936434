import { describe, expect, expectTypeOf, it } from 'vitest';
import { ApiKeyAuth, Connector, OAuth2Auth, defineAction, defineConnector, defineTrigger, type HttpRequest, type HttpResponse } from './index.ts';

const echo = async (req: HttpRequest): Promise<HttpResponse> => ({ status: 200, headers: {}, data: { echoed: req } });

describe('defineAction', () => {
  it('infers params from the shorthand, honouring required: true', async () => {
    const action = defineAction({
      name: 'createCustomer',
      description: 'Create a customer',
      params: { email: { type: 'string', required: true }, age: { type: 'integer' } },
      async execute(params) {
        expectTypeOf(params.email).toEqualTypeOf<string>();
        expectTypeOf(params.age).toEqualTypeOf<number | undefined>();
        return { id: `cus_${params.email}` };
      },
    });
    const c = defineConnector({ name: 'acme', version: '1.0.0', actions: [action] });
    expect(await c.executeAction('createCustomer', { email: 'a@b.c' }, { transport: echo })).toEqual({ id: 'cus_a@b.c' });
    expect(c.manifest.actions[0]?.params).toEqual({
      type: 'object',
      properties: { email: { type: 'string' }, age: { type: 'integer' } },
      required: ['email'],
      additionalProperties: false,
    });
  });

  it('types the output from an output schema', () => {
    defineAction({
      name: 'getThing',
      description: 'x',
      params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
      output: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'], additionalProperties: false },
      async execute(params) {
        expectTypeOf(params.id).toEqualTypeOf<string>();
        return { id: params.id };
      },
    });
  });
});

describe('class form (design document shape)', () => {
  class ShopifyConnector extends Connector {
    constructor() {
      super({
        name: 'shopify',
        version: '1.0.0',
        auth: new OAuth2Auth({ clientId: 'config.client_id', scopes: ['read_orders', 'write_products'] }),
        actions: [
          {
            name: 'createOrder',
            description: 'Create a new order',
            params: { line_items: { type: 'array' } },
            execute: async (params) => {
              const response = await this.api.post('/orders', params);
              return response.data;
            },
          },
        ],
        triggers: [{ name: 'newOrder', description: 'Trigger on new order', webhook: '/webhooks/orders/create' }],
      });
    }
  }
  const connector = new ShopifyConnector();

  it('routes this.api through the host transport', async () => {
    const out = await connector.executeAction('createOrder', { line_items: [{ sku: 'A' }] }, { transport: echo });
    expect(out).toEqual({ echoed: { method: 'POST', url: '/orders', body: { line_items: [{ sku: 'A' }] }, bodyType: undefined, query: undefined, headers: undefined, timeoutMs: undefined } });
  });

  it('builds a manifest that is plain data', () => {
    const m = connector.manifest;
    expect(m.auth).toMatchObject({ type: 'oauth2', clientId: 'config.client_id', pkce: true, scopes: ['read_orders', 'write_products'] });
    expect(m.actions[0]).toMatchObject({ name: 'createOrder', displayName: 'Create Order' });
    expect(m.triggers[0]).toMatchObject({ name: 'newOrder', type: 'webhook', webhook: { topic: '/webhooks/orders/create' } });
    expect(JSON.parse(JSON.stringify(m))).toEqual(m);
  });

  it('refuses this.api outside an execution and unknown actions', async () => {
    expect(() => connector.api).toThrow(/only available while/);
    await expect(connector.executeAction('nope', {}, { transport: echo })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('authenticate() sends the test request and reports provider refusal as AUTH_FAILED', async () => {
    const c = defineConnector({ name: 'x', version: '1.0.0', auth: new ApiKeyAuth({ name: 'X-Key' }), test: { path: '/me' }, actions: [] });
    await expect(c.authenticate({ transport: echo })).resolves.toEqual({ ok: true, checked: true, status: 200 });
    const refuse = async (): Promise<HttpResponse> => ({ status: 401, headers: {}, data: { error: 'bad key' } });
    await expect(c.authenticate({ transport: refuse })).rejects.toMatchObject({ code: 'AUTH_FAILED' });
  });
});

describe('defineTrigger', () => {
  it('declares a polling trigger that the manifest describes', async () => {
    const t = defineTrigger({
      name: 'newItem',
      description: 'New item',
      polling: {
        intervalSeconds: 60,
        dedupe: { by: 'id', path: '/id' },
        async poll(ctx, state) {
          const res = await ctx.http.get<{ items: { id: string }[] }>('/items');
          return { items: res.data.items ?? [], state: { seen: (state as number | undefined) ?? 0 } };
        },
      },
    });
    const c = defineConnector({ name: 'y', version: '1.0.0', actions: [], triggers: [t] });
    expect(c.manifest.triggers[0]).toMatchObject({ type: 'polling', polling: { intervalSeconds: 60, dedupe: { by: 'id', path: '/id' } } });
    const items = async (): Promise<HttpResponse> => ({ status: 200, headers: {}, data: { items: [{ id: '1' }] } });
    await expect(c.executeTrigger('newItem', 'poll', undefined, { transport: items })).resolves.toEqual({ items: [{ id: '1' }], state: { seen: 0 } });
  });
});
