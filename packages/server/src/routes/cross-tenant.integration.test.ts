import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSandboxPool, createVault, type SandboxPool } from '@businessos/connector-runtime';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import { bootstrapPlatform } from '../bootstrap.ts';
import { loadConfig } from '../config.ts';
import { testEngines } from '../db/engines.ts';
import type { TestDb } from '../db/test-db.ts';
import { createServiceRuntime, type ServiceRuntime } from '../execution/service-runtime.ts';
import { seedBundledConnectors } from '../marketplace/seed.ts';
import { createTriggerService, type TriggerService } from '../triggers/trigger-service.ts';
import { createPgVaultStore } from '../vault/pg-vault-store.ts';

// A hostile tenant B holding the ids of tenant A's objects: every route that takes one must answer 404 with the
// problem envelope (403 for a role the key lacks), say nothing about A's object, and leave it as it was.

interface Tenant {
  tenantId: string;
  key: string;
  keyId: string;
}

interface Owned extends Tenant {
  installationId: string;
  connectionId: string;
  subscriptionId: string;
  eventId: string;
  executionId: string;
  privateId: string;
  submissionId: string;
}

const PRIVATE_NAME = 'acme-internal';

for (const engine of testEngines(process.env)) {
  const suite = engine.create ? describe : describe.skip;
  suite(`cross-tenant isolation on ${engine.name}${engine.skipReason ? ` (skipped: ${engine.skipReason})` : ''}`, () => {
    let store: TestDb;
    let app: FastifyInstance;
    let sandbox: SandboxPool;
    let runtime: ServiceRuntime;
    let triggers: TriggerService;
    let adminKey: string;
    let dataDir: string | undefined;
    let a: Owned;
    let b: Tenant;
    const as = (key: string | undefined, inject: InjectOptions): Promise<LightMyRequestResponse> =>
      app.inject({ ...inject, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...inject.headers } });

    async function tenant(name: string): Promise<Tenant> {
      const res = await as(adminKey, { method: 'POST', url: '/tenants', payload: { name } });
      expect(res.statusCode, res.body).toBe(201);
      const body = res.json() as { tenant: { id: string }; apiKey: { id: string; secret: string } };
      return { tenantId: body.tenant.id, key: body.apiKey.secret, keyId: body.apiKey.id };
    }

    /** Everything of A's that B's requests could change, read as the store's owner. */
    async function snapshotOfA(): Promise<unknown> {
      const q = async (sql: string) => (await store.db.query(sql, [a.tenantId])).rows;
      return {
        keys: await q('SELECT id, roles, revoked_at FROM connectors.api_keys WHERE tenant_id = $1 ORDER BY id'),
        installations: await q('SELECT id, connector_id, version, updated_at FROM connectors.installations WHERE tenant_id = $1 ORDER BY id'),
        connections: await q('SELECT id, name, fields, status, status_detail, updated_at FROM connectors.connections WHERE tenant_id = $1 ORDER BY id'),
        secrets: await q('SELECT connection_id, ciphertext FROM connectors.vault_secrets WHERE tenant_id = $1 ORDER BY connection_id'),
        subscriptions: await q('SELECT id, status, updated_at FROM connectors.trigger_subscriptions WHERE tenant_id = $1 ORDER BY id'),
        events: await q('SELECT id, acked_at FROM connectors.trigger_events WHERE tenant_id = $1 ORDER BY id'),
        executions: await q('SELECT id, status FROM connectors.executions WHERE tenant_id = $1 ORDER BY id'),
        listings: await q('SELECT id, installs, rating_sum, rating_count, approved FROM connectors.marketplace WHERE tenant_id = $1 ORDER BY id'),
        ratings: await q('SELECT connector_id, stars FROM connectors.ratings WHERE tenant_id = $1 ORDER BY connector_id'),
        submissions: await q('SELECT id, status FROM connectors.submissions WHERE tenant_id = $1 ORDER BY id'),
      };
    }

    /** Asserts a 404 problem that names nothing of A's but the id B sent itself. */
    function expectHidden(res: LightMyRequestResponse, label: string, url: string): void {
      expect.soft(res.statusCode, `${label}: ${res.body}`).toBe(404);
      expect.soft(res.headers['content-type'], label).toMatch(/^application\/problem\+json/);
      expect.soft(res.json(), label).toMatchObject({ status: 404, code: 'NOT_FOUND' });
      // What B sent itself (a name it guessed) may be echoed; nothing else of A's may appear.
      for (const secret of [a.tenantId, PRIVATE_NAME, 'sk_live_tenant_a_secret', 'Tenant A main']) if (!url.includes(secret)) expect.soft(res.body, label).not.toContain(secret);
    }

    beforeAll(async () => {
      store = await engine.create!();
      const masterKey = randomBytes(32);
      dataDir = mkdtempSync(path.join(tmpdir(), 'bos-xtenant-'));
      const config = { ...loadConfig({ BOS_DATA_DIR: dataDir }), masterKey };
      const boot = await bootstrapPlatform(store.db);
      adminKey = boot.secret!;
      const failed = (await seedBundledConnectors(store.db)).filter((o) => o.status === 'failed');
      if (failed.length > 0) throw new Error(`seeding failed: ${failed.map((f) => f.error).join('; ')}`);
      const vault = createVault({ store: createPgVaultStore(store.db), masterKey });
      sandbox = createSandboxPool({ workers: 1 });
      runtime = createServiceRuntime({ db: store.db, vault, config, sandbox });
      triggers = createTriggerService({ db: store.db, runtime, vault, config });
      app = await buildApp({ config, db: store.db, vault, runtime, triggers });
      await app.ready();

      const ta = await tenant('tenant-a');
      b = await tenant('tenant-b');
      const installed = await as(ta.key, { method: 'POST', url: '/marketplace/install/stripe' });
      expect(installed.statusCode, installed.body).toBe(201);
      const installationId = (installed.json() as { installation: { id: string } }).installation.id;
      const connected = await as(ta.key, { method: 'POST', url: '/connections', payload: { installationId, name: 'Tenant A main', credentials: { token: 'sk_live_tenant_a_secret' } } });
      expect(connected.statusCode, connected.body).toBe(201);
      const connectionId = (connected.json() as { id: string }).id;
      // B has its own of everything too, so "empty because B has nothing" cannot pass for isolation.
      const bInstalled = await as(b.key, { method: 'POST', url: '/marketplace/install/stripe' });
      const bInstallation = (bInstalled.json() as { installation: { id: string } }).installation.id;
      expect((await as(b.key, { method: 'POST', url: '/connections', payload: { installationId: bInstallation, name: 'B', credentials: { token: 'sk_b' } } })).statusCode).toBe(201);

      // Rows the API only writes after talking to a provider or a sandbox, written as the service would.
      const owned = await store.db.withTenant(ta.tenantId, async (tx) => {
        const sub = await tx.query<{ id: string }>(
          `INSERT INTO connectors.trigger_subscriptions (tenant_id, connection_id, trigger_name, kind, status, webhook_token)
           VALUES ($1, $2, 'newCustomer', 'webhook', 'active', $3) RETURNING id`,
          [ta.tenantId, connectionId, randomBytes(32).toString('base64url')],
        );
        const subscriptionId = sub.rows[0]!.id;
        const ev = await tx.query<{ id: string }>(
          `INSERT INTO connectors.trigger_events (position, tenant_id, subscription_id, key, payload)
           VALUES (nextval('connectors.trigger_event_position'), $1, $2, 'cus_1', '{"email":"a@example.com"}') RETURNING id`,
          [ta.tenantId, subscriptionId],
        );
        const executionId = randomUUID();
        await tx.query(
          `INSERT INTO connectors.executions (id, tenant_id, connection_id, connector_name, connector_version, action, status, result)
           VALUES ($1, $2, $3, 'stripe', '1.0.0', 'createCustomer', 'succeeded', '{"id":"cus_1"}')`,
          [executionId, ta.tenantId, connectionId],
        );
        await tx.query(`INSERT INTO connectors.usage_records (tenant_id, connector_name, action, connection_id, status, duration_ms) VALUES ($1, 'stripe', 'createCustomer', $2, 'ok', 42)`, [ta.tenantId, connectionId]);
        return { subscriptionId, eventId: ev.rows[0]!.id, executionId };
      });
      // A private connector of A's: stripe's published version under another name, visible to A alone.
      const priv = await store.db.query<{ id: string; version_id: string }>(
        `WITH m AS (
           INSERT INTO connectors.marketplace (tenant_id, name, description, npm_package, category, version, approved, display_name, keywords)
           SELECT $1, $2, 'Internal billing bridge', '@acme/internal', category, version, true, 'Acme Internal', keywords
           FROM connectors.marketplace WHERE name = 'stripe' AND tenant_id IS NULL RETURNING id, version
         ), v AS (
           INSERT INTO connectors.connector_versions (connector_id, tenant_id, version, manifest, artifact_sha256, status, published_at)
           SELECT m.id, $1, v.version, v.manifest, v.artifact_sha256, 'published', now()
           FROM m, connectors.connector_versions v JOIN connectors.marketplace g ON g.id = v.connector_id AND g.name = 'stripe' AND g.tenant_id IS NULL
           WHERE v.version = m.version RETURNING id, connector_id
         )
         SELECT v.connector_id AS id, v.id AS version_id FROM v`,
        [ta.tenantId, PRIVATE_NAME],
      );
      const privateId = priv.rows[0]!.id;
      const sub = await store.db.query<{ id: string }>(
        `INSERT INTO connectors.submissions (tenant_id, connector_id, version_id, status) VALUES ($1, $2, $3, 'approved') RETURNING id`,
        [ta.tenantId, privateId, priv.rows[0]!.version_id],
      );
      a = { ...ta, installationId, connectionId, ...owned, privateId, submissionId: sub.rows[0]!.id };
    }, 180_000);

    afterAll(async () => {
      await app?.close();
      await triggers?.close();
      await runtime?.close();
      await sandbox?.close();
      await store?.dispose();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    it("A sees its own objects (so the 404s below are about B, not missing data)", async () => {
      expect((await as(a.key, { url: `/executions/${a.executionId}` })).statusCode).toBe(200);
      expect((await as(a.key, { url: `/connections/${a.connectionId}/triggers` })).json()).toMatchObject({ items: [{ id: a.subscriptionId }] });
      expect((await as(a.key, { url: '/events' })).json()).toMatchObject({ items: [{ id: a.eventId }] });
      expect((await as(a.key, { url: `/marketplace/connectors/${a.privateId}` })).statusCode).toBe(200);
      expect((await as(a.key, { url: `/marketplace/connectors/${PRIVATE_NAME}` })).statusCode).toBe(200);
      expect((await as(a.key, { url: `/marketplace/submissions/${a.submissionId}` })).statusCode).toBe(200);
    });

    it("B gets 404 on every route that takes one of A's ids, and A's objects are unchanged", async () => {
      const before = await snapshotOfA();
      const upper = a.connectionId.toUpperCase();
      const attempts: [string, InjectOptions][] = [
        ['revoke key', { method: 'DELETE', url: `/api-keys/${a.keyId}` }],
        ['revoke key (upper-case)', { method: 'DELETE', url: `/api-keys/${a.keyId.toUpperCase()}` }],
        ['uninstall', { method: 'DELETE', url: `/installations/${a.installationId}` }],
        ['connect to installation', { method: 'POST', url: '/connections', payload: { installationId: a.installationId, name: 'stolen', credentials: { token: 'x' } } }],
        ['delete connection', { method: 'DELETE', url: `/connections/${a.connectionId}` }],
        ['delete connection (upper-case)', { method: 'DELETE', url: `/connections/${upper}` }],
        ['delete connection (url-encoded)', { method: 'DELETE', url: `/connections/${encodeURIComponent(a.connectionId).replace(/-/g, '%2D')}` }],
        ['test connection', { method: 'POST', url: `/connections/${a.connectionId}/test` }],
        ['test connection (upper-case)', { method: 'POST', url: `/connections/${upper}/test` }],
        ['execute with connection', { method: 'POST', url: '/connectors/stripe/execute', payload: { action: 'createCustomer', params: { email: 'x@example.com' }, connection: a.connectionId } }],
        ['execute with connection async', { method: 'POST', url: '/connectors/stripe/execute?async=true', payload: { action: 'createCustomer', params: { email: 'x@example.com' }, connection: a.connectionId } }],
        ['list connection triggers', { method: 'GET', url: `/connections/${a.connectionId}/triggers` }],
        ['list connection triggers (upper-case)', { method: 'GET', url: `/connections/${upper}/triggers` }],
        ['enable trigger', { method: 'POST', url: `/connections/${a.connectionId}/triggers`, payload: { trigger: 'newCustomer' } }],
        ['test trigger', { method: 'POST', url: `/connections/${a.connectionId}/triggers/test`, payload: { trigger: 'newCustomer' } }],
        ['disable trigger', { method: 'DELETE', url: `/connections/${a.connectionId}/triggers/${a.subscriptionId}` }],
        ['read execution', { method: 'GET', url: `/executions/${a.executionId}` }],
        ['read execution (upper-case)', { method: 'GET', url: `/executions/${a.executionId.toUpperCase()}` }],
        ['private detail by id', { method: 'GET', url: `/marketplace/connectors/${a.privateId}` }],
        ['private detail by name', { method: 'GET', url: `/marketplace/connectors/${PRIVATE_NAME}` }],
        ['private versions', { method: 'GET', url: `/marketplace/connectors/${a.privateId}/versions` }],
        ['private docs', { method: 'GET', url: `/marketplace/connectors/${a.privateId}/docs` }],
        ['private reviews', { method: 'GET', url: `/marketplace/connectors/${a.privateId}/reviews` }],
        ['rate private', { method: 'PUT', url: `/marketplace/connectors/${a.privateId}/rating`, payload: { stars: 1 } }],
        ['install private', { method: 'POST', url: `/marketplace/install/${a.privateId}` }],
        ['install private by name', { method: 'POST', url: `/marketplace/install/${PRIVATE_NAME}` }],
        ['submission', { method: 'GET', url: `/marketplace/submissions/${a.submissionId}` }],
        ['deprecate private', { method: 'POST', url: `/marketplace/connectors/${a.privateId}/deprecate`, payload: { message: 'gone' } }],
      ];
      for (const [label, inject] of attempts) expectHidden(await as(b.key, inject), label, inject.url as string);
      // The name of A's private connector answers exactly as a name nobody has.
      const guessed = (await as(b.key, { url: `/marketplace/connectors/${PRIVATE_NAME}` })).json() as { detail: string };
      const nobody = (await as(b.key, { url: '/marketplace/connectors/acme-nobody' })).json() as { detail: string };
      expect(guessed.detail.replace(PRIVATE_NAME, 'NAME')).toBe(nobody.detail.replace('acme-nobody', 'NAME'));
      // Other spellings of A's ids are refused as input or not found, never served.
      for (const spelling of [`{${a.connectionId}}`, `%7B${a.executionId}%7D`, `%20${a.executionId}`, `${a.executionId}%00`]) {
        for (const url of [`/connections/${spelling}/triggers`, `/executions/${spelling}`, `/events?subscription=${spelling}`]) {
          const res = await as(b.key, { url });
          expect([400, 404], `${url}: ${res.body}`).toContain(res.statusCode);
          expect(res.headers['content-type'], url).toMatch(/^application\/problem\+json/);
        }
      }
      expect(await snapshotOfA()).toEqual(before);
    });

    it("B's lists, filters, search and facets show none of A's rows", async () => {
      const before = await snapshotOfA();
      const events = await as(b.key, { url: `/events?subscription=${a.subscriptionId}` });
      expect(events.json()).toEqual({ items: [], next: null });
      expect((await as(b.key, { url: '/events?after=0&limit=1000' })).json()).toEqual({ items: [], next: '0' });
      const acked = await as(b.key, { method: 'POST', url: '/events/ack', payload: { ids: [a.eventId] } });
      expect(acked.json()).toEqual({ acked: 0 });
      expect((await as(b.key, { url: '/triggers' })).json()).toEqual({ items: [] });
      const keys = (await as(b.key, { url: '/api-keys' })).json() as { items: { id: string }[] };
      expect(keys.items.map((k) => k.id)).toEqual([b.keyId]);
      const conns = (await as(b.key, { url: '/connections' })).json() as { items: { id: string }[] };
      expect(conns.items.map((c) => c.id)).not.toContain(a.connectionId);
      const installs = (await as(b.key, { url: '/installations' })).json() as { items: { id: string }[] };
      expect(installs.items.map((i) => i.id)).not.toContain(a.installationId);
      expect((await as(b.key, { url: '/usage' })).json()).toMatchObject({ items: [] });
      expect((await as(a.key, { url: '/usage' })).json()).toMatchObject({ items: [{ key: 'stripe', executions: 1 }] });
      const subs = (await as(b.key, { url: '/marketplace/submissions' })).json() as { items: { id: string }[] };
      expect(subs.items.map((s) => s.id)).not.toContain(a.submissionId);
      for (const reader of [b.key, undefined]) {
        for (const q of ['acme', 'internal', 'billing', 'bridge']) {
          const mine = await as(a.key, { url: `/marketplace/search?q=${q}` });
          expect(mine.body, `A finds its own listing for ${q}`).toContain(a.privateId);
          const res = await as(reader, { url: `/marketplace/search?q=${q}` });
          expect(res.statusCode).toBe(200);
          expect(res.body, q).not.toContain(a.privateId);
          expect(res.body, q).not.toContain(PRIVATE_NAME);
          // A's private listing is the only match: counts and facets must be those of no match at all.
          const body = res.json() as { total?: number; facets?: unknown };
          if (body.total !== undefined) expect(body.total, `total for ${q}`).toBe(0);
          if (body.facets !== undefined) expect(JSON.stringify(body.facets), `facets for ${q}`).not.toMatch(/[1-9]/);
        }
      }
      expect(await snapshotOfA()).toEqual(before);
    });

    it('a tenant admin cannot act as reviewer or create tenants (403 problem)', async () => {
      const attempts: [string, InjectOptions][] = [
        ['create tenant', { method: 'POST', url: '/tenants', payload: { name: 'rogue' } }],
        ['approve', { method: 'POST', url: `/marketplace/submissions/${a.submissionId}/approve`, payload: {} }],
        ['reject', { method: 'POST', url: `/marketplace/submissions/${a.submissionId}/reject`, payload: { notes: 'no' } }],
        ['mint reviewer key', { method: 'POST', url: '/api-keys', payload: { name: 'r', roles: ['reviewer'] } }],
      ];
      for (const [label, inject] of attempts) {
        const res = await as(b.key, inject);
        expect(res.statusCode, `${label}: ${res.body}`).toBe(403);
        expect(res.json(), label).toMatchObject({ code: 'FORBIDDEN' });
      }
      const tenants = await store.db.query<{ n: number }>("SELECT count(*)::int AS n FROM connectors.tenants WHERE name = 'rogue'");
      expect(tenants.rows[0]!.n).toBe(0);
      const publisherOnly = await as(b.key, { method: 'POST', url: '/api-keys', payload: { name: 'p', roles: ['publisher'] } });
      const secret = (publisherOnly.json() as { secret: string }).secret;
      expect((await as(secret, { method: 'DELETE', url: `/connections/${a.connectionId}` })).statusCode).toBe(403);
      expect((await as(secret, { url: '/api-keys' })).statusCode).toBe(403);
    });

    it('a revoked key stops working at once', async () => {
      const made = await as(b.key, { method: 'POST', url: '/api-keys', payload: { name: 'short-lived', roles: ['tenant_admin'] } });
      const { id, secret } = made.json() as { id: string; secret: string };
      expect((await as(secret, { url: '/connections' })).statusCode).toBe(200);
      expect((await as(b.key, { method: 'DELETE', url: `/api-keys/${id}` })).statusCode).toBe(200);
      const after = await as(secret, { url: '/connections' });
      expect(after.statusCode).toBe(401);
      expect(after.json()).toMatchObject({ code: 'AUTH_EXPIRED' });
      expect((await as(secret, { method: 'POST', url: '/api-keys', payload: { name: 'x', roles: ['tenant_admin'] } })).statusCode).toBe(401);
    });
  });
}
