import { collect, Connector, ConnectorError, isConnectorError, OAuth2Auth, paginate, type HttpResponse } from '@businessos/connector-sdk';
import { addressSchema, lineItemInputSchema, orderSchema, productSchema } from './schemas.ts';

const VERSION = '1.0.0';
/** Shopify's largest page size for REST list endpoints. */
const PAGE_SIZE = 250;

const ICON =
  'data:image/svg+xml,' +
  encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="#95BF47"/>' +
      '<path fill="#fff" d="M40.6 17.5c0-.2-.2-.3-.4-.3l-3.3-.2-2.4-2.4c-.2-.2-.7-.2-.9-.1l-1.2.4C31.7 12.8 30.4 11 28 11h-.2c-.7-.9-1.5-1.3-2.2-1.3-5.4 0-8 6.8-8.8 10.2l-3.8 1.2c-1.2.4-1.2.4-1.4 1.5L8.5 47.4 32.3 51.9l12.9-2.8L40.6 17.5zM30.9 15l-2 .6v-.4c0-1.3-.2-2.4-.5-3.2 1.2.2 2 1.5 2.5 3zm-4-2.8c.3.8.6 2 .6 3.6v.2l-4.2 1.3c.8-3.1 2.3-4.6 3.6-5.1zm-1.6-1.5c.2 0 .5.1.7.2-1.7.8-3.6 2.9-4.4 7l-3.3 1c.9-3.1 3.1-8.2 7-8.2z"/>' +
      '<path fill="#5E8E3E" d="M40.2 17.2l-3.3-.2-2.4-2.4c-.1-.1-.2-.1-.3-.1L32.3 51.9l12.9-2.8-4.6-31.6c0-.2-.2-.3-.4-.3z"/></svg>',
  );

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

function ordersOf(res: HttpResponse): unknown[] {
  const data = res.data;
  return data && typeof data === 'object' && 'orders' in data && Array.isArray(data.orders) ? data.orders : [];
}

function webhookIdOf(data: unknown): string {
  if (data && typeof data === 'object' && 'webhook' in data && data.webhook && typeof data.webhook === 'object' && 'id' in data.webhook) {
    const id = data.webhook.id;
    if (typeof id === 'number' || typeof id === 'string') return String(id);
  }
  throw new ConnectorError('INVALID_OUTPUT', 'Shopify POST /webhooks.json answered without webhook.id; the webhook may not be registered, check Settings → Notifications → Webhooks');
}

function firstWebhookId(data: unknown): string | undefined {
  if (!data || typeof data !== 'object' || !('webhooks' in data) || !Array.isArray(data.webhooks)) return undefined;
  const [first] = data.webhooks;
  return first && typeof first === 'object' && 'id' in first && (typeof first.id === 'number' || typeof first.id === 'string') ? String(first.id) : undefined;
}

/**
 * Shopify (Admin REST API 2025-01), written in the class form of the design document: orders and products,
 * and a webhook trigger for new orders. The shop's subdomain is a connection field templated into every URL;
 * the app's access token is sent as `X-Shopify-Access-Token`.
 */
