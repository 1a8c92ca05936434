import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createVault, ExecutionError, type Runtime, type SandboxPool } from '@businessos/connector-runtime';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import { bootstrapPlatform } from '../bootstrap.ts';
import { loadConfig } from '../config.ts';
import { createTestPglite, type TestDb } from '../db/test-db.ts';
import { BUNDLED_CONNECTORS, seedBundledConnectors } from '../marketplace/seed.ts';
import { createPgVaultStore } from '../vault/pg-vault-store.ts';
import { allowLoopbackFromEnv, createDbConnectionStore, createDbUsageSink, createServiceRuntime, platformConfigFrom, type ServiceRuntime } from './service-runtime.ts';

// The HTTP side of execution with a scripted runtime: error mapping, Retry-After, connection status updates.
describe('execution routes with a scripted runtime (PGlite)', () => {
  let store: TestDb;
  let app: FastifyInstance;
  let admin: string;
  let tenant: { id: string; key: string };
  let connectionId: string;
  let next: () => Promise<unknown>;
  const meta = { executionId: 'x', durationMs: 3, attempts: 2, httpCalls: 2, bytesIn: 0, bytesOut: 0 };
  const runtime = {
    execute: () => next(),
    authenticate: () => next(),
  } as unknown as Runtime;
  const service: ServiceRuntime = { runtime, asTenant: (_t, fn) => fn(), background: () => {}, close: async () => {} };
  const as = (key: string, o: InjectOptions) => app.inject({ ...o, headers: { authorization: `Bearer ${key}`, ...o.headers } });

  beforeAll(async () => {
    store = await createTestPglite();
    const masterKey = randomBytes(32);
    const config = { ...loadConfig({ BOS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'bos-exec-')) }), masterKey };
    admin = (await bootstrapPlatform(store.db)).secret!;
    // Manifests only (no build) keep this test fast; the runtime is scripted anyway.
    await seedBundledConnectors(store.db, BUNDLED_CONNECTORS.map(({ packageName, load }) => ({ packageName, load })));
    const vault = createVault({ store: createPgVaultStore(store.db), masterKey });
    app = await buildApp({ config, db: store.db, vault, runtime: service });
    await app.ready();
    const created = (await as(admin, { method: 'POST', url: '/tenants', payload: { name: 'acme' } })).json() as { tenant: { id: string }; apiKey: { secret: string } };
    tenant = { id: created.tenant.id, key: created.apiKey.secret };
    const search = (await as(tenant.key, { method: 'GET', url: '/marketplace/search?q=stripe' })).json() as { results: { id: string; name: string }[] };
    const install = (await as(tenant.key, { method: 'POST', url: `/marketplace/install/${search.results.find((r) => r.name === 'stripe')!.id}`, payload: {} })).json() as {
      installation: { id: string };
      setup: { fields: { name: string; in: 'credentials' | 'fields'; required: boolean }[] };
    };
    const input: { credentials: Record<string, string>; fields: Record<string, string> } = { credentials: {}, fields: {} };
    for (const f of install.setup.fields.filter((f) => f.required)) input[f.in][f.name] = 'sk_test_123';
    const conn = await as(tenant.key, { method: 'POST', url: '/connections', payload: { installationId: install.installation.id, name: 'main', ...input } });
    expect(conn.statusCode, conn.body).toBe(201);
    connectionId = (conn.json() as { id: string }).id;
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await store?.dispose();
  });

  it('maps a rate-limited execution to 429 problem+json with Retry-After and records it as failed', async () => {
    next = () => Promise.reject(new ExecutionError({ code: 'RATE_LIMITED', message: 'slow down', retryAfter: 7 }, meta));
    const res = await as(tenant.key, { method: 'POST', url: '/connectors/stripe/execute', payload: { action: 'listCustomers', params: {}, connection: connectionId } });
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ code: 'RATE_LIMITED' });
    const view = await as(tenant.key, { method: 'GET', url: `/executions/${res.headers['x-execution-id'] as string}` });
    expect(view.json()).toMatchObject({ status: 'failed', error: { code: 'RATE_LIMITED', retryAfter: 7 }, meta: { attempts: 2, httpCalls: 2 } });
  });

  it('answers data with the API execution id and runtime meta', async () => {
    next = () => Promise.resolve({ data: { ok: 1 }, meta });
    const res = await as(tenant.key, { method: 'POST', url: '/connectors/stripe/execute', payload: { action: 'listCustomers', connection: connectionId } });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { data: unknown; meta: { executionId: string; attempts: number } };
    expect(body).toMatchObject({ data: { ok: 1 }, meta: { attempts: 2, httpCalls: 2, durationMs: 3 } });
    expect(body.meta.executionId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('404s for a connector the connection does not belong to, and for a malformed body 400s', async () => {
    next = () => Promise.resolve({ data: null, meta });
    expect((await as(tenant.key, { method: 'POST', url: '/connectors/slack/execute', payload: { action: 'x', connection: connectionId } })).statusCode).toBe(404);
    const bad = await as(tenant.key, { method: 'POST', url: '/connectors/stripe/execute', payload: { action: 'x', connection: 'nope' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('connection test records needs_reauth when the credentials are refused, ok when they work', async () => {
    next = () => Promise.reject(new ExecutionError({ code: 'AUTH_FAILED', message: 'bad key' }, meta));
    expect((await as(tenant.key, { method: 'POST', url: `/connections/${connectionId}/test` })).json()).toMatchObject({ ok: false, status: 'needs_reauth', error: { code: 'AUTH_FAILED' } });
    const listed = (await as(tenant.key, { method: 'GET', url: '/connections' })).json() as { items: { id: string; status: string; statusDetail: string | null }[] };
    expect(listed.items.find((c) => c.id === connectionId)).toMatchObject({ status: 'needs_reauth', statusDetail: 'bad key' });
    next = () => Promise.resolve({ data: { ok: true, checked: true }, meta });
    expect((await as(tenant.key, { method: 'POST', url: `/connections/${connectionId}/test` })).json()).toEqual({ ok: true, status: 'ok', checked: true });
  });

  it('the node catalogue labels actions "<Connector>: <Action>"', async () => {
    const nodes = (await as(tenant.key, { method: 'GET', url: '/connectors/nodes' })).json() as { items: { connector: string; kind: string; label: string }[] };
    expect(nodes.items.length).toBeGreaterThan(0);
    expect(nodes.items.every((n) => n.connector === 'stripe' && n.label.startsWith('Stripe: '))).toBe(true);
  });

  it('the ConnectionStore marks needs_reauth and the usage sink writes under the tenant', async () => {
    await createDbConnectionStore(store.db).markNeedsReauth(tenant.id, connectionId, 'refresh token revoked');
    const { rows } = await store.db.query<{ status: string; status_detail: string }>('SELECT status, status_detail FROM connectors.connections WHERE id = $1', [connectionId]);
    expect(rows[0]).toEqual({ status: 'needs_reauth', status_detail: 'refresh token revoked' });
    await createDbUsageSink(store.db).write([
      { executionId: 'e1', tenant: tenant.id, connector: 'stripe', version: '1.0.0', action: 'listCustomers', status: 'error', code: 'RATE_LIMITED', durationMs: 12.4, attempts: 3, httpCalls: 3, bytesIn: 0, bytesOut: 0, startedAt: Date.now() },
    ]);
    const usage = (await as(tenant.key, { method: 'GET', url: '/usage?groupBy=action' })).json() as { items: { key: string; executions: number; errors: number }[] };
    expect(usage.items).toContainEqual(expect.objectContaining({ key: 'stripe.listCustomers', executions: 1, errors: 1 }));
  });

  it('loopback egress is off unless BOS_EGRESS_ALLOW_LOOPBACK=1; OAuth apps come from BOS_OAUTH_APPS', () => {
    expect(allowLoopbackFromEnv({})).toBe(false);
    expect(allowLoopbackFromEnv({ BOS_EGRESS_ALLOW_LOOPBACK: 'true' })).toBe(false);
    expect(allowLoopbackFromEnv({ BOS_EGRESS_ALLOW_LOOPBACK: '1' })).toBe(true);
    const lookup = platformConfigFrom(loadConfig({ BOS_OAUTH_APPS: '{"shopify":{"client_id":"cid"}}' }));
    expect(lookup('shopify', 'client_id')).toBe('cid');
    expect(lookup('stripe', 'client_id')).toBeUndefined();
  });

  it('closing the service runtime waits for accepted async executions', async () => {
    const sandbox = { close: async () => {} } as unknown as SandboxPool;
    const vault = createVault({ store: createPgVaultStore(store.db), masterKey: randomBytes(32) });
    const rt = createServiceRuntime({ db: store.db, vault, config: loadConfig({}), sandbox });
    let finish!: () => void;
    let finished = false;
    rt.background(new Promise<void>((resolve) => (finish = resolve)).then(() => (finished = true)));
    const closed = rt.close();
    setTimeout(() => finish(), 20);
    await closed;
    expect(finished).toBe(true);
  });
});
