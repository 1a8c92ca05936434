import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createVault } from '@businessos/connector-runtime';
import { defineConnector, OAuth2Auth } from '@businessos/connector-sdk';
import { createOAuthProvider, type OAuthProvider } from '@businessos/connector-sdk/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_CATALOGUE } from '../../../marketplace/fixtures.ts';
import { publishManifestListing } from '../../../marketplace/listing.ts';
import { createTestApp, type TestApp } from '../../../test-app.ts';
import { createPgVaultStore } from '../../../vault/pg-vault-store.ts';

interface Summary {
  revoked: number;
  revokeFailures: { connectionId: string; reason: string }[];
}

describe('DELETE /installations/{id}', () => {
  let t: TestApp;
  let provider: OAuthProvider;
  const redirectUri = 'https://bos.example.com/oauth/callback';

  beforeAll(async () => {
    provider = await createOAuthProvider({ clients: [{ clientId: 'bos-client', clientSecret: 'bos-secret', redirectUris: [redirectUri] }], requirePkce: true });
    const app = { client_id: 'bos-client', client_secret: 'bos-secret' };
    t = await createTestApp({
      seed: FIXTURE_CATALOGUE,
      env: { BOS_MASTER_KEY: randomBytes(32).toString('base64'), BOS_PUBLIC_URL: 'https://bos.example.com', BOS_OAUTH_APPS: JSON.stringify({ crm: app, 'crm-broken-revoke': app }) },
    });
    const oauthConnector = (name: string, revokeUrl: string) =>
      defineConnector({
        name,
        version: '1.0.0',
        displayName: name,
        description: 'A CRM behind OAuth2 that can revoke tokens.',
        category: 'crm',
        baseUrl: 'https://api.crm.example.com',
        auth: new OAuth2Auth({ clientId: 'config.client_id', clientSecret: 'config.client_secret', authorizationUrl: provider.authorizeUrl, tokenUrl: provider.tokenUrl, revokeUrl, scopes: ['contacts'] }),
        actions: [{ name: 'listContacts', description: 'Lists contacts', async execute() { return []; } }],
      });
    for (const c of [oauthConnector('crm', provider.revokeUrl), oauthConnector('crm-broken-revoke', `${provider.url}/oauth/no-such-endpoint?key=revoke-query-secret#frag`)]) {
      await t.store.db.transaction((tx) => publishManifestListing(tx, c.manifest, { tenantId: null, npmPackage: `@fixtures/${c.manifest.name}`, verified: false }));
    }
  });
  afterAll(async () => {
    await t?.close();
    await provider?.close();
  });

  const install = async (key: string, connector: string): Promise<{ installation: { id: string }; setup: { authorizeUrl?: string } }> => {
    const res = await t.as(key, { method: 'POST', url: `/marketplace/install/${connector}`, payload: {} });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { installation: { id: string }; setup: { authorizeUrl?: string } };
  };
  const installs = async (connector: string) => (await t.store.db.query<{ installs: number }>('SELECT installs FROM connectors.marketplace WHERE name = $1', [connector])).rows[0]!.installs;

  /** Plays the browser through consent and the callback; returns the new connection id and the tokens issued. */
  async function connectOAuth(authorizeUrl: string): Promise<{ connectionId: string; accessToken: string; refreshToken: string | undefined }> {
    const consent = await fetch(authorizeUrl, { redirect: 'manual' });
    expect(consent.status).toBe(302);
    const back = new URL(consent.headers.get('location')!);
    const callback = await t.app.inject({ url: `/oauth/callback${back.search}` });
    expect(callback.statusCode, callback.body).toBe(200);
    const issued = provider.issued.at(-1)!;
    return { connectionId: (callback.json() as { id: string }).id, accessToken: issued.accessToken, refreshToken: issued.refreshToken };
  }

  it('deletes the installation, its connections and their vault secrets, decrements installs and audits', async () => {
    const { key } = await t.createTenant();
    const before = await installs('stripe');
    const { installation } = await install(key, 'stripe');
    expect(await installs('stripe')).toBe(before + 1);
    const created = await t.as(key, { method: 'POST', url: '/connections', payload: { installationId: installation.id, name: 'Main', credentials: { apiKey: 'sk_test_123' } } });
    expect(created.statusCode, created.body).toBe(201);
    const connectionId = (created.json() as { id: string }).id;
    expect((await t.store.db.query('SELECT 1 FROM connectors.vault_secrets WHERE connection_id = $1', [connectionId])).rows).toHaveLength(1);

    const res = await t.as(key, { method: 'DELETE', url: `/installations/${installation.id}` });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ revoked: 0, revokeFailures: [], unsubscribeFailures: [] });

    expect((await t.store.db.query('SELECT 1 FROM connectors.vault_secrets WHERE connection_id = $1', [connectionId])).rows).toHaveLength(0);
    expect((await t.store.db.query('SELECT 1 FROM connectors.connections WHERE id = $1', [connectionId])).rows).toHaveLength(0);
    expect((await t.as(key, { url: '/connections' })).json()).toEqual({ items: [] });
    expect((await t.as(key, { url: '/installations' })).json()).toEqual({ items: [] });
    expect(await installs('stripe')).toBe(before);
    const audit = await t.store.db.query<{ action: string }>('SELECT action FROM connectors.audit_log WHERE target_id = $1 ORDER BY action', [installation.id]);
    expect(audit.rows.map((r) => r.action)).toEqual(['connector.install', 'connector.uninstall']);

    const again = await t.as(key, { method: 'DELETE', url: `/installations/${installation.id}` });
    expect(again.statusCode).toBe(404);
  });

  it("answers 404 for another tenant's installation and leaves it alone", async () => {
    const owner = await t.createTenant();
    const other = await t.createTenant();
    const { installation } = await install(owner.key, 'stripe');
    const res = await t.as(other.key, { method: 'DELETE', url: `/installations/${installation.id}` });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'NOT_FOUND' });
    expect((await t.as(owner.key, { url: '/installations' })).json()).toMatchObject({ items: [{ id: installation.id }] });
  });

  it('refuses a key without the tenant_admin role', async () => {
    const { key } = await t.createTenant();
    const { installation } = await install(key, 'stripe');
    const minted = await t.as(key, { method: 'POST', url: '/api-keys', payload: { name: 'p', roles: ['publisher'] } });
    const publisher = (minted.json() as { secret: string }).secret;
    const res = await t.as(publisher, { method: 'DELETE', url: `/installations/${installation.id}` });
    expect(res.statusCode).toBe(403);
    expect((await t.as(key, { url: '/installations' })).json()).toMatchObject({ items: [{ id: installation.id }] });
  });

  it("revokes OAuth2 tokens at the provider's revocation endpoint before deleting", async () => {
    const { key } = await t.createTenant();
    const { installation, setup } = await install(key, 'crm');
    const { connectionId, accessToken, refreshToken } = await connectOAuth(setup.authorizeUrl!);
    expect(provider.verify(accessToken)).toMatchObject({ active: true });

    const res = await t.as(key, { method: 'DELETE', url: `/installations/${installation.id}` });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ revoked: 1, revokeFailures: [], unsubscribeFailures: [] });
    expect(provider.verify(accessToken)).toEqual({ active: false, reason: 'revoked' });
    if (refreshToken) expect(provider.verify(refreshToken)).toEqual({ active: false, reason: 'revoked' });
    expect((await t.store.db.query('SELECT 1 FROM connectors.vault_secrets WHERE connection_id = $1', [connectionId])).rows).toHaveLength(0);
  });

  it('reports a failing revocation and still uninstalls', async () => {
    const { key } = await t.createTenant();
    const { installation, setup } = await install(key, 'crm-broken-revoke');
    const { connectionId, accessToken } = await connectOAuth(setup.authorizeUrl!);

    const res = await t.as(key, { method: 'DELETE', url: `/installations/${installation.id}` });
    expect(res.statusCode, res.body).toBe(200);
    const summary = res.json() as Summary;
    expect(summary.revoked).toBe(0);
    expect(summary.revokeFailures).toEqual([{ connectionId, reason: expect.stringContaining('no-such-endpoint') }]);
    // The endpoint is quoted without its query: a connector may put a key there.
    expect(summary.revokeFailures[0]!.reason).not.toContain('revoke-query-secret');
    expect(provider.verify(accessToken)).toMatchObject({ active: true });
    expect((await t.store.db.query('SELECT 1 FROM connectors.connections WHERE id = $1', [connectionId])).rows).toHaveLength(0);
    expect((await t.as(key, { url: '/installations' })).json()).toEqual({ items: [] });
  });
});

