import type { Connector} from '@businessos/connector-sdk';
import { ApiKeyAuth, defineConnector, NoAuth, OAuth2Auth } from '@businessos/connector-sdk';
import type { BundledConnector } from './seed.ts';

/** Builds a small connector for catalogue tests. */
export function fixtureConnector(input: { name: string; version?: string; displayName: string; description: string; category: string; actions: string[]; auth?: 'none' | 'api_key' | 'oauth2' }): Connector {
  const auth =
    input.auth === 'api_key'
      ? new ApiKeyAuth({ name: 'X-Api-Key', label: 'API key' })
      : input.auth === 'oauth2'
        ? new OAuth2Auth({ clientId: 'config.client_id', clientSecret: 'config.client_secret', authorizationUrl: 'https://auth.example.com/authorize', tokenUrl: 'https://auth.example.com/token', scopes: ['read'] })
        : new NoAuth();
  return defineConnector({
    name: input.name,
    version: input.version ?? '1.0.0',
    displayName: input.displayName,
    description: input.description,
    category: input.category,
    baseUrl: `https://api.${input.name}.example.com`,
    permissions: ['Reads your data'],
    auth,
    actions: input.actions.map((name) => ({
      name,
      description: `Runs ${name}`,
      params: { type: 'object', properties: { id: { type: 'string' } }, additionalProperties: false },
      async execute() {
        return { ok: true };
      },
    })),
  });
}

/** A small deterministic catalogue: payments, e-commerce and messaging connectors. */
export const FIXTURE_CATALOGUE: readonly BundledConnector[] = [
  fixtureConnector({ name: 'stripe', displayName: 'Stripe', description: 'Accept payments and manage subscriptions and refunds.', category: 'payments', actions: ['createCustomer', 'createRefund'], auth: 'api_key' }),
  fixtureConnector({ name: 'paypal', displayName: 'PayPal', description: 'Send payouts and capture payments.', category: 'payments', actions: ['createPayout'], auth: 'oauth2' }),
  fixtureConnector({ name: 'shopify', displayName: 'Shopify', description: 'Manage orders, products and customers of a store.', category: 'ecommerce', actions: ['createOrder', 'listProducts'] }),
  fixtureConnector({ name: 'slack', displayName: 'Slack', description: 'Post messages to channels.', category: 'messaging', actions: ['postMessage'] }),
  fixtureConnector({ name: 'mailer', displayName: 'Mailer', description: 'Send transactional email.', category: 'messaging', actions: ['sendInvoiceEmail'] }),
].map((connector) => ({ packageName: `@fixtures/${connector.manifest.name}`, load: async () => ({ default: connector }) }));