export class ShopifyConnector extends Connector {
  constructor() {
    super({
      name: 'shopify',
      version: VERSION,
      displayName: 'Shopify',
      description: 'Create and read orders, create products and start workflows when a Shopify store receives an order.',
      category: 'commerce',
      icon: ICON,
      homepage: 'https://shopify.dev/docs/api/admin-rest/2025-01',
      author: 'BusinessOS',
      auth: new OAuth2Auth({
        clientId: 'config.client_id',
        clientSecret: 'config.client_secret',
        scopes: ['read_orders', 'write_orders', 'read_products', 'write_products'],
        scopeSeparator: ',',
        authorizationUrl: 'https://{shop}.myshopify.com/admin/oauth/authorize',
        tokenUrl: 'https://{shop}.myshopify.com/admin/oauth/access_token',
        tokenHeader: { name: 'X-Shopify-Access-Token', prefix: '' },
        // Shopify's authorization-code grant authenticates the app with its secret and does not take PKCE.
        pkce: false,
        clientAuth: 'body',
        fields: {
          shop: {
            type: 'string',
            label: 'Shop',
            description: 'The store\'s myshopify.com subdomain: "my-store" for my-store.myshopify.com.',
            pattern: '^[a-zA-Z0-9][a-zA-Z0-9-]*$',
            placeholder: 'my-store',
            required: true,
          },
        },
      }),
      baseUrl: 'https://{shop}.myshopify.com/admin/api/2025-01',
      permissions: [
        'Read and create orders (read_orders, write_orders)',
        'Read and create products (read_products, write_products)',
        'Register and remove webhooks for the triggers you enable',
        'Read the shop\'s name and settings (connection test)',
      ],
      test: { method: 'GET', path: '/shop.json' },
      actions: [
        {
          name: 'createOrder',
          description: 'Create an order from variants or custom line items (POST /orders.json). By default no receipt is sent and inventory is not touched.',
          group: 'order',
          params: {
            line_items: { type: 'array', items: lineItemInputSchema, minItems: 1, required: true },
            email: { type: 'string', format: 'email' },
            customer: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'], description: 'An existing customer.' },
            financial_status: { enum: ['pending', 'authorized', 'partially_paid', 'paid', 'partially_refunded', 'refunded', 'voided'] },
            currency: { type: 'string', pattern: '^[A-Z]{3}$' },
            billing_address: addressSchema,
            shipping_address: addressSchema,
            note: { type: 'string' },
            tags: { type: 'string', description: 'Comma-separated tags.' },
            send_receipt: { type: 'boolean' },
            send_fulfillment_receipt: { type: 'boolean' },
            inventory_behaviour: { enum: ['bypass', 'decrement_ignoring_policy', 'decrement_obeying_policy'] },
            test: { type: 'boolean', description: 'Mark as a test order.' },
          },
          output: { type: 'object', properties: { order: orderSchema }, required: ['order'] },
          examples: [
            {
              description: 'One unit of a variant for a known customer',
              params: { line_items: [{ variant_id: 447654529, quantity: 1 }], email: 'jenny.rosen@example.com', financial_status: 'pending' },
              output: { order: { id: 450789469, name: '#1001', email: 'jenny.rosen@example.com', total_price: '199.00', currency: 'USD', financial_status: 'pending' } },
            },
          ],
          execute: async (params) => (await this.api.post('/orders.json', { order: params })).data,
        },
        {
          name: 'getOrder',
          description: 'Get one order by id (GET /orders/{id}.json). An unknown id fails with NOT_FOUND.',
          group: 'order',
          idempotent: true,
          params: {
            id: { type: 'integer', minimum: 1, required: true },
            fields: { type: 'string', description: 'Comma-separated fields to return, e.g. "id,name,total_price".' },
          },
          output: { type: 'object', properties: { order: orderSchema }, required: ['order'] },
          examples: [{ params: { id: 450789469 }, output: { order: { id: 450789469, name: '#1001', total_price: '199.00', currency: 'USD' } } }],
          execute: async (params) => (await this.api.get(`/orders/${Number(params.id)}.json`, { query: { fields: text(params.fields) } })).data,
        },
        {
          name: 'listOrders',
          description: 'List orders newest first, filtered by status and dates, following Shopify\'s Link-header pages up to max_items.',
          group: 'order',
          idempotent: true,
          params: {
            status: { enum: ['open', 'closed', 'cancelled', 'any'], default: 'any' },
            financial_status: { enum: ['authorized', 'pending', 'paid', 'partially_paid', 'refunded', 'voided', 'partially_refunded', 'any', 'unpaid'] },
            fulfillment_status: { enum: ['shipped', 'partial', 'unshipped', 'any', 'unfulfilled'] },
            created_at_min: { type: 'string', format: 'date-time' },
            created_at_max: { type: 'string', format: 'date-time' },
            updated_at_min: { type: 'string', format: 'date-time' },
            max_items: { type: 'integer', minimum: 1, maximum: 10000, default: 250, description: 'Stop after this many orders.' },
          },
          output: { type: 'object', properties: { orders: { type: 'array', items: orderSchema } }, required: ['orders'] },
          examples: [
            {
              description: 'Paid orders since the start of the year',
              params: { status: 'any', financial_status: 'paid', created_at_min: '2025-01-01T00:00:00Z', max_items: 100 },
              output: { orders: [{ id: 450789469, name: '#1001', total_price: '199.00', currency: 'USD', financial_status: 'paid' }] },
            },
          ],
          execute: async (params) => {
            const max = typeof params.max_items === 'number' ? params.max_items : 250;
            const query = {
              status: text(params.status) ?? 'any',
              financial_status: text(params.financial_status),
              fulfillment_status: text(params.fulfillment_status),
              created_at_min: text(params.created_at_min),
              created_at_max: text(params.created_at_max),
              updated_at_min: text(params.updated_at_min),
              limit: Math.min(PAGE_SIZE, max),
            };
            const orders = await collect(
              paginate(this.api, { method: 'GET', url: '/orders.json', query }, { type: 'link', items: ordersOf }, { maxItems: max, maxPages: Math.ceil(max / PAGE_SIZE) + 1 }),
            );
            return { orders };
          },
        },
        {
          name: 'createProduct',
          description: 'Create a product with its variants and images (POST /products.json).',
          group: 'product',
          params: {
            title: { type: 'string', minLength: 1, required: true },
            body_html: { type: 'string', description: 'Description, HTML allowed.' },
            vendor: { type: 'string' },
            product_type: { type: 'string' },
            tags: { type: 'string', description: 'Comma-separated tags.' },
            status: { enum: ['active', 'archived', 'draft'], default: 'active' },
            variants: {
              type: 'array',
              maxItems: 100,
              items: {
                type: 'object',
                properties: {
                  price: { type: 'string', pattern: '^\\d+(\\.\\d+)?$' },
                  sku: { type: 'string' },
                  option1: { type: 'string' },
                  compare_at_price: { type: 'string', pattern: '^\\d+(\\.\\d+)?$' },
                  inventory_management: { enum: ['shopify'] },
                },
              },
            },
            images: { type: 'array', items: { type: 'object', properties: { src: { type: 'string', format: 'uri' }, alt: { type: 'string' } }, required: ['src'] } },
          },
          output: { type: 'object', properties: { product: productSchema }, required: ['product'] },
          examples: [
            {
              description: 'A draft product with one variant',
              params: { title: 'Burton Custom Freestyle 151', vendor: 'Burton', product_type: 'Snowboard', status: 'draft', variants: [{ price: '10.00', sku: 'BRT-151' }] },
              output: { product: { id: 1072481062, title: 'Burton Custom Freestyle 151', vendor: 'Burton', status: 'draft', variants: [{ id: 1070325053, price: '10.00', sku: 'BRT-151' }] } },
            },
          ],
          execute: async (params) => (await this.api.post('/products.json', { product: params })).data,
        },
      ],
      triggers: [
        {
          name: 'newOrder',
          description: 'An order was created in the store (webhook topic orders/create). The event is the order.',
          group: 'order',
          output: orderSchema,
          sample: { id: 5827398746123, name: '#9999', email: 'jon@example.com', created_at: '2025-01-15T12:00:00-05:00', total_price: '403.00', currency: 'USD', financial_status: 'paid', line_items: [] },
          webhook: {
            topic: 'orders/create',
            subscribe: async (_ctx, { webhookUrl, topic }) => {
              const wanted = topic ?? 'orders/create';
              try {
                const res = await this.api.post('/webhooks.json', { webhook: { topic: wanted, address: webhookUrl, format: 'json' } });
                return { externalId: webhookIdOf(res.data) };
              } catch (error) {
                // 422 "address for this topic has already been taken": a retried subscribe; adopt the existing hook.
                if (!(isConnectorError(error) && error.code === 'INVALID_INPUT')) throw error;
                const existing = await this.api.get('/webhooks.json', { query: { topic: wanted, address: webhookUrl } });
                const id = firstWebhookId(existing.data);
                if (id === undefined) throw error;
                return { externalId: id };
              }
            },
            unsubscribe: async (_ctx, subscription) => {
              try {
                await this.api.delete(`/webhooks/${encodeURIComponent(subscription.externalId)}.json`);
              } catch (error) {
                // Already gone (deleted in the admin, or the app was reinstalled): nothing left to undo.
                if (!(isConnectorError(error) && error.code === 'NOT_FOUND')) throw error;
              }
            },
            verify: { scheme: 'shopify', secret: 'config:client_secret' },
            eventId: 'header:X-Shopify-Webhook-Id',
            transform: (delivery) => (delivery.body && typeof delivery.body === 'object' ? [delivery.body] : []),
          },
        },
      ],
    });
  }
}

export default new ShopifyConnector();
