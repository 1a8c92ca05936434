// Test fixture (not part of the service): a service with a platform OAuth app for a published `crm` connector whose
// authorization server is the SDK's local one, for the OAuth connection-flow tests.
import { randomBytes } from 'node:crypto';
import { defineConnector, OAuth2Auth } from '@businessos/connector-sdk';
import { createOAuthProvider, type OAuthProvider } from '@businessos/connector-sdk/testing';
import { publishManifestListing } from './marketplace/listing.ts';
import { createTestApp, type TestApp } from './test-app.ts';

/** The redirect URI the fixture's OAuth client is registered with. */
export const OAUTH_REDIRECT_URI = 'https://bos.example.com/oauth/callback';

/** Starts the app and the provider; the caller closes both. */
export async function startOAuthCrm(): Promise<{ t: TestApp; provider: OAuthProvider }> {
  const provider = await createOAuthProvider({ clients: [{ clientId: 'bos-client', clientSecret: 'bos-secret', redirectUris: [OAUTH_REDIRECT_URI] }], requirePkce: true });
  const t = await createTestApp({
    env: { BOS_MASTER_KEY: randomBytes(32).toString('base64'), BOS_PUBLIC_URL: 'https://bos.example.com', BOS_OAUTH_APPS: JSON.stringify({ crm: { client_id: 'bos-client', client_secret: 'bos-secret' } }) },
  });
  const crm = defineConnector({
    name: 'crm',
    version: '1.0.0',
    displayName: 'CRM',
    description: 'A CRM behind OAuth2.',
    category: 'crm',
    baseUrl: 'https://api.crm.example.com',
    auth: new OAuth2Auth({ clientId: 'config.client_id', clientSecret: 'config.client_secret', authorizationUrl: provider.authorizeUrl, tokenUrl: provider.tokenUrl, scopes: ['contacts'] }),
    actions: [{ name: 'listContacts', description: 'Lists contacts', async execute() { return []; } }],
  });
  await t.store.db.transaction((tx) => publishManifestListing(tx, crm.manifest, { tenantId: null, npmPackage: '@fixtures/crm', verified: false }));
  return { t, provider };
}
