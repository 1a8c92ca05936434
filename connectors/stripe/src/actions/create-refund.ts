import { defineAction } from '@businessos/connector-sdk';
import { metadataSchema, refundSchema, type Refund } from '../schemas.ts';
import { idempotencyKey, stripeClient } from '../stripe-api.ts';

/** POST /v1/refunds: refunds a charge or a PaymentIntent, fully or in part. */
export const createRefund = defineAction({
  name: 'createRefund',
  description: 'Refund a charge (ch_…) or a PaymentIntent (pi_…), the whole amount or part of it.',
  group: 'refund',
  idempotent: true,
  params: {
    type: 'object',
    properties: {
      charge: { type: 'string', pattern: '^(ch|py)_', description: 'The charge to refund.' },
      payment_intent: { type: 'string', pattern: '^pi_', description: 'The PaymentIntent to refund (instead of charge).' },
      amount: { type: 'integer', minimum: 1, description: 'Part of the amount, in the smallest currency unit; default the whole remaining amount.' },
      reason: { enum: ['duplicate', 'fraudulent', 'requested_by_customer'] },
      metadata: metadataSchema,
      idempotency_key: { type: 'string', minLength: 1, maxLength: 255, description: 'Sent as the Idempotency-Key header. Default: derived from the other params.' },
    },
    // Exactly one of charge / payment_intent. Wrapped in allOf so the params type still comes from `properties`.
    allOf: [{ oneOf: [{ required: ['charge'] }, { required: ['payment_intent'] }] }],
    additionalProperties: false,
  },
  output: refundSchema,
  examples: [
    {
      description: 'Refund $5.00 of a charge',
      params: { charge: 'ch_3MmlLrLkdIwHu7ix0snN0B15', amount: 500, reason: 'requested_by_customer' },
      output: { id: 're_1Nispe2eZvKYlo2Cd31jOCgZ', object: 'refund', amount: 500, currency: 'usd', charge: 'ch_3MmlLrLkdIwHu7ix0snN0B15', status: 'succeeded', created: 1692942318 },
    },
  ],
  async execute(params, ctx) {
    const { idempotency_key, ...form } = params;
    const res = await stripeClient(ctx).post<Refund>('/v1/refunds', form, {
      bodyType: 'form',
      headers: { 'Idempotency-Key': idempotencyKey('createRefund', form, idempotency_key) },
    });
    return res.data;
  },
});
