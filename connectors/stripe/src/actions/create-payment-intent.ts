import { defineAction } from '@businessos/connector-sdk';
import { currencySchema, metadataSchema, paymentIntentSchema, type PaymentIntent } from '../schemas.ts';
import { idempotencyKey, stripeClient } from '../stripe-api.ts';

/** POST /v1/payment_intents: starts a payment. */
export const createPaymentIntent = defineAction({
  name: 'createPaymentIntent',
  description:
    'Create a PaymentIntent for an amount in the smallest currency unit. With confirm=true and a payment_method Stripe charges at once; ' +
    'a declined card fails with NON_RETRYABLE and the decline code in the error details.',
  group: 'payment',
  idempotent: true,
  params: {
    type: 'object',
    properties: {
      amount: { type: 'integer', minimum: 1, description: 'Amount in the smallest currency unit (1099 = $10.99).' },
      currency: currencySchema,
      customer: { type: 'string', pattern: '^cus_', description: 'The customer paying (cus_…).' },
      description: { type: 'string', maxLength: 1000 },
      payment_method: { type: 'string', description: 'A payment method id (pm_…) to charge.' },
      payment_method_types: { type: 'array', items: { type: 'string' }, description: 'e.g. ["card"]; omit to use automatic_payment_methods.' },
      automatic_payment_methods: {
        type: 'object',
        properties: { enabled: { type: 'boolean' }, allow_redirects: { enum: ['always', 'never'] } },
        required: ['enabled'],
        additionalProperties: false,
      },
      confirm: { type: 'boolean', description: 'Confirm immediately (needs payment_method).' },
      capture_method: { enum: ['automatic', 'automatic_async', 'manual'] },
      receipt_email: { type: 'string', format: 'email' },
      statement_descriptor_suffix: { type: 'string', maxLength: 22 },
      metadata: metadataSchema,
      idempotency_key: { type: 'string', minLength: 1, maxLength: 255, description: 'Sent as the Idempotency-Key header. Default: derived from the other params.' },
    },
    required: ['amount', 'currency'],
    additionalProperties: false,
  },
  output: paymentIntentSchema,
  examples: [
    {
      description: 'Charge a saved card for $20.00',
      params: { amount: 2000, currency: 'usd', customer: 'cus_NffrFeUfNV2Hib', payment_method: 'pm_card_visa', confirm: true, payment_method_types: ['card'] },
      output: { id: 'pi_3MtwBwLkdIwHu7ix28a3tqPa', object: 'payment_intent', amount: 2000, currency: 'usd', status: 'succeeded', created: 1680800504, livemode: false },
    },
  ],
  async execute(params, ctx) {
    const { idempotency_key, ...form } = params;
    const res = await stripeClient(ctx).post<PaymentIntent>('/v1/payment_intents', form, {
      bodyType: 'form',
      headers: { 'Idempotency-Key': idempotencyKey('createPaymentIntent', form, idempotency_key) },
    });
    return res.data;
  },
});
