import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defineConnector, OAuth2Auth } from '@businessos/connector-sdk';
import { createOAuthProvider, type OAuthProvider } from '@businessos/connector-sdk/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishManifestListing } from '../../../marketplace/listing.ts';
import { createTestApp, type TestApp } from '../../../test-app.ts';
import { OAUTH_REDIRECT_URI, startOAuthCrm } from '../../../test-oauth-crm.ts';

describe('OAuth2 connection flow', () => {
  let t: TestApp;
  let provider: OAuthProvider;

  beforeAll(async () => {
    ({ t, provider } = await startOAuthCrm());
  });
  afterAll(async () => {
    await t?.close();
    await provider?.close();
  });

  /** Plays the browser: follows the authorize URL to the provider and returns where it redirects back to. */
  async function consent(authorizeUrl: string): Promise<URL> {
    const res = await fetch(authorizeUrl, { redirect: 'manual' });
    expect(res.status).toBe(302);
    return new URL(res.headers.get('location')!);
  }

  it('exchanges the code with PKCE, stores the tokens in the vault, and spends the state', async () => {
    const { key, tenantId } = await t.createTenant();
    const installed = await t.as(key, { method: 'POST', url: '/marketplace/install/crm', payload: { connectionName: 'Sales CRM' } });
    expect(installed.statusCode).toBe(201);
    const { setup } = installed.json() as { setup: { authorizeUrl: string } };
    const back = await consent(setup.authorizeUrl);
    expect(back.origin + back.pathname).toBe(OAUTH_REDIRECT_URI);

    const callback = await t.app.inject({ url: `/oauth/callback${back.search}` });
    expect(callback.statusCode, callback.body).toBe(200);
    const conn = callback.json() as { id: string; name: string; hasCredentials: boolean };
    expect(conn).toMatchObject({ name: 'Sales CRM', connector: 'crm', hasCredentials: true, status: 'ok' });

    const issued = provider.issued.at(-1)!;
    expect(callback.body).not.toContain(issued.accessToken);
    const stored = await t.store.db.query<{ ciphertext: string }>('SELECT ciphertext FROM connectors.vault_secrets WHERE connection_id = $1', [conn.id]);
    expect(stored.rows).toHaveLength(1);
    expect(stored.rows[0]!.ciphertext).not.toContain(issued.accessToken);

    const replay = await t.app.inject({ url: `/oauth/callback${back.search}` });
    expect(replay.statusCode).toBe(400);
    expect(replay.json()).toMatchObject({ type: expect.stringContaining('oauth-state-used') });

    const listed = await t.as(key, { url: '/connections' });
    expect((listed.json() as { items: { id: string }[] }).items.map((c) => c.id)).toEqual([conn.id]);
    expect(tenantId).toBeTruthy();
  });

  it('rejects a forged or missing state before touching the store', async () => {
    const forged = await t.app.inject({ url: '/oauth/callback?state=00000000-0000-4000-8000-000000000000.AAAA&code=x' });
    expect(forged.statusCode).toBe(400);
    expect(forged.json()).toMatchObject({ type: expect.stringContaining('oauth-state-invalid'), errors: [{ path: '/state' }] });
    expect((await t.app.inject({ url: '/oauth/callback?code=x' })).statusCode).toBe(400);
  });

  it('reports a denied consent and spends the state', async () => {
    const { key } = await t.createTenant();
    const installed = await t.as(key, { method: 'POST', url: '/marketplace/install/crm' });
    const state = (installed.json() as { setup: { state: string } }).setup.state;
    const denied = await t.app.inject({ url: `/oauth/callback?state=${encodeURIComponent(state)}&error=access_denied` });
    expect(denied.statusCode).toBe(401);
    expect(denied.json()).toMatchObject({ code: 'AUTH_FAILED', detail: expect.stringContaining('access_denied') });
    expect((await t.app.inject({ url: `/oauth/callback?state=${encodeURIComponent(state)}&code=x` })).statusCode).toBe(400);
  });

  it('refuses a code the provider does not know', async () => {
    const { key } = await t.createTenant();
    const installed = await t.as(key, { method: 'POST', url: '/marketplace/install/crm' });
    const state = (installed.json() as { setup: { state: string } }).setup.state;
    const res = await t.app.inject({ url: `/oauth/callback?state=${encodeURIComponent(state)}&code=bogus` });
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(res.statusCode).toBeLessThan(600);
    expect(res.json()).toMatchObject({ type: expect.stringContaining('oauth-exchange-failed') });
  });
});

