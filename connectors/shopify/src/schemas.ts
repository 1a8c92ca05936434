// JSON Schemas of Shopify Admin REST API 2025-01 objects, trimmed to what workflows use and left open
// (Shopify adds fields between versions). Money amounts are decimal strings, as Shopify sends them.

const money = { type: 'string', pattern: '^-?\\d+(\\.\\d+)?$', description: 'Decimal amount as a string, e.g. "19.99".' } as const;
const nullableString = { type: ['string', 'null'] } as const;

export const addressSchema = {
  type: 'object',
  properties: {
    first_name: { type: 'string' },
    last_name: { type: 'string' },
    company: { type: 'string' },
    address1: { type: 'string' },
    address2: { type: 'string' },
    city: { type: 'string' },
    province: { type: 'string' },
    zip: { type: 'string' },
    country: { type: 'string' },
    country_code: { type: 'string', pattern: '^[A-Z]{2}$' },
    phone: { type: 'string' },
  },
} as const;

export const lineItemInputSchema = {
  type: 'object',
  properties: {
    variant_id: { type: 'integer', description: 'Sell an existing product variant.' },
    title: { type: 'string', description: 'A custom line item (without variant_id) needs title and price.' },
    price: money,
    quantity: { type: 'integer', minimum: 1 },
    sku: { type: 'string' },
    taxable: { type: 'boolean' },
    requires_shipping: { type: 'boolean' },
  },
  required: ['quantity'],
  anyOf: [{ required: ['variant_id'] }, { required: ['title', 'price'] }],
} as const;

export const orderSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    admin_graphql_api_id: { type: 'string' },
    name: { type: 'string', description: 'The shop-facing order name, e.g. "#1001".' },
    order_number: { type: 'integer' },
    email: nullableString,
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
    cancelled_at: nullableString,
    closed_at: nullableString,
    currency: { type: 'string' },
    total_price: money,
    subtotal_price: money,
    total_tax: money,
    financial_status: { type: ['string', 'null'] },
    fulfillment_status: { type: ['string', 'null'] },
    tags: { type: 'string' },
    note: nullableString,
    test: { type: 'boolean' },
    customer: { type: ['object', 'null'] },
    line_items: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'integer' },
          variant_id: { type: ['integer', 'null'] },
          product_id: { type: ['integer', 'null'] },
          title: { type: 'string' },
          quantity: { type: 'integer' },
          price: money,
          sku: nullableString,
        },
      },
    },
    shipping_address: { type: ['object', 'null'] },
    billing_address: { type: ['object', 'null'] },
  },
  required: ['id'],
} as const;

export const productSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    title: { type: 'string' },
    body_html: nullableString,
    vendor: { type: 'string' },
    product_type: { type: 'string' },
    handle: { type: 'string' },
    status: { enum: ['active', 'archived', 'draft'] },
    tags: { type: 'string' },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
    variants: {
      type: 'array',
      items: {
        type: 'object',
        properties: { id: { type: 'integer' }, product_id: { type: 'integer' }, title: { type: 'string' }, price: money, sku: nullableString, inventory_quantity: { type: 'integer' } },
      },
    },
    images: { type: 'array', items: { type: 'object', properties: { id: { type: 'integer' }, src: { type: 'string' } } } },
  },
  required: ['id', 'title'],
} as const;
