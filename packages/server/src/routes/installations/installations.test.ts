import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_CATALOGUE, fixtureConnector } from '../../marketplace/fixtures.ts';
import { publishManifestListing } from '../../marketplace/listing.ts';
import { createTestApp, type TestApp } from '../../test-app.ts';
import type { TriggerService } from '../../triggers/trigger-service.ts';

interface InstallBody {
  installation: { id: string; connectorId: string; connector: string; version: string };
  setup: { type: string; authType: string; fields: { name: string; in: string; secret: boolean }[]; authorizeUrl?: string | null; state?: string; detail?: string };
}

describe('installations, connections and usage', () => {
  let t: TestApp;
  // A trigger service with no subscriptions, recording what the install route asks of it (to reschedule polling
  // after a re-pin); connection deletes find nothing to stop.
  const rescheduled: [string, string][] = [];
  const triggers = {
    reschedulePolling: async (tenantId: string, installationId: string) => (rescheduled.push([tenantId, installationId]), 0),
    releaseConnections: async () => [],
  } as unknown as TriggerService;
  beforeAll(async () => {
    t = await createTestApp({
      triggers,
      seed: FIXTURE_CATALOGUE,
      env: { BOS_MASTER_KEY: randomBytes(32).toString('base64'), BOS_OAUTH_APPS: '{"paypal":{"client_id":"cid-123","client_secret":"shh"}}', BOS_PUBLIC_URL: 'https://bos.example.com' },
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  const install = (key: string, id: string, payload?: unknown) => t.as(key, { method: 'POST', url: `/marketplace/install/${id}`, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });

  it('installs the latest version, answers the form to fill, and counts the install once', async () => {
    const { key, tenantId } = await t.createTenant();
    const first = await install(key, 'stripe');
    expect(first.statusCode, first.body).toBe(201);
    const body = first.json() as InstallBody;
    expect(body.installation).toMatchObject({ connector: 'stripe', version: '1.0.0' });
    expect(body.setup).toEqual({ type: 'form', authType: 'api_key', fields: [expect.objectContaining({ name: 'apiKey', in: 'credentials', secret: true, required: true })] });

    expect(rescheduled).toEqual([]);

    const again = await install(key, 'stripe', {});
    expect(again.statusCode).toBe(200);
    expect((again.json() as InstallBody).installation.id).toBe(body.installation.id);
    // A re-pin has polling follow the pinned version at once.
    expect(rescheduled).toEqual([[tenantId, body.installation.id]]);

    const listed = await t.app.inject({ url: '/marketplace/search?q=stripe' });
    expect((listed.json() as { results: { installs: number }[] }).results[0]!.installs).toBe(1);
  });

  it('rejects unknown versions, bad versions and unknown fields', async () => {
    const { key } = await t.createTenant();
    expect((await install(key, 'stripe', { version: '9.9.9' })).statusCode).toBe(404);
    const bad = await install(key, 'stripe', { version: 'latest' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ errors: [{ path: '/version' }] });
    const unknown = await install(key, 'stripe', { colour: 'red' });
    expect(unknown.json()).toMatchObject({ errors: [{ path: '/colour' }] });
    expect((await install(key, 'no-such-connector')).statusCode).toBe(404);
    const { key: publisherOnly } = await t.createTenant().then(async (x) => {
      const res = await t.as(x.key, { method: 'POST', url: '/api-keys', payload: { name: 'p', roles: ['publisher'] } });
      return { key: (res.json() as { secret: string }).secret };
    });
    expect((await install(publisherOnly, 'stripe')).statusCode).toBe(403);
  });

  it('answers an OAuth2 authorize URL with PKCE and a signed, stored state', async () => {
    const { key, tenantId } = await t.createTenant();
    const res = await install(key, 'paypal', { connectionName: 'Payouts' });
    expect(res.statusCode).toBe(201);
    const { setup } = res.json() as InstallBody;
    expect(setup.type).toBe('oauth2');
    const url = new URL(setup.authorizeUrl!);
    expect(url.origin + url.pathname).toBe('https://auth.example.com/authorize');
    expect(url.searchParams.get('client_id')).toBe('cid-123');
    expect(url.searchParams.get('redirect_uri')).toBe('https://bos.example.com/oauth/callback');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('state')).toBe(setup.state);
    expect(setup.authorizeUrl).not.toContain('shh');
    const { rows } = await t.store.db.query<{ tenant_id: string; used_at: Date | null }>('SELECT tenant_id, used_at FROM connectors.oauth_states WHERE id = $1', [setup.state!.split('.')[0]]);
    expect(rows).toEqual([{ tenant_id: tenantId, used_at: null }]);

    const direct = await t.as(key, { method: 'POST', url: '/connections', payload: { installationId: (res.json() as InstallBody).installation.id, name: 'x' } });
    expect(direct.statusCode).toBe(400);
    expect(direct.json()).toMatchObject({ type: expect.stringContaining('use-oauth') });
  });

  it('stores connection secrets encrypted and never returns them', async () => {
    const a = await t.createTenant();
    const installed = (await install(a.key, 'stripe')).json() as InstallBody;
    const secret = `sk_test_${randomBytes(8).toString('hex')}`;
    const created = await t.as(a.key, { method: 'POST', url: '/connections', payload: { installationId: installed.installation.id, name: 'Main account', credentials: { apiKey: secret } } });
    expect(created.statusCode, created.body).toBe(201);
    const conn = created.json() as { id: string; hasCredentials: boolean; status: string };
    expect(conn).toMatchObject({ hasCredentials: true, status: 'ok', name: 'Main account', connector: 'stripe' });
    expect(created.body).not.toContain(secret);

    const list = await t.as(a.key, { url: '/connections' });
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain(secret);
    expect((list.json() as { items: unknown[] }).items).toHaveLength(1);

    const stored = await t.store.db.query<{ dump: string }>("SELECT (SELECT string_agg(row_to_json(s)::text, '') FROM connectors.vault_secrets s) || (SELECT string_agg(row_to_json(c)::text, '') FROM connectors.connections c) AS dump");
    expect(stored.rows[0]!.dump).not.toContain(secret);
  });

  it('names missing and unknown connection inputs', async () => {
    const { key } = await t.createTenant();
    const installed = (await install(key, 'stripe')).json() as InstallBody;
    const missing = await t.as(key, { method: 'POST', url: '/connections', payload: { installationId: installed.installation.id, name: 'x' } });
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toMatchObject({ errors: [{ path: '/credentials/apiKey', message: expect.stringContaining('required') }] });
    const unknown = await t.as(key, { method: 'POST', url: '/connections', payload: { installationId: installed.installation.id, name: 'x', credentials: { apiKey: 'k', password: 'p' } } });
    expect(unknown.json()).toMatchObject({ errors: [{ path: '/credentials/password' }] });
    const wrongType = await t.as(key, { method: 'POST', url: '/connections', payload: { installationId: installed.installation.id, name: 'x', credentials: { apiKey: 42 } } });
    expect(wrongType.json()).toMatchObject({ errors: [{ path: '/credentials/apiKey' }] });
    const notInstalled = await t.as(key, { method: 'POST', url: '/connections', payload: { installationId: '00000000-0000-4000-8000-000000000000', name: 'x' } });
    expect(notInstalled.statusCode).toBe(404);
  });

  it("keeps one tenant's connections invisible and undeletable to another", async () => {
    const a = await t.createTenant();
    const b = await t.createTenant();
    const installed = (await install(a.key, 'stripe')).json() as InstallBody;
    const conn = (await t.as(a.key, { method: 'POST', url: '/connections', payload: { installationId: installed.installation.id, name: 'A', credentials: { apiKey: 'k' } } })).json() as { id: string };

    expect((await t.as(b.key, { url: '/connections' })).json()).toEqual({ items: [] });
    expect((await t.as(b.key, { method: 'DELETE', url: `/connections/${conn.id}` })).statusCode).toBe(404);
    expect((await t.as(b.key, { method: 'POST', url: '/connections', payload: { installationId: installed.installation.id, name: 'steal', credentials: { apiKey: 'k' } } })).statusCode).toBe(404);

    const deleted = await t.as(a.key, { method: 'DELETE', url: `/connections/${conn.id}` });
    expect(deleted.statusCode).toBe(204);
    expect((await t.as(a.key, { url: '/connections' })).json()).toEqual({ items: [] });
    const left = await t.store.db.query('SELECT 1 FROM connectors.vault_secrets WHERE connection_id = $1', [conn.id]);
    expect(left.rows).toEqual([]);
  });

  it('lists installations with newer versions', async () => {
    const { key } = await t.createTenant();
    await install(key, 'shopify');
    await t.store.db.transaction((tx) =>
      publishManifestListing(tx, fixtureConnector({ name: 'shopify', version: '1.1.0', displayName: 'Shopify', description: 'Manage orders, products and customers of a store.', category: 'ecommerce', actions: ['createOrder', 'listProducts', 'cancelOrder'] }).manifest, { tenantId: null, npmPackage: '@fixtures/shopify', verified: true }),
    );
    const res = await t.as(key, { url: '/installations' });
    expect(res.statusCode).toBe(200);
    expect((res.json() as { items: unknown[] }).items).toEqual([expect.objectContaining({ connector: 'shopify', version: '1.0.0', latestVersion: '1.1.0', updateAvailable: true, deprecation: null })]);
  });

  it("reports only the caller's usage, grouped", async () => {
    const a = await t.createTenant();
    const b = await t.createTenant();
    await t.store.db.query(
      `INSERT INTO connectors.usage_records (tenant_id, connector_name, action, status, duration_ms, created_at) VALUES
       ($1, 'stripe', 'createCustomer', 'ok', 100, now() - interval '1 hour'),
       ($1, 'stripe', 'createRefund', 'error', 300, now() - interval '1 hour'),
       ($1, 'slack', 'postMessage', 'ok', 50, now() - interval '1 hour'),
       ($2, 'stripe', 'createCustomer', 'ok', 999, now() - interval '1 hour')`,
      [a.tenantId, b.tenantId],
    );
    const byConnector = await t.as(a.key, { url: '/usage?groupBy=connector' });
    expect(byConnector.statusCode).toBe(200);
    expect((byConnector.json() as { items: unknown[] }).items).toEqual([
      { key: 'slack', executions: 1, errors: 0, totalDurationMs: 50, avgDurationMs: 50 },
      { key: 'stripe', executions: 2, errors: 1, totalDurationMs: 400, avgDurationMs: 200 },
    ]);
    const byAction = (await t.as(a.key, { url: '/usage?groupBy=action' })).json() as { items: { key: string }[] };
    expect(byAction.items.map((i) => i.key)).toEqual(['slack.postMessage', 'stripe.createCustomer', 'stripe.createRefund']);
    const byDay = (await t.as(a.key, { url: '/usage?groupBy=day' })).json() as { items: { key: string; executions: number }[] };
    expect(byDay.items.reduce((n, i) => n + i.executions, 0)).toBe(3);

    const inverted = await t.as(a.key, { url: '/usage?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z' });
    expect(inverted.statusCode).toBe(400);
    const badDate = await t.as(a.key, { url: '/usage?from=yesterday' });
    expect(badDate.json()).toMatchObject({ errors: [{ path: '/from', in: 'querystring' }] });
    expect((await t.as(undefined, { url: '/usage' })).statusCode).toBe(401);
  });
});
