import { BearerTokenAuth, defineConnector } from '@businessos/connector-sdk';
import { createCustomer } from './actions/create-customer.ts';
import { createPaymentIntent } from './actions/create-payment-intent.ts';
import { createRefund } from './actions/create-refund.ts';
import { listCharges } from './actions/list-charges.ts';
import { newCustomer } from './triggers/new-customer.ts';
import { paymentIntentSucceeded } from './triggers/payment-intent-succeeded.ts';

const ICON =
  'data:image/svg+xml,' +
  encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="#635BFF"/>' +
      '<path fill="#fff" d="M29.6 25.2c0-1.7 1.4-2.4 3.7-2.4 3.3 0 7.5 1 10.8 2.8V15.4c-3.6-1.4-7.2-2-10.8-2-8.8 0-14.7 4.6-14.7 12.3 0 12 16.5 10.1 16.5 15.3 0 2-1.7 2.7-4.2 2.7-3.6 0-8.3-1.5-12-3.5v10.3c4.1 1.8 8.2 2.5 12 2.5 9.1 0 15.3-4.5 15.3-12.3-.1-12.9-16.6-10.6-16.6-15.5z"/></svg>',
  );

/**
 * Stripe: customers, payments, charges and refunds, with a webhook trigger for succeeded payments and a polling
 * trigger for new customers. Authenticates with a secret or restricted key sent as `Authorization: Bearer sk_…`.
 */
const stripe = defineConnector({
  name: 'stripe',
  version: '1.0.0',
  displayName: 'Stripe',
  description: 'Create customers, payments and refunds in Stripe, list charges, and start workflows when a payment succeeds or a customer signs up.',
  category: 'payments',
  icon: ICON,
  homepage: 'https://stripe.com/docs/api',
  author: 'BusinessOS',
  auth: new BearerTokenAuth({ label: 'Secret key (sk_live_… / sk_test_…) or restricted key (rk_…)' }),
  baseUrl: 'https://api.stripe.com',
  permissions: [
    'Read and create customers',
    'Create PaymentIntents (charges the customer when confirmed)',
    'Read charges',
    'Create refunds (sends money back to customers)',
    'Create and delete webhook endpoints for the triggers you enable',
    'Read the account balance (connection test)',
  ],
  test: { method: 'GET', path: '/v1/balance' },
  actions: [createCustomer, createPaymentIntent, listCharges, createRefund],
  triggers: [paymentIntentSucceeded, newCustomer],
});

export default stripe;
