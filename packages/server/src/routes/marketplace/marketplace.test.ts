import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_CATALOGUE, fixtureConnector } from '../../marketplace/fixtures.ts';
import { publishManifestListing } from '../../marketplace/listing.ts';
import { createTestApp, type TestApp } from '../../test-app.ts';

interface SearchBody {
  results: { id: string; name: string; displayName: string; latestVersion: string; rating: { average: number | null; count: number }; installs: number; deprecation: unknown; verified: boolean; private: boolean }[];
  total: number;
  page: number;
  pageSize: number;
  totalIsLowerBound: boolean;
  facets: { categories: { category: string; count: number }[] };
}

describe('marketplace catalogue', () => {
  let t: TestApp;
  const search = async (query: string, key?: string): Promise<SearchBody> => {
    const res = await t.as(key, { url: `/marketplace/search?${query}` });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as SearchBody;
  };

  beforeAll(async () => {
    t = await createTestApp({ seed: FIXTURE_CATALOGUE });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('finds a connector by name without a key', async () => {
    const body = await search('q=stripe');
    expect(body.results[0]).toMatchObject({ name: 'stripe', displayName: 'Stripe', latestVersion: '1.0.0', verified: true, private: false, deprecation: null, installs: 0, rating: { average: null, count: 0 } });
    expect(body.page).toBe(1);
    // A handful of matches is counted exactly (the lower-bound case is covered by search.integration.test.ts).
    expect(body.totalIsLowerBound).toBe(false);
  });

  it('matches a prefix for type-ahead', async () => {
    expect((await search('q=shop')).results.map((r) => r.name)).toContain('shopify');
    expect((await search('q=stri')).results.map((r) => r.name)).toContain('stripe');
  });

  it('tolerates a typo in a name', async () => {
    expect((await search('q=strpe')).results.map((r) => r.name)).toContain('stripe');
    expect((await search('q=shopfy')).results.map((r) => r.name)).toContain('shopify');
  });

  it('finds connectors by action names and description words, name matches first', async () => {
    expect((await search('q=refund')).results.map((r) => r.name)).toEqual(['stripe']);
    const invoice = await search('q=invoice');
    expect(invoice.results.map((r) => r.name)).toContain('mailer');
    const payments = await search('q=payments');
    expect(payments.results.map((r) => r.name).sort()).toEqual(['paypal', 'stripe']);
  });

  it('counts categories over all matches and filters by category', async () => {
    const all = await search('');
    expect(all.total).toBe(5);
    expect(all.facets.categories).toEqual([
      { category: 'messaging', count: 2 },
      { category: 'payments', count: 2 },
      { category: 'ecommerce', count: 1 },
    ]);
    const messaging = await search('category=messaging');
    expect(messaging.total).toBe(2);
    expect(messaging.results.map((r) => r.name).sort()).toEqual(['mailer', 'slack']);
    expect(messaging.facets.categories).toHaveLength(3);
  });

  it('paginates', async () => {
    const first = await search('pageSize=2&page=1&sort=newest');
    const second = await search('pageSize=2&page=2&sort=newest');
    const third = await search('pageSize=2&page=3&sort=newest');
    expect(first.results).toHaveLength(2);
    expect(third.results).toHaveLength(1);
    const names = [...first.results, ...second.results, ...third.results].map((r) => r.name);
    expect(new Set(names).size).toBe(5);
    expect(first.total).toBe(5);
    expect((await search('pageSize=2&page=9')).results).toEqual([]);
  });

  it('rejects bad search parameters with the field path', async () => {
    const res = await t.app.inject({ url: '/marketplace/search?sort=popular' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'INVALID_INPUT', errors: [{ path: '/sort', in: 'querystring' }] });
    const page = await t.app.inject({ url: '/marketplace/search?page=zero' });
    expect(page.json()).toMatchObject({ errors: [{ path: '/page', in: 'querystring' }] });
    const unknown = await t.app.inject({ url: '/marketplace/search?colour=red' });
    expect(unknown.json()).toMatchObject({ errors: [{ path: '/colour', in: 'querystring' }] });
  });

  it('checks a key when one is sent to a public route', async () => {
    const res = await t.as('bos_bogus', { url: '/marketplace/search?q=stripe' });
    expect(res.statusCode).toBe(401);
  });

  it('shows connector detail with actions, auth, hosts and permissions, by id or name', async () => {
    const id = (await search('q=paypal')).results[0]!.id;
    const res = await t.app.inject({ url: `/marketplace/connectors/${id}` });
    expect(res.statusCode).toBe(200);
    const detail = res.json() as Record<string, unknown> & { auth: Record<string, unknown>; actions: { name: string; params: unknown }[] };
    expect(detail).toMatchObject({ id, name: 'paypal', hosts: expect.any(Array), permissions: ['Reads your data'], runtime: 'sandbox', npmPackage: '@fixtures/paypal' });
    expect(detail.actions[0]).toMatchObject({ name: 'createPayout', displayName: 'Create Payout', params: { type: 'object' } });
    expect(detail.auth).toMatchObject({ type: 'oauth2', scopes: ['read'] });
    expect(detail.auth).not.toHaveProperty('clientSecret');
    const byName = await t.app.inject({ url: '/marketplace/connectors/paypal' });
    expect((byName.json() as { id: string }).id).toBe(id);
  });

  it('answers 404 for an unknown connector', async () => {
    const res = await t.app.inject({ url: '/marketplace/connectors/00000000-0000-4000-8000-000000000000' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'NOT_FOUND' });
    expect((await t.app.inject({ url: '/marketplace/connectors/nope/versions' })).statusCode).toBe(404);
  });

  it('lists versions newest first with deprecation', async () => {
    await t.store.db.transaction(async (tx) => {
      await publishManifestListing(tx, fixtureConnector({ name: 'slack', version: '1.10.0', displayName: 'Slack', description: 'Post messages to channels.', category: 'messaging', actions: ['postMessage'] }).manifest, { tenantId: null, npmPackage: '@fixtures/slack', verified: true });
      await publishManifestListing(tx, fixtureConnector({ name: 'slack', version: '1.2.0', displayName: 'Slack', description: 'Post messages.', category: 'messaging', actions: ['postMessage'] }).manifest, { tenantId: null, npmPackage: '@fixtures/slack', verified: true });
      await tx.query("UPDATE connectors.connector_versions SET deprecation_message = 'Use 1.10', replacement = 'slack@1.10.0' WHERE version = '1.0.0' AND connector_id = (SELECT id FROM connectors.marketplace WHERE name = 'slack' AND tenant_id IS NULL)");
    });
    const res = await t.app.inject({ url: '/marketplace/connectors/slack/versions' });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { latestVersion: string; items: { version: string; deprecation: unknown }[] };
    expect(body.latestVersion).toBe('1.10.0');
    expect(body.items.map((v) => v.version)).toEqual(['1.10.0', '1.2.0', '1.0.0']);
    expect(body.items[2]!.deprecation).toEqual({ message: 'Use 1.10', replacement: 'slack@1.10.0' });
  });

  it('serves generated Markdown docs of the latest version, and 404 for an unknown connector', async () => {
    await t.store.db.transaction(async (tx) => {
      await publishManifestListing(tx, fixtureConnector({ name: 'docsy', version: '2.0.0', displayName: 'Docsy', description: 'Documented.', category: 'crm', actions: ['createThing'] }).manifest, { tenantId: null, npmPackage: '@fixtures/docsy', verified: true });
    });
    const res = await t.app.inject({ url: '/marketplace/connectors/docsy/docs' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/markdown/);
    expect(res.body).toContain('# Docsy');
    expect(res.body).toContain('(`createThing`)');
    const missing = await t.app.inject({ url: '/marketplace/connectors/nope/docs' });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toMatch(/problem\+json/);
  });

  it('keeps one editable rating per tenant and aggregates them', async () => {
    const a = await t.createTenant();
    const b = await t.createTenant();
    const put = (key: string, stars: number, extra: Record<string, unknown> = {}) =>
      t.as(key, { method: 'PUT', url: '/marketplace/connectors/shopify/rating', payload: { stars, ...extra } });
    expect((await put(a.key, 2, { title: 'meh' })).statusCode).toBe(200);
    expect((await put(b.key, 5)).statusCode).toBe(200);
    const edited = await put(a.key, 4, { title: 'better now', body: 'Fixed my issue' });
    expect(edited.json()).toMatchObject({ stars: 4, title: 'better now', mine: true });

    const reviews = await t.as(a.key, { url: '/marketplace/connectors/shopify/reviews' });
    const body = reviews.json() as { rating: { average: number; count: number }; items: { stars: number; mine: boolean }[] };
    expect(body.rating).toEqual({ average: 4.5, count: 2 });
    expect(body.items).toHaveLength(2);
    expect(body.items.filter((r) => r.mine)).toEqual([expect.objectContaining({ stars: 4 })]);
    expect(JSON.stringify(body)).not.toContain(a.tenantId);

    const listed = (await search('q=shopify')).results[0]!;
    expect(listed.rating).toEqual({ average: 4.5, count: 2 });
    expect((await search('sort=rating')).results[0]!.name).toBe('shopify');
  });

  it('validates ratings and requires a key', async () => {
    const { key } = await t.createTenant();
    const bad = await t.as(key, { method: 'PUT', url: '/marketplace/connectors/shopify/rating', payload: { stars: 6 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ errors: [{ path: '/stars' }] });
    const wrongType = await t.as(key, { method: 'PUT', url: '/marketplace/connectors/shopify/rating', payload: { stars: '5' } });
    expect(wrongType.statusCode).toBe(400);
    const anonymous = await t.as(undefined, { method: 'PUT', url: '/marketplace/connectors/shopify/rating', payload: { stars: 5 } });
    expect(anonymous.statusCode).toBe(401);
  });

  it("shows a tenant's private connector only to that tenant", async () => {
    const a = await t.createTenant();
    const b = await t.createTenant();
    await t.store.db.withTenant(a.tenantId, (tx) =>
      publishManifestListing(tx, fixtureConnector({ name: 'inhouse-erp', displayName: 'In-house ERP', description: 'Our private ERP.', category: 'erp', actions: ['syncLedger'] }).manifest, { tenantId: a.tenantId, npmPackage: '@a/erp', verified: false }),
    );
    expect((await search('q=erp', a.key)).results.map((r) => [r.name, r.private])).toEqual([['inhouse-erp', true]]);
    expect((await search('q=erp', b.key)).results).toEqual([]);
    expect((await search('q=erp')).results).toEqual([]);
    expect((await t.as(b.key, { url: '/marketplace/connectors/inhouse-erp' })).statusCode).toBe(404);
  });
});
