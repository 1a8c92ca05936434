import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngines } from '../db/engines.ts';
import { FIXTURE_CATALOGUE } from '../marketplace/fixtures.ts';
import { createTestApp, type TestApp } from '../test-app.ts';

// The key API paths again, on real PostgreSQL (PGlite runs them in the *.test.ts files).
const postgres = testEngines(process.env).find((e) => e.name === 'postgres')!;
const suite = postgres.create ? describe : describe.skip;

suite(`HTTP API on PostgreSQL${postgres.skipReason ? ` (skipped: ${postgres.skipReason})` : ''}`, () => {
  let t: TestApp;
  beforeAll(async () => {
    const store = await postgres.create!();
    t = await createTestApp({ store, seed: FIXTURE_CATALOGUE, env: { BOS_MASTER_KEY: randomBytes(32).toString('hex') } });
  });
  afterAll(async () => {
    await t?.close();
    await t?.store.dispose();
  });

  it('is ready and searches with prefix and typo tolerance', async () => {
    expect((await t.app.inject({ url: '/ready' })).statusCode).toBe(200);
    for (const q of ['stripe', 'stri', 'strpe', 'refund']) {
      const res = await t.app.inject({ url: `/marketplace/search?q=${q}` });
      expect((res.json() as { results: { name: string }[] }).results.map((r) => r.name), q).toContain('stripe');
    }
  });

  it('authenticates: missing 401, revoked 401, wrong role 403, wrong tenant 404', async () => {
    const a = await t.createTenant();
    const b = await t.createTenant();
    expect((await t.as(undefined, { url: '/connections' })).statusCode).toBe(401);
    expect((await t.as(a.key, { method: 'POST', url: '/tenants', payload: { name: 'x' } })).statusCode).toBe(403);
    expect((await t.as(a.key, { method: 'DELETE', url: `/api-keys/${b.keyId}` })).statusCode).toBe(404);
    expect((await t.as(b.key, { method: 'DELETE', url: `/api-keys/${b.keyId}` })).statusCode).toBe(200);
    const revoked = await t.as(b.key, { url: '/connections' });
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json()).toMatchObject({ code: 'AUTH_EXPIRED' });
  });

  it('installs, connects with encrypted credentials, and isolates tenants', async () => {
    const a = await t.createTenant();
    const b = await t.createTenant();
    const installed = await t.as(a.key, { method: 'POST', url: '/marketplace/install/stripe' });
    expect(installed.statusCode).toBe(201);
    const installationId = (installed.json() as { installation: { id: string } }).installation.id;
    const created = await t.as(a.key, { method: 'POST', url: '/connections', payload: { installationId, name: 'Main', credentials: { apiKey: 'sk_test_secret_value' } } });
    expect(created.statusCode).toBe(201);
    expect(created.body).not.toContain('sk_test_secret_value');
    expect((await t.as(b.key, { url: '/connections' })).json()).toEqual({ items: [] });
    const stored = await t.store.db.query<{ n: number }>("SELECT count(*)::int AS n FROM connectors.vault_secrets WHERE ciphertext LIKE '%sk_test%'");
    expect(stored.rows[0]!.n).toBe(0);
  });

  it('rejects bad input precisely', async () => {
    const { key } = await t.createTenant();
    const malformed = await t.as(key, { method: 'POST', url: '/api-keys', headers: { 'content-type': 'application/json' }, payload: '{' });
    expect(malformed.statusCode).toBe(400);
    const unknown = await t.as(key, { method: 'PUT', url: '/marketplace/connectors/stripe/rating', payload: { stars: 5, extra: true } });
    expect(unknown.json()).toMatchObject({ errors: [{ path: '/extra' }] });
  });
});
