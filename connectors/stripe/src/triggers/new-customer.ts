import { collect, defineTrigger, paginate } from '@businessos/connector-sdk';
import { customerSchema, type Customer, type StripeList } from '../schemas.ts';
import { stripeClient } from '../stripe-api.ts';

/** What the trigger remembers between polls. */
export interface NewCustomerState {
  /** Unix seconds of the newest customer seen so far. */
  since: number;
  /** Ids of customers created in that same second, which the next `created[gte]` query returns again. */
  idsAtSince: string[];
}

const PAGE_SIZE = 100;
/** 50 pages × 100 per poll. More new customers than that within one interval: the newest are emitted, the rest skipped with a warning. */
const MAX_PAGES = 50;

function listOf(data: unknown): StripeList<Customer> {
  if (data && typeof data === 'object' && 'data' in data && Array.isArray(data.data)) {
    return { object: 'list', data: data.data, has_more: 'has_more' in data && data.has_more === true };
  }
  return { object: 'list', data: [], has_more: false };
}

function isState(value: unknown): value is NewCustomerState {
  return !!value && typeof value === 'object' && 'since' in value && typeof value.since === 'number' && 'idsAtSince' in value && Array.isArray(value.idsAtSince);
}

/**
 * Polls GET /v1/customers for customers created since the last poll. The first poll only records a baseline
 * (the newest existing customer) so enabling the trigger does not replay the whole customer list.
 */
export const newCustomer = defineTrigger({
  name: 'newCustomer',
  description: 'A customer was created in Stripe (polled every 5 minutes, oldest first, each customer once).',
  group: 'customer',
  output: customerSchema,
  sample: { id: 'cus_NffrFeUfNV2Hib', object: 'customer', created: 1680893993, email: 'jenny.rosen@example.com', name: 'Jenny Rosen', livemode: false, metadata: {} },
  polling: {
    intervalSeconds: 300,
    dedupe: { by: 'id', path: '/id' },
    async poll(ctx, state) {
      const stripe = stripeClient(ctx);
      if (!isState(state)) {
        const latest = listOf((await stripe.get('/v1/customers', { query: { limit: 1 } })).data).data[0];
        return { items: [], state: { since: latest?.created ?? 0, idsAtSince: latest ? [latest.id] : [] } satisfies NewCustomerState };
      }
      const found = await collect(
        paginate<Customer>(
          stripe,
          { method: 'GET', url: '/v1/customers', query: { 'created[gte]': state.since, limit: PAGE_SIZE } },
          {
            type: 'cursor',
            cursorParam: 'starting_after',
            items: (res) => listOf(res.data).data,
            nextCursor: (res) => {
              const page = listOf(res.data);
              return page.has_more ? page.data.at(-1)?.id : undefined;
            },
          },
          { maxPages: MAX_PAGES },
        ),
      );
      if (found.length >= PAGE_SIZE * MAX_PAGES) ctx.log.warn(`newCustomer: more than ${found.length} customers were created since the last poll; only the newest ${found.length} are emitted. Shorten the interval.`, { read: found.length });
      const seen = new Set(state.idsAtSince);
      // Stripe lists newest first; events go out oldest first.
      const items = found.filter((c) => !seen.has(c.id)).reverse();
      const since = items.reduce((max, c) => Math.max(max, c.created), state.since);
      const idsAtSince = [...(since === state.since ? state.idsAtSince : []), ...items.filter((c) => c.created === since).map((c) => c.id)];
      return { items, state: { since, idsAtSince } satisfies NewCustomerState };
    },
  },
});
