import { collect, defineAction, paginate } from '@businessos/connector-sdk';
import { chargeSchema, type Charge, type StripeList } from '../schemas.ts';
import { stripeClient } from '../stripe-api.ts';

const PAGE_SIZE = 100;

/** GET /v1/charges: lists charges newest first, following `starting_after` cursors across pages. */
export const listCharges = defineAction({
  name: 'listCharges',
  description: 'List charges, newest first, optionally for one customer or PaymentIntent and a creation-time window. Walks Stripe\'s cursor pages up to max_items.',
  group: 'charge',
  idempotent: true,
  params: {
    type: 'object',
    properties: {
      customer: { type: 'string', pattern: '^cus_' },
      payment_intent: { type: 'string', pattern: '^pi_' },
      created_gte: { type: 'integer', description: 'Only charges created at or after this Unix time (seconds).' },
      created_lt: { type: 'integer', description: 'Only charges created before this Unix time (seconds).' },
      max_items: { type: 'integer', minimum: 1, maximum: 10000, default: 100, description: 'Stop after this many charges.' },
    },
    additionalProperties: false,
  },
  output: {
    type: 'object',
    properties: {
      charges: { type: 'array', items: chargeSchema },
      has_more: { type: 'boolean', description: 'True when more charges matched than max_items.' },
    },
    required: ['charges', 'has_more'],
    additionalProperties: false,
  },
  examples: [
    {
      description: 'The last 10 charges of a customer',
      params: { customer: 'cus_NffrFeUfNV2Hib', max_items: 10 },
      output: { charges: [{ id: 'ch_3MmlLrLkdIwHu7ix0snN0B15', object: 'charge', amount: 1099, currency: 'usd', status: 'succeeded', created: 1679090539 }], has_more: false },
    },
  ],
  async execute(params, ctx) {
    const max = params.max_items ?? 100;
    const pages = paginate<Charge>(
      stripeClient(ctx),
      {
        method: 'GET',
        url: '/v1/charges',
        query: {
          limit: Math.min(PAGE_SIZE, max + 1),
          customer: params.customer,
          payment_intent: params.payment_intent,
          'created[gte]': params.created_gte,
          'created[lt]': params.created_lt,
        },
      },
      {
        type: 'cursor',
        cursorParam: 'starting_after',
        items: (res) => pageOf(res.data).data,
        nextCursor: (res) => {
          const page = pageOf(res.data);
          return page.has_more ? page.data.at(-1)?.id : undefined;
        },
      },
      // One item beyond max_items tells whether there is more.
      { maxItems: max + 1, maxPages: Math.ceil((max + 1) / PAGE_SIZE) + 1 },
    );
    const charges = await collect(pages);
    return { charges: charges.slice(0, max), has_more: charges.length > max };
  },
});

function pageOf(data: unknown): StripeList<Charge> {
  if (data && typeof data === 'object' && 'data' in data && Array.isArray(data.data)) {
    return { object: 'list', data: data.data, has_more: 'has_more' in data && data.has_more === true };
  }
  return { object: 'list', data: [], has_more: false };
}
