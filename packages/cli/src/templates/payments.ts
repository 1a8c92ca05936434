import { fixturesFile, type TemplateDefinition } from './types.ts';

/** Payments: customers and charges with form-encoded bodies, secret-key bearer auth and a signed webhook. */
export const paymentsTemplate: TemplateDefinition = {
  id: 'payments',
  summary: 'Payments: customers and charges, form-encoded requests, secret-key auth, signed webhook trigger',
  readme: () => [
    '- `createCustomer`: create a customer (form-encoded body)',
    '- `createCharge`: charge an amount in the smallest currency unit (idempotency key supported)',
    '- `getCharge`: one charge by id',
    '- `chargeSucceeded` (webhook trigger): verifies the HMAC signature and emits the charge object',
  ].join('\n'),
  files: ({ name, displayName }) => ({
    'src/index.ts': `import { BearerTokenAuth, defineConnector } from '@businessos/connector-sdk';
import { createCharge } from './actions/create-charge.ts';
import { createCustomer } from './actions/create-customer.ts';
import { getCharge } from './actions/get-charge.ts';
import { chargeSucceeded } from './triggers/charge-succeeded.ts';

export default defineConnector({
  name: '${name}',
  version: '0.1.0',
  displayName: '${displayName}',
  description: 'Customers and charges on ${displayName}.',
  category: 'payments',
  // The tenant's secret key is sent as a bearer token by the host.
  auth: new BearerTokenAuth({
    label: '${displayName} secret key',
    fields: { webhook_secret: { type: 'string', label: 'Webhook signing secret', secret: true, required: false } },
  }),
  baseUrl: 'https://api.${name}.example.com/v1',
  permissions: ['Create customers', 'Create and read charges'],
  test: { path: '/balance' },
  actions: [createCustomer, createCharge, getCharge],
  triggers: [chargeSucceeded],
});
`,
    'src/schemas.ts': `import type { Infer } from '@businessos/connector-sdk';

/** A charge as the API returns it. Amounts are integers in the smallest currency unit. */
export const chargeSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    amount: { type: 'integer' },
    currency: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'succeeded', 'failed'] },
    customer: { type: ['string', 'null'] },
  },
  required: ['id', 'amount', 'currency', 'status'],
} as const;

export type Charge = Infer<typeof chargeSchema>;

/** A customer as the API returns it. */
export const customerSchema = {
  type: 'object',
  properties: { id: { type: 'string' }, email: { type: 'string' } },
  required: ['id'],
} as const;

export type Customer = Infer<typeof customerSchema>;
`,
    'src/actions/create-customer.ts': `import { defineAction } from '@businessos/connector-sdk';
import { customerSchema, type Customer } from '../schemas.ts';

export const createCustomer = defineAction({
  name: 'createCustomer',
  description: 'Create a customer.',
  group: 'customer',
  params: {
    email: { type: 'string', format: 'email', required: true },
    name: { type: 'string' },
    metadata: { type: 'object', additionalProperties: { type: 'string' }, description: 'Up to 50 string key/value pairs' },
  },
  output: customerSchema,
  async execute(params, ctx) {
    // The API takes application/x-www-form-urlencoded bodies; nested objects become metadata[key]=value.
    const res = await ctx.http.post<Customer>('/customers', params, { bodyType: 'form' });
    return res.data;
  },
});
`,
    'src/actions/create-charge.ts': `import { defineAction } from '@businessos/connector-sdk';
import { chargeSchema, type Charge } from '../schemas.ts';

export const createCharge = defineAction({
  name: 'createCharge',
  description: 'Charge a customer. Pass an idempotency key so a retried call never charges twice.',
  group: 'charge',
  params: {
    amount: { type: 'integer', minimum: 1, required: true, description: 'In the smallest currency unit (cents)' },
    currency: { type: 'string', pattern: '^[a-z]{3}$', required: true },
    customer: { type: 'string', required: true },
    description: { type: 'string' },
    idempotencyKey: { type: 'string', maxLength: 255 },
  },
  output: chargeSchema,
  async execute({ idempotencyKey, ...charge }, ctx) {
    const headers: Record<string, string> = idempotencyKey ? { 'Idempotency-Key': idempotencyKey } : {};
    const res = await ctx.http.post<Charge>('/charges', charge, { bodyType: 'form', headers });
    return res.data;
  },
});
`,
    'src/actions/get-charge.ts': `import { defineAction } from '@businessos/connector-sdk';
import { chargeSchema, type Charge } from '../schemas.ts';

export const getCharge = defineAction({
  name: 'getCharge',
  description: 'Fetch one charge by id.',
  group: 'charge',
  idempotent: true,
  params: { id: { type: 'string', pattern: '^ch_', required: true } },
  output: chargeSchema,
  async execute({ id }, ctx) {
    const res = await ctx.http.get<Charge>(\`/charges/\${encodeURIComponent(id)}\`);
    return res.data;
  },
});
`,
    'src/triggers/charge-succeeded.ts': `import { defineTrigger } from '@businessos/connector-sdk';
import { chargeSchema } from '../schemas.ts';

export const chargeSucceeded = defineTrigger({
  name: 'chargeSucceeded',
  description: 'Fires when a charge succeeds.',
  group: 'charge',
  output: chargeSchema,
  sample: { id: 'ch_1', amount: 2000, currency: 'eur', status: 'succeeded', customer: 'cus_1' },
  webhook: {
    topic: 'charge.succeeded',
    // Signing secret entered by the tenant with the connection; checked by the host.
    verify: { scheme: 'hmac', algorithm: 'sha256', header: 'X-Signature', encoding: 'hex', prefix: 'sha256=', secret: 'field:webhook_secret' },
    eventId: '/id',
    transform(delivery) {
      const event = delivery.body as { type?: string; data?: { object?: unknown } };
      return event.type === 'charge.succeeded' && event.data?.object ? [event.data.object] : [];
    },
  },
});
`,
    'fixtures/customers.json': fixturesFile([
      {
        name: 'create a customer',
        request: { method: 'POST', path: '/customers', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
        response: { status: 200, body: { id: 'cus_1', object: 'customer', email: '{{body.email}}' } },
      },
    ]),
    'fixtures/charges.json': fixturesFile([
      {
        name: 'card declined',
        request: { method: 'POST', path: '/charges', body: { customer: 'cus_declined' } },
        response: { status: 402, body: { error: { type: 'card_error', message: 'Your card was declined.' } } },
      },
      {
        name: 'create a charge',
        request: { method: 'POST', path: '/charges' },
        response: { status: 200, body: { id: 'ch_1', object: 'charge', amount: 2000, currency: '{{body.currency}}', status: 'succeeded', customer: '{{body.customer}}' } },
      },
      {
        name: 'one charge',
        request: { method: 'GET', path: '/charges/:id' },
        response: { status: 200, body: { id: '{{params.id}}', object: 'charge', amount: 2000, currency: 'eur', status: 'succeeded', customer: 'cus_1' } },
      },
      { name: 'balance', request: { method: 'GET', path: '/balance' }, response: { status: 200, body: { available: [] } } },
    ]),
  }),
};
