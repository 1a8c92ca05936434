// JSON Schemas of the Stripe objects this connector returns (API version 2023-08-16), trimmed to the fields
// workflows use. They stay open (no additionalProperties: false) because Stripe adds fields without notice.
import type { Infer } from '@businessos/connector-sdk';

/** Stripe's `metadata`: up to 50 string keys with string values. */
export const metadataSchema = {
  type: 'object',
  description: 'Up to 50 key/value pairs stored with the object (keys ≤ 40 chars, values ≤ 500 chars).',
  maxProperties: 50,
  propertyNames: { maxLength: 40 },
  additionalProperties: { type: 'string', maxLength: 500 },
} as const;

/** A three-letter ISO currency code in lower case, as Stripe writes it. */
export const currencySchema = { type: 'string', pattern: '^[a-z]{3}$', description: 'Three-letter ISO currency code, lower case (usd, eur).' } as const;

export const addressSchema = {
  type: 'object',
  properties: {
    line1: { type: 'string' },
    line2: { type: 'string' },
    city: { type: 'string' },
    state: { type: 'string' },
    postal_code: { type: 'string' },
    country: { type: 'string', description: 'Two-letter ISO country code.' },
  },
  additionalProperties: false,
} as const;

/** An expandable reference: an id, the expanded object, or null. */
const expandable = { type: ['string', 'object', 'null'] } as const;
const nullableString = { type: ['string', 'null'] } as const;

export const customerSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'cus_…' },
    object: { const: 'customer' },
    created: { type: 'integer', description: 'Unix seconds.' },
    email: nullableString,
    name: nullableString,
    phone: nullableString,
    description: nullableString,
    address: { type: ['object', 'null'] },
    balance: { type: 'integer' },
    currency: nullableString,
    delinquent: { type: ['boolean', 'null'] },
    livemode: { type: 'boolean' },
    metadata: { type: 'object' },
  },
  required: ['id', 'object', 'created', 'livemode'],
} as const;
export type Customer = Infer<typeof customerSchema>;

export const paymentIntentSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'pi_…' },
    object: { const: 'payment_intent' },
    amount: { type: 'integer', description: 'In the smallest currency unit (cents).' },
    amount_received: { type: 'integer' },
    currency: { type: 'string' },
    status: { enum: ['canceled', 'processing', 'requires_action', 'requires_capture', 'requires_confirmation', 'requires_payment_method', 'succeeded'] },
    capture_method: { enum: ['automatic', 'automatic_async', 'manual'] },
    client_secret: { ...nullableString, description: 'Hand this to the front end to confirm the payment; do not log it.' },
    customer: expandable,
    description: nullableString,
    latest_charge: expandable,
    payment_method: expandable,
    payment_method_types: { type: 'array', items: { type: 'string' } },
    receipt_email: nullableString,
    created: { type: 'integer' },
    livemode: { type: 'boolean' },
    metadata: { type: 'object' },
  },
  required: ['id', 'object', 'amount', 'currency', 'status', 'created', 'livemode'],
} as const;
export type PaymentIntent = Infer<typeof paymentIntentSchema>;

export const chargeSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'ch_… or py_…' },
    object: { const: 'charge' },
    amount: { type: 'integer' },
    amount_captured: { type: 'integer' },
    amount_refunded: { type: 'integer' },
    currency: { type: 'string' },
    status: { enum: ['failed', 'pending', 'succeeded'] },
    paid: { type: 'boolean' },
    captured: { type: 'boolean' },
    refunded: { type: 'boolean' },
    disputed: { type: 'boolean' },
    customer: expandable,
    payment_intent: expandable,
    description: nullableString,
    failure_code: nullableString,
    failure_message: nullableString,
    receipt_url: nullableString,
    created: { type: 'integer' },
    livemode: { type: 'boolean' },
    metadata: { type: 'object' },
  },
  required: ['id', 'object', 'amount', 'currency', 'status', 'created'],
} as const;
export type Charge = Infer<typeof chargeSchema>;

export const refundSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 're_…' },
    object: { const: 'refund' },
    amount: { type: 'integer' },
    currency: { type: 'string' },
    charge: expandable,
    payment_intent: expandable,
    reason: { type: ['string', 'null'] },
    status: { ...nullableString, description: 'pending, requires_action, succeeded, failed or canceled.' },
    created: { type: 'integer' },
    metadata: { type: ['object', 'null'] },
  },
  required: ['id', 'object', 'amount', 'currency', 'created'],
} as const;
export type Refund = Infer<typeof refundSchema>;

/** A page of a Stripe list endpoint. */
export interface StripeList<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  url?: string;
}
