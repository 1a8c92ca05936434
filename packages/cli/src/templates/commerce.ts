import { fixturesFile, type TemplateDefinition } from './types.ts';

/** Commerce: orders and products on a per-shop host, OAuth2 with PKCE, and a signed order webhook. */
export const commerceTemplate: TemplateDefinition = {
  id: 'commerce',
  summary: 'Commerce: orders and products, OAuth2 (authorization code + PKCE) per shop, signed webhook trigger',
  readme: () => [
    '- `listOrders`: orders of the shop, following `Link: rel="next"` pages',
    '- `getOrder`: one order by id',
    '- `createProduct`: add a product with variants',
    '- `orderCreated` (webhook trigger): subscribes a webhook, verifies the HMAC signature, emits the order',
  ].join('\n'),
  files: ({ name, displayName }) => ({
    'src/index.ts': `import { defineConnector, OAuth2Auth } from '@businessos/connector-sdk';
import { createProduct } from './actions/create-product.ts';
import { getOrder } from './actions/get-order.ts';
import { listOrders } from './actions/list-orders.ts';
import { orderCreated } from './triggers/order-created.ts';

export default defineConnector({
  name: '${name}',
  version: '0.1.0',
  displayName: '${displayName}',
  description: 'Orders and products of a ${displayName} shop.',
  category: 'commerce',
  auth: new OAuth2Auth({
    // References to the platform's OAuth app settings, resolved by the host.
    clientId: 'config.client_id',
    clientSecret: 'config.client_secret',
    authorizationUrl: 'https://{shop}.${name}.example.com/oauth/authorize',
    tokenUrl: 'https://{shop}.${name}.example.com/oauth/token',
    scopes: ['read_orders', 'write_products'],
    fields: {
      shop: { type: 'string', label: 'Shop subdomain', required: true, pattern: '^[a-z0-9][a-z0-9-]*$', placeholder: 'my-store' },
    },
  }),
  baseUrl: 'https://{shop}.${name}.example.com/api/2026-01',
  permissions: ['Read orders', 'Write products'],
  test: { path: '/shop.json' },
  actions: [listOrders, getOrder, createProduct],
  triggers: [orderCreated],
});
`,
    'src/schemas.ts': `import type { Infer } from '@businessos/connector-sdk';

/** An order as the API returns it. */
export const orderSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    name: { type: 'string' },
    email: { type: 'string' },
    total_price: { type: 'string' },
    currency: { type: 'string' },
    financial_status: { type: 'string' },
  },
  required: ['id'],
} as const;

export type Order = Infer<typeof orderSchema>;

/** A product as the API returns it. */
export const productSchema = {
  type: 'object',
  properties: { id: { type: 'integer' }, title: { type: 'string' }, status: { type: 'string' } },
  required: ['id', 'title'],
} as const;

export type Product = Infer<typeof productSchema>;
`,
    'src/actions/list-orders.ts': `import { collect, defineAction, paginate } from '@businessos/connector-sdk';

export const listOrders = defineAction({
  name: 'listOrders',
  description: 'List orders, newest first, following the Link header through every page.',
  group: 'order',
  idempotent: true,
  params: {
    status: { type: 'string', enum: ['open', 'closed', 'cancelled', 'any'], default: 'any' },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 250 },
  },
  output: { type: 'object', properties: { orders: { type: 'array', items: { type: 'object' } } }, required: ['orders'] },
  async execute(params, ctx) {
    const orders = await collect(
      paginate(
        ctx.http,
        { method: 'GET', url: '/orders.json', query: { status: params.status ?? 'any', limit: 50 } },
        { type: 'link', items: (r) => (r.data as { orders: Record<string, unknown>[] }).orders },
        { maxItems: params.limit ?? 250 },
      ),
    );
    return { orders };
  },
});
`,
    'src/actions/get-order.ts': `import { defineAction } from '@businessos/connector-sdk';
import { orderSchema, type Order } from '../schemas.ts';

export const getOrder = defineAction({
  name: 'getOrder',
  description: 'Fetch one order by id.',
  group: 'order',
  idempotent: true,
  params: { id: { type: 'integer', minimum: 1, required: true } },
  output: orderSchema,
  async execute({ id }, ctx) {
    const res = await ctx.http.get<{ order: Order }>(\`/orders/\${id}.json\`);
    return res.data.order;
  },
});
`,
    'src/actions/create-product.ts': `import { defineAction } from '@businessos/connector-sdk';
import { productSchema, type Product } from '../schemas.ts';

export const createProduct = defineAction({
  name: 'createProduct',
  description: 'Create a product with one or more variants.',
  group: 'product',
  params: {
    title: { type: 'string', minLength: 1, required: true },
    vendor: { type: 'string' },
    status: { type: 'string', enum: ['active', 'draft', 'archived'], default: 'draft' },
    variants: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        properties: { sku: { type: 'string' }, price: { type: 'string', pattern: '^[0-9]+(\\\\.[0-9]{2})?$' } },
        required: ['price'],
        additionalProperties: false,
      },
    },
  },
  output: productSchema,
  async execute(params, ctx) {
    const res = await ctx.http.post<{ product: Product }>('/products.json', { product: params });
    return res.data.product;
  },
});
`,
    'src/triggers/order-created.ts': `import { defineTrigger } from '@businessos/connector-sdk';
import { orderSchema } from '../schemas.ts';

export const orderCreated = defineTrigger({
  name: 'orderCreated',
  description: 'Fires when an order is placed.',
  group: 'order',
  output: orderSchema,
  sample: { id: 1001, name: '#1001', email: 'ada@example.com', total_price: '42.00', currency: 'EUR' },
  webhook: {
    topic: 'orders/create',
    // The host checks the signature before this code sees a delivery.
    verify: { scheme: 'hmac', algorithm: 'sha256', header: 'X-Webhook-Hmac-Sha256', encoding: 'base64', secret: 'config:client_secret' },
    eventId: 'header:X-Webhook-Id',
    async subscribe(ctx, { webhookUrl, topic }) {
      const res = await ctx.http.post<{ webhook: { id: number } }>('/webhooks.json', { webhook: { topic, address: webhookUrl, format: 'json' } });
      return { externalId: String(res.data.webhook.id) };
    },
    async unsubscribe(ctx, subscription) {
      await ctx.http.delete(\`/webhooks/\${subscription.externalId}.json\`);
    },
    transform: (delivery) => [delivery.body],
  },
});
`,
    'fixtures/orders.json': fixturesFile([
      {
        name: 'orders, page 2',
        request: { method: 'GET', path: '/orders.json', query: { page_info: 'p2' } },
        response: { status: 200, body: { orders: [{ id: 1003, name: '#1003', total_price: '7.50', currency: 'EUR' }] } },
      },
      {
        name: 'orders, page 1',
        request: { method: 'GET', path: '/orders.json' },
        response: {
          status: 200,
          headers: { link: '</orders.json?page_info=p2&limit=50>; rel="next"' },
          body: { orders: [{ id: 1001, name: '#1001', total_price: '42.00', currency: 'EUR' }, { id: 1002, name: '#1002', total_price: '10.00', currency: 'EUR' }] },
        },
      },
      { name: 'missing order', request: { method: 'GET', path: '/orders/404.json' }, response: { status: 404, body: { errors: 'Not Found' } } },
      {
        name: 'one order',
        request: { method: 'GET', path: '/orders/:id.json' },
        response: { status: 200, body: { order: { id: 1001, name: '#1001', email: 'ada@example.com', total_price: '42.00', currency: 'EUR', financial_status: 'paid' } } },
      },
      { name: 'shop', request: { method: 'GET', path: '/shop.json' }, response: { status: 200, body: { shop: { name: 'Test shop' } } } },
    ]),
    'fixtures/products.json': fixturesFile([
      {
        name: 'create a product',
        request: { method: 'POST', path: '/products.json' },
        response: { status: 201, body: { product: { id: 501, title: '{{body.product.title}}', status: 'draft' } } },
      },
    ]),
    'fixtures/webhooks.json': fixturesFile([
      { name: 'subscribe', request: { method: 'POST', path: '/webhooks.json' }, response: { status: 201, body: { webhook: { id: 9001, topic: '{{body.webhook.topic}}' } } } },
      { name: 'unsubscribe', request: { method: 'DELETE', path: '/webhooks/:id.json' }, response: { status: 200, body: {} } },
    ]),
  }),
};