describe('DELETE /installations/{id} with production egress (no loopback)', () => {
  let t: TestApp;
  let internal: Server;
  // What reached the revocation endpoint on the service's own network.
  const seen: string[] = [];

  beforeAll(async () => {
    internal = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${body}`);
        res.writeHead(200);
        res.end();
      });
    });
    await new Promise<void>((resolve) => internal.listen(0, '127.0.0.1', resolve));
    const port = (internal.address() as AddressInfo).port;
    const app = { client_id: 'bos-client', client_secret: 'bos-secret' };
    t = await createTestApp({
      allowLoopbackEgress: false,
      env: { BOS_MASTER_KEY: randomBytes(32).toString('base64'), BOS_PUBLIC_URL: 'https://bos.example.com', BOS_OAUTH_APPS: JSON.stringify({ 'crm-internal-revoke': app, 'crm-internal-revoke-tls': app }) },
    });
    const internalRevoke = (name: string, revokeUrl: string) =>
      defineConnector({
        name,
        version: '1.0.0',
        description: 'A CRM whose revocation URL points into the service network.',
        baseUrl: 'https://api.crm.example.com',
        auth: new OAuth2Auth({ clientId: 'config.client_id', clientSecret: 'config.client_secret', authorizationUrl: 'https://auth.crm.example.com/authorize', tokenUrl: 'https://auth.crm.example.com/token', revokeUrl, scopes: ['contacts'] }),
        actions: [{ name: 'listContacts', description: 'Lists contacts', async execute() { return []; } }],
      });
    for (const c of [internalRevoke('crm-internal-revoke', `http://127.0.0.1:${port}/revoke`), internalRevoke('crm-internal-revoke-tls', `https://localhost:${port}/revoke`)]) {
      await t.store.db.transaction((tx) => publishManifestListing(tx, c.manifest, { tenantId: null, npmPackage: `@fixtures/${c.manifest.name}`, verified: false }));
    }
  });
  afterAll(async () => {
    await t?.close();
    await new Promise((resolve) => internal?.close(resolve));
  });

  it.each([
    ['crm-internal-revoke', /Could not revoke the tokens at http:.*only https/],
    ['crm-internal-revoke-tls', /Could not revoke the tokens at https:.*localhost resolves only to addresses .* does not connect to/],
  ])('does not POST the tokens and client secret to a revocation URL on a loopback address (%s), and still uninstalls', async (name, reason) => {
    const { key, tenantId } = await t.createTenant();
    const installed = await t.as(key, { method: 'POST', url: `/marketplace/install/${name}`, payload: {} });
    expect(installed.statusCode, installed.body).toBe(201);
    const installationId = (installed.json() as { installation: { id: string } }).installation.id;
    // A connection as the OAuth callback stores it (its code exchange would be refused here too).
    const connectionId = await t.store.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<{ id: string }>("INSERT INTO connectors.connections (tenant_id, installation_id, name, fields) VALUES ($1, $2, 'CRM', '{}') RETURNING id", [tenantId, installationId]);
      return rows[0]!.id;
    });
    const vault = createVault({ store: createPgVaultStore(t.store.db), masterKey: t.config.masterKey! });
    await vault.putCredentials(tenantId, connectionId, { accessToken: 'access-token-value', refreshToken: 'refresh-token-value' });

    const res = await t.as(key, { method: 'DELETE', url: `/installations/${installationId}` });
    expect(res.statusCode, res.body).toBe(200);
    expect(seen).toEqual([]);
    const summary = res.json() as Summary;
    expect(summary.revoked).toBe(0);
    expect(summary.revokeFailures).toEqual([{ connectionId, reason: expect.stringMatching(reason) }]);
    expect(res.body).not.toContain('token-value');
    expect((await t.as(key, { url: '/installations' })).json()).toEqual({ items: [] });
  });
});