describe('OAuth2 callback in a browser', () => {
  let t: TestApp;
  let provider: OAuthProvider;
  const browser = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

  beforeAll(async () => {
    ({ t, provider } = await startOAuthCrm());
  });
  afterAll(async () => {
    await t?.close();
    await provider?.close();
  });

  it('sends the browser to the installed page with the new connection id', async () => {
    const { key } = await t.createTenant();
    const installed = await t.as(key, { method: 'POST', url: '/marketplace/install/crm', payload: { connectionName: 'Sales CRM' } });
    const { setup } = installed.json() as { setup: { authorizeUrl: string } };
    const consent = await fetch(setup.authorizeUrl, { redirect: 'manual' });
    const back = new URL(consent.headers.get('location')!);

    const callback = await t.app.inject({ url: `/oauth/callback${back.search}`, headers: browser });
    expect(callback.statusCode, callback.body).toBe(303);
    const location = new URL(callback.headers.location as string, 'https://bos.example.com');
    expect(location.pathname).toBe('/installed');
    const connectionId = location.searchParams.get('connected');
    const listed = await t.as(key, { url: '/connections' });
    expect((listed.json() as { items: { id: string }[] }).items.map((c) => c.id)).toEqual([connectionId]);
    expect(callback.headers.location).not.toContain(provider.issued.at(-1)!.accessToken);
  });

  it('sends the browser to the installed page with the error code on failure', async () => {
    const { key } = await t.createTenant();
    const installed = await t.as(key, { method: 'POST', url: '/marketplace/install/crm' });
    const state = (installed.json() as { setup: { state: string } }).setup.state;
    const denied = await t.app.inject({ url: `/oauth/callback?state=${encodeURIComponent(state)}&error=access_denied`, headers: browser });
    expect(denied.statusCode).toBe(303);
    expect(denied.headers.location).toBe('/installed?oauth_error=AUTH_FAILED');

    const forged = await t.app.inject({ url: '/oauth/callback?state=bogus&code=x', headers: browser });
    expect(forged.statusCode).toBe(303);
    expect(forged.headers.location).toBe('/installed?oauth_error=INVALID_INPUT');
    expect((await t.as(key, { url: '/connections' })).json()).toEqual({ items: [] });
  });

  it('keeps JSON answers for clients that ask for JSON', async () => {
    const res = await t.app.inject({ url: '/oauth/callback?state=bogus&code=x', headers: { accept: 'application/json' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'INVALID_INPUT', type: expect.stringContaining('oauth-state-invalid') });
  });
});

describe('OAuth2 code exchange against a token endpoint that redirects', () => {
  let t: TestApp;
  let provider: OAuthProvider;
  let moved: Server;
  // What reached the redirecting endpoint, and the status it answers with (set per test).
  const seen: string[] = [];
  let status = 307;

  beforeAll(async () => {
    provider = await createOAuthProvider({ clients: [{ clientId: 'bos-client', clientSecret: 'bos-secret', redirectUris: [OAUTH_REDIRECT_URI] }], requirePkce: true });
    // A token URL that sends the client on to the real token endpoint: following it would complete the exchange.
    moved = createServer((req, res) => {
      req.resume();
      seen.push(req.url ?? '');
      res.writeHead(status, { location: `${provider.tokenUrl}?via=redirect` });
      res.end();
    });
    await new Promise<void>((resolve) => moved.listen(0, '127.0.0.1', resolve));
    t = await createTestApp({
      env: { BOS_MASTER_KEY: randomBytes(32).toString('base64'), BOS_PUBLIC_URL: 'https://bos.example.com', BOS_OAUTH_APPS: JSON.stringify({ 'crm-moved': { client_id: 'bos-client', client_secret: 'bos-secret' } }) },
    });
    const connector = defineConnector({
      name: 'crm-moved',
      version: '1.0.0',
      description: 'A CRM whose token URL redirects.',
      baseUrl: 'https://api.crm.example.com',
      auth: new OAuth2Auth({ clientId: 'config.client_id', clientSecret: 'config.client_secret', authorizationUrl: provider.authorizeUrl, tokenUrl: `http://127.0.0.1:${(moved.address() as AddressInfo).port}/token`, scopes: ['contacts'] }),
      actions: [{ name: 'listContacts', description: 'Lists contacts', async execute() { return []; } }],
    });
    await t.store.db.transaction((tx) => publishManifestListing(tx, connector.manifest, { tenantId: null, npmPackage: '@fixtures/crm-moved', verified: false }));
  });
  afterAll(async () => {
    await t?.close();
    await provider?.close();
    await new Promise((resolve) => moved?.close(resolve));
  });

  it.each([307, 308])('does not follow a %i: the code, verifier and client secret are not posted anywhere else, and the error says why', async (code) => {
    status = code;
    seen.length = 0;
    const { key } = await t.createTenant();
    const installed = await t.as(key, { method: 'POST', url: '/marketplace/install/crm-moved' });
    expect(installed.statusCode, installed.body).toBe(201);
    const consent = await fetch((installed.json() as { setup: { authorizeUrl: string } }).setup.authorizeUrl, { redirect: 'manual' });
    const back = new URL(consent.headers.get('location')!);
    const issuedBefore = provider.issued.length;

    const res = await t.app.inject({ url: `/oauth/callback${back.search}` });
    expect(seen).toEqual(['/token']);
    expect(provider.issued.length).toBe(issuedBefore);
    expect(res.statusCode, res.body).toBe(401);
    expect(res.json()).toMatchObject({
      code: 'AUTH_FAILED',
      type: expect.stringContaining('oauth-token-redirect'),
      detail: expect.stringMatching(new RegExp(`token endpoint .*redirected with ${code} to ${provider.tokenUrl.replace(/[.]/g, '[.]')};.*not followed.*tokenUrl`)),
    });
    expect(res.body).not.toContain('bos-secret');
    expect(res.body).not.toContain('via=redirect');
    expect((await t.as(key, { url: '/connections' })).json()).toEqual({ items: [] });
  });
});

describe('OAuth2 code exchange with production egress (no loopback)', () => {
  let t: TestApp;
  let provider: OAuthProvider;

  beforeAll(async () => {
    provider = await createOAuthProvider({ clients: [{ clientId: 'bos-client', clientSecret: 'bos-secret', redirectUris: [OAUTH_REDIRECT_URI] }], requirePkce: true });
    const app = { client_id: 'bos-client', client_secret: 'bos-secret' };
    // As in production: the service's own calls to a provider refuse loopback and private addresses.
    t = await createTestApp({
      allowLoopbackEgress: false,
      env: { BOS_MASTER_KEY: randomBytes(32).toString('base64'), BOS_PUBLIC_URL: 'https://bos.example.com', BOS_OAUTH_APPS: JSON.stringify({ 'crm-internal': app, 'crm-internal-tls': app }) },
    });
    // A published connector whose token endpoint is on the service's own network (here: loopback).
    const internal = (name: string, tokenUrl: string) =>
      defineConnector({
        name,
        version: '1.0.0',
        description: 'A CRM whose token URL points into the service network.',
        baseUrl: 'https://api.crm.example.com',
        auth: new OAuth2Auth({ clientId: 'config.client_id', clientSecret: 'config.client_secret', authorizationUrl: provider.authorizeUrl, tokenUrl, scopes: ['contacts'] }),
        actions: [{ name: 'listContacts', description: 'Lists contacts', async execute() { return []; } }],
      });
    const port = new URL(provider.url).port;
    for (const c of [internal('crm-internal', provider.tokenUrl), internal('crm-internal-tls', `https://localhost:${port}/oauth/token`)]) {
      await t.store.db.transaction((tx) => publishManifestListing(tx, c.manifest, { tenantId: null, npmPackage: `@fixtures/${c.manifest.name}`, verified: false }));
    }
  });
  afterAll(async () => {
    await t?.close();
    await provider?.close();
  });

  it.each(['crm-internal', 'crm-internal-tls'])('does not POST the code and client secret to a token URL on a loopback address (%s)', async (name) => {
    const { key } = await t.createTenant();
    const installed = await t.as(key, { method: 'POST', url: `/marketplace/install/${name}` });
    expect(installed.statusCode, installed.body).toBe(201);
    const consent = await fetch((installed.json() as { setup: { authorizeUrl: string } }).setup.authorizeUrl, { redirect: 'manual' });
    const back = new URL(consent.headers.get('location')!);
    const issuedBefore = provider.issued.length;

    const res = await t.app.inject({ url: `/oauth/callback${back.search}` });
    expect(provider.issued.length).toBe(issuedBefore);
    expect(res.statusCode, res.body).toBe(403);
    expect(res.json()).toMatchObject({
      code: 'EGRESS_DENIED',
      type: expect.stringContaining('oauth-token-url-refused'),
      detail: expect.stringMatching(/did not call the connector's token endpoint.*tokenUrl/),
    });
    expect(res.body).not.toContain('bos-secret');
    expect((await t.as(key, { url: '/connections' })).json()).toEqual({ items: [] });
  });
});
