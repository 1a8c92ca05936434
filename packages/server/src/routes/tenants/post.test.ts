import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../test-app.ts';

describe('POST /tenants and API keys', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('creates a tenant and shows its first key once', async () => {
    const res = await t.as(t.adminKey, { method: 'POST', url: '/tenants', payload: { name: 'Acme' } });
    expect(res.statusCode).toBe(201);
    const body = res.json() as { tenant: { id: string; name: string }; apiKey: { secret: string; roles: string[]; prefix: string } };
    expect(body.tenant.name).toBe('Acme');
    expect(body.apiKey.secret).toMatch(/^bos_/);
    expect(body.apiKey.roles).toEqual(['tenant_admin', 'publisher']);
    expect(body.apiKey.secret.startsWith(body.apiKey.prefix)).toBe(true);

    const list = await t.as(body.apiKey.secret, { url: '/api-keys' });
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain(body.apiKey.secret);
    expect((list.json() as { items: unknown[] }).items).toHaveLength(1);
  });

  it('requires a key: missing → 401, unknown → 401', async () => {
    const missing = await t.as(undefined, { method: 'POST', url: '/tenants', payload: { name: 'x' } });
    expect(missing.statusCode).toBe(401);
    expect(missing.json()).toMatchObject({ code: 'AUTH_FAILED', type: expect.stringContaining('api-key-missing') });
    const wrong = await t.as('bos_notarealkey', { method: 'POST', url: '/tenants', payload: { name: 'x' } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ code: 'AUTH_FAILED', type: expect.stringContaining('api-key-invalid') });
  });

  it('accepts the X-Api-Key header too', async () => {
    const res = await t.app.inject({ url: '/api-keys', headers: { 'x-api-key': t.adminKey } });
    expect(res.statusCode).toBe(200);
  });

  it('refuses tenant creation to a tenant admin without the reviewer role (403)', async () => {
    const { key } = await t.createTenant();
    const res = await t.as(key, { method: 'POST', url: '/tenants', payload: { name: 'x' } });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ code: 'FORBIDDEN', detail: expect.stringContaining('reviewer') });
  });

  it('creates, lists and revokes keys; a revoked key gets 401 api-key-revoked', async () => {
    const { key } = await t.createTenant();
    const created = await t.as(key, { method: 'POST', url: '/api-keys', payload: { name: 'ci', roles: ['publisher'] } });
    expect(created.statusCode).toBe(201);
    const ci = created.json() as { id: string; secret: string };

    // A publisher-only key cannot manage keys.
    const forbidden = await t.as(ci.secret, { url: '/api-keys' });
    expect(forbidden.statusCode).toBe(403);

    const revoked = await t.as(key, { method: 'DELETE', url: `/api-keys/${ci.id}` });
    expect(revoked.statusCode).toBe(200);
    expect((revoked.json() as { revokedAt: string | null }).revokedAt).not.toBeNull();

    const after = await t.as(ci.secret, { url: '/api-keys' });
    expect(after.statusCode).toBe(401);
    expect(after.json()).toMatchObject({ code: 'AUTH_EXPIRED', type: expect.stringContaining('api-key-revoked') });
  });

  it('answers 404 for another tenant\'s key', async () => {
    const a = await t.createTenant();
    const b = await t.createTenant();
    const res = await t.as(a.key, { method: 'DELETE', url: `/api-keys/${b.keyId}` });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'NOT_FOUND' });
    // B's key still works.
    expect((await t.as(b.key, { url: '/api-keys' })).statusCode).toBe(200);
  });

  it('keeps the reviewer role for the platform tenant', async () => {
    const { key } = await t.createTenant();
    const res = await t.as(key, { method: 'POST', url: '/api-keys', payload: { name: 'x', roles: ['reviewer'] } });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ errors: [{ path: '/roles' }] });
  });

  it('rejects bad input on key routes', async () => {
    const { key } = await t.createTenant();
    const badRole = await t.as(key, { method: 'POST', url: '/api-keys', payload: { name: 'x', roles: ['god'] } });
    expect(badRole.statusCode).toBe(400);
    expect(badRole.json()).toMatchObject({ errors: [{ path: '/roles/0', message: expect.stringContaining('tenant_admin') }] });
    const notUuid = await t.as(key, { method: 'DELETE', url: '/api-keys/not-a-uuid' });
    expect(notUuid.statusCode).toBe(400);
    expect(notUuid.json()).toMatchObject({ errors: [{ path: '/id', in: 'params' }] });
  });

  it('audits key creation and revocation', async () => {
    const { tenantId } = await t.createTenant();
    const { rows } = await t.store.db.query<{ action: string }>('SELECT action FROM connectors.audit_log WHERE tenant_id = $1', [tenantId]);
    expect(rows.map((r) => r.action)).toContain('api_key.create');
  });
});
