// What the e2e suite's connectors talk to instead of real providers: loopback mock APIs and the SDK's local OAuth
// provider, and two connectors published (privately, for one tenant) whose declared hosts are those loopback servers.
// The service reaches them only because the e2e service is started with its test-only loopback egress switch.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createMockApi, createOAuthProvider, type MockApi, type OAuthProvider } from '@businessos/connector-sdk/testing';
import type { ServiceWithPage } from './service.ts';

/** The OAuth app the platform has at the local provider (the service gets it through `BOS_OAUTH_APPS`). */
export const OAUTH_APP = { client_id: 'bos-e2e-client', client_secret: 'bos-e2e-secret' } as const;

/** The loopback servers of the suite. */
export interface LoopbackProviders {
  /** An items API that accepts only `Authorization: Token <apiKey>`. */
  itemsApi: MockApi;
  /** The key {@link itemsApi} accepts; the tenant types it into the page. */
  apiKey: string;
  /** The local OAuth provider: approves every authorization request (the simulated user consents). */
  oauth: OAuthProvider;
  /** The same provider setup whose simulated user clicks "Deny" (`access_denied`). */
  denyingOauth: OAuthProvider;
  /** An items API that accepts only live access tokens issued by {@link oauth}. */
  oauthApi: MockApi;
  /** Registers the service's callback URL with both providers (known once the service listens). */
  allowRedirect(serviceUrl: string): void;
  close(): Promise<void>;
}

const itemFixtures = [
  { name: 'list items', request: { method: 'GET', path: '/v2/items' }, response: { status: 200, body: { items: [{ id: 'i_1', name: 'Widget', updatedAt: '2026-01-01T00:00:00Z' }] } } },
  { name: 'create an item', request: { method: 'POST', path: '/v2/items' }, response: { status: 201, body: { id: 'i_42', name: '{{body.name}}', updatedAt: '2026-01-02T00:00:00Z' } } },
];

/** Starts the mock APIs and the OAuth providers on 127.0.0.1. */
export async function startLoopbackProviders(): Promise<LoopbackProviders> {
  const apiKey = 'sk_e2e_items_5f2c9d1e7a';
  const itemsApi = await createMockApi({ fixtures: itemFixtures, auth: { type: 'api_key', name: 'Authorization', prefix: 'Token ', value: apiKey } });
  const oauth = await createOAuthProvider({ clients: [], scopes: ['items'], requirePkce: true });
  const denyingOauth = await createOAuthProvider({ clients: [], scopes: ['items'], requirePkce: true, autoConsent: false });
  const oauthApi = await createMockApi({ fixtures: itemFixtures, auth: { type: 'oauth2-provider', provider: oauth, requiredScopes: ['items'] } });
  return {
    itemsApi,
    apiKey,
    oauth,
    denyingOauth,
    oauthApi,
    allowRedirect(serviceUrl) {
      const client = { clientId: OAUTH_APP.client_id, clientSecret: OAUTH_APP.client_secret, redirectUris: [`${serviceUrl}/oauth/callback`] };
      oauth.addClient(client);
      denyingOauth.addClient(client);
    },
    async close() {
      await Promise.all([itemsApi.close(), oauthApi.close(), oauth.close(), denyingOauth.close()]);
    },
  };
}

interface PublishOptions {
  /** Connector name (also its listing's display name, title-cased). */
  name: string;
  /** Where the connector's API is: its declared host. */
  baseUrl: string;
  /** OAuth2 instead of the scaffold's API key: the provider's endpoints; client id and secret come from the platform's app. */
  oauth?: { authorizationUrl: string; tokenUrl: string; revokeUrl: string; scopes: string[] };
  /** The version to publish (default: the scaffold's). */
  version?: string;
}

/**
 * Scaffolds a connector with `bos-connector init --template=rest`, points it at `baseUrl` (and an OAuth provider),
 * packs it with the CLI, submits it as a private connector of `tenantKey`'s tenant and approves it as the platform
 * reviewer: the real publishing path, so the version has a bundle the runtime executes.
 */
export async function publishLoopbackConnector(svc: ServiceWithPage, tenantKey: string, options: PublishOptions): Promise<void> {
  // Imported by a computed specifier: the CLI code behind it is typechecked by the root config, not under this DOM one.
  const support = new URL('../../../server/src/publishing/test-support.ts', import.meta.url).href;
  const { scaffoldConnector, packConnector, setVersion } = (await import(support)) as {
    scaffoldConnector(name: string): Promise<string>;
    packConnector(dir: string): Promise<Buffer>;
    setVersion(dir: string, version: string): void;
  };
  const dir = await scaffoldConnector(options.name);
  if (options.version) setVersion(dir, options.version);
  const index = path.join(dir, 'src', 'index.ts');
  let source = readFileSync(index, 'utf8').replace(/baseUrl: '[^']+'/, `baseUrl: '${options.baseUrl}'`);
  if (options.oauth) {
    const spec = { clientId: 'config.client_id', clientSecret: 'config.client_secret', ...options.oauth };
    source = source.replace('import { ApiKeyAuth, defineConnector }', 'import { defineConnector, OAuth2Auth }').replace(/auth: new ApiKeyAuth\([^)]*\)/, `auth: new OAuth2Auth(${JSON.stringify(spec)})`);
    if (!source.includes('new OAuth2Auth(')) throw new Error(`the rest template changed: could not switch ${options.name} to OAuth2; update publishLoopbackConnector`);
  }
  writeFileSync(index, source);
  const tgz = await packConnector(dir);
  const submitted = await svc.app.inject({ method: 'POST', url: '/marketplace/submissions?visibility=private', headers: { authorization: `Bearer ${tenantKey}`, 'content-type': 'application/gzip' }, payload: tgz });
  if (submitted.statusCode !== 201) throw new Error(`submitting ${options.name} answered ${submitted.statusCode}: ${submitted.body}`);
  const { id } = submitted.json() as { id: string };
  const approved = await svc.app.inject({ method: 'POST', url: `/marketplace/submissions/${id}/approve`, headers: { authorization: `Bearer ${svc.adminKey}` }, payload: { notes: 'e2e fixture' } });
  if (approved.statusCode !== 200) throw new Error(`approving ${options.name} answered ${approved.statusCode}: ${approved.body}`);
}
