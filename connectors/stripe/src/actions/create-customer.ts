import { defineAction } from '@businessos/connector-sdk';
import { addressSchema, customerSchema, metadataSchema, type Customer } from '../schemas.ts';
import { idempotencyKey, stripeClient } from '../stripe-api.ts';

/** POST /v1/customers: creates a customer. */
export const createCustomer = defineAction({
  name: 'createCustomer',
  description: 'Create a Stripe customer. Retries reuse one Idempotency-Key, so a retried call never creates a duplicate.',
  group: 'customer',
  idempotent: true,
  params: {
    type: 'object',
    properties: {
      email: { type: 'string', format: 'email', maxLength: 512 },
      name: { type: 'string', maxLength: 256 },
      phone: { type: 'string', maxLength: 20 },
      description: { type: 'string', maxLength: 5000 },
      address: addressSchema,
      metadata: metadataSchema,
      idempotency_key: { type: 'string', minLength: 1, maxLength: 255, description: 'Sent as the Idempotency-Key header. Default: derived from the other params.' },
    },
    additionalProperties: false,
  },
  output: customerSchema,
  examples: [
    {
      description: 'A customer with an order reference in metadata',
      params: { email: 'jenny.rosen@example.com', name: 'Jenny Rosen', metadata: { crm_id: '4711' } },
      output: { id: 'cus_NffrFeUfNV2Hib', object: 'customer', created: 1680893993, email: 'jenny.rosen@example.com', name: 'Jenny Rosen', livemode: false, metadata: { crm_id: '4711' } },
    },
  ],
  async execute(params, ctx) {
    const { idempotency_key, ...form } = params;
    const res = await stripeClient(ctx).post<Customer>('/v1/customers', form, {
      bodyType: 'form',
      headers: { 'Idempotency-Key': idempotencyKey('createCustomer', form, idempotency_key) },
    });
    return res.data;
  },
});
