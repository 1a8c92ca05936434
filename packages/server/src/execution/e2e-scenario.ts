// The end-to-end scenario of the service as a new user meets it, shared by the PGlite test and the PostgreSQL
// integration test: empty store → bundled connectors in search → publish → review → install → connect → execute
// against a loopback mock API → usage → tenant isolation.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSandboxPool, createVault, type SandboxPool } from '@businessos/connector-runtime';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { buildApp } from '../app.ts';
import { bootstrapPlatform } from '../bootstrap.ts';
import { loadConfig } from '../config.ts';
import type { TestDb } from '../db/test-db.ts';
import { seedBundledConnectors } from '../marketplace/seed.ts';
import type { SubmissionView } from '../publishing/store.ts';
import { packConnector, scaffoldConnector } from '../publishing/test-support.ts';
import { createPgVaultStore } from '../vault/pg-vault-store.ts';
import { createServiceRuntime, type ServiceRuntime } from './service-runtime.ts';

/** A loopback mock of the scaffolded REST API that records what the host sent it. */
export interface MockApi {
  url: string;
  requests: { method: string; path: string; authorization: string | undefined; body: string }[];
  close(): Promise<void>;
}

/** Starts the mock on 127.0.0.1: `GET /v2/items`, `POST /v2/items` (201 with the created item). */
export async function startMockApi(): Promise<MockApi> {
  const requests: MockApi['requests'] = [];
  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
  const server: Server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      requests.push({ method: req.method ?? 'GET', path: url.pathname, authorization: req.headers.authorization, body });
      res.setHeader('content-type', 'application/json');
      if (req.method === 'POST' && url.pathname === '/v2/items') {
        const given = JSON.parse(body || '{}') as { name?: string };
        res.statusCode = 201;
        res.end(JSON.stringify({ id: 'i_42', name: given.name ?? '' }));
      } else if (req.method === 'GET' && url.pathname === '/v2/items') {
        res.end(JSON.stringify({ items: [] }));
      } else {
        res.statusCode = 404;
        res.end(JSON.stringify({ message: 'no such route' }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The service as started for the scenario: seeded catalogue, vault, runtime with test-only loopback egress. */
export interface E2eService {
  app: FastifyInstance;
  adminKey: string;
  runtime: ServiceRuntime;
  as(key: string | undefined, options: InjectOptions): Promise<LightMyRequestResponse>;
  createTenant(name: string): Promise<{ tenantId: string; key: string }>;
  close(): Promise<void>;
}

/** Starts the service on an empty, migrated `store` the way `startServer` wires it. */
export async function startE2eService(store: TestDb): Promise<E2eService> {
  const masterKey = randomBytes(32);
  const config = { ...loadConfig({ BOS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'bos-e2e-')) }), masterKey };
  const boot = await bootstrapPlatform(store.db);
  if (!boot.secret) throw new Error('the e2e scenario needs an empty store');
  const seeded = await seedBundledConnectors(store.db);
  const failed = seeded.filter((o) => o.status === 'failed');
  if (failed.length > 0) throw new Error(`seeding failed: ${failed.map((f) => `${f.packageName}: ${f.error}`).join('; ')}`);
  const vault = createVault({ store: createPgVaultStore(store.db), masterKey });
  const sandbox: SandboxPool = createSandboxPool({ workers: 1 });
  // Loopback egress is the explicit test-only switch (BOS_EGRESS_ALLOW_LOOPBACK=1 in a real start).
  const runtime = createServiceRuntime({ db: store.db, vault, config, allowLoopback: true, sandbox });
  const app = await buildApp({ config, db: store.db, vault, runtime });
  await app.ready();
  const as = (key: string | undefined, inject: InjectOptions) =>
    app.inject({ ...inject, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...inject.headers } });
  return {
    app,
    adminKey: boot.secret,
    runtime,
    as,
    async createTenant(name) {
      const res = await as(boot.secret!, { method: 'POST', url: '/tenants', payload: { name } });
      if (res.statusCode !== 201) throw new Error(`createTenant failed: ${res.statusCode} ${res.body}`);
      const body = res.json() as { tenant: { id: string }; apiKey: { secret: string } };
      return { tenantId: body.tenant.id, key: body.apiKey.secret };
    },
    async close() {
      await app.close();
      await runtime.close();
      await sandbox.close();
    },
  };
}

interface SearchResult {
  id: string;
  name: string;
}

/** Runs the whole scenario against `s`, asserting every step. */
export async function runE2eScenario(s: E2eService, mock: MockApi, name = 'e2eitems'): Promise<void> {
  // 1. The bundled connectors are in search on a fresh start.
  const reader = await s.createTenant('reader');
  for (const bundled of ['shopify', 'stripe', 'slack']) {
    const res = await s.as(reader.key, { method: 'GET', url: `/marketplace/search?q=${bundled}` });
    expect(res.statusCode, res.body).toBe(200);
    const hit = (res.json() as { results: (SearchResult & { latestVersion: string })[] }).results.find((r) => r.name === bundled);
    expect(hit, res.body).toBeDefined();
    // Seeded with its built bundle as the version's artifact, so it loads in the sandbox like a published one.
    const loaded = await s.runtime.runtime.load(bundled, hit!.latestVersion);
    expect(loaded.manifest.name).toBe(bundled);
    expect(loaded.sha256).toMatch(/^[0-9a-f]{64}$/);
  }

  // 2. A publisher packs and publishes a connector whose API is the loopback mock; the reviewer approves it.
  const publisher = await s.createTenant('publisher');
  const dir = await scaffoldConnector(name);
  const index = path.join(dir, 'src', 'index.ts');
  writeFileSync(index, readFileSync(index, 'utf8').replace(/baseUrl: '[^']+'/, `baseUrl: '${mock.url}/v2'`));
  const tgz = await packConnector(dir);
  const submitted = await s.as(publisher.key, { method: 'POST', url: '/marketplace/submissions', headers: { 'content-type': 'application/gzip' }, payload: tgz });
  expect(submitted.statusCode, submitted.body).toBe(201);
  const submission = submitted.json() as SubmissionView;
  const approved = await s.as(s.adminKey, { method: 'POST', url: `/marketplace/submissions/${submission.id}/approve`, payload: { notes: 'ok' } });
  expect(approved.statusCode, approved.body).toBe(200);

  // 3. A tenant finds it, installs it and connects with its API key.
  const tenant = await s.createTenant('tenant-a');
  const found = await s.as(tenant.key, { method: 'GET', url: `/marketplace/search?q=${name}` });
  const listing = (found.json() as { results: SearchResult[] }).results.find((r) => r.name === name);
  expect(listing, found.body).toBeDefined();
  const installed = await s.as(tenant.key, { method: 'POST', url: `/marketplace/install/${listing!.id}`, payload: {} });
  expect(installed.statusCode, installed.body).toBeLessThan(300);
  const installation = (installed.json() as { installation: { id: string; version: string } }).installation;
  expect(installation.version).toBe('0.1.0');
  const secret = 'sk_e2e_0123456789';
  const connected = await s.as(tenant.key, { method: 'POST', url: '/connections', payload: { installationId: installation.id, name: 'main', credentials: { apiKey: secret } } });
  expect(connected.statusCode, connected.body).toBe(201);
  const connectionId = (connected.json() as { id: string }).id;

  // 4. Test the connection, then execute an action against the mock: the host added the key, not the connector.
  const tested = await s.as(tenant.key, { method: 'POST', url: `/connections/${connectionId}/test` });
  expect(tested.statusCode, tested.body).toBe(200);
  expect(tested.json()).toMatchObject({ ok: true, status: 'ok' });
  const executed = await s.as(tenant.key, { method: 'POST', url: `/connectors/${name}/execute`, payload: { action: 'createItem', params: { name: 'Widget' }, connection: connectionId } });
  expect(executed.statusCode, executed.body).toBe(200);
  const result = executed.json() as { data: { id: string; name: string }; meta: { executionId: string; attempts: number; httpCalls: number; durationMs: number } };
  expect(result.data).toEqual({ id: 'i_42', name: 'Widget' });
  expect(result.meta).toMatchObject({ attempts: 1, httpCalls: 1 });
  const post = mock.requests.find((r) => r.method === 'POST');
  expect(post).toMatchObject({ path: '/v2/items', authorization: `Token ${secret}` });
  expect(JSON.parse(post!.body)).toEqual({ name: 'Widget' });

  const execution = await s.as(tenant.key, { method: 'GET', url: `/executions/${result.meta.executionId}` });
  expect(execution.statusCode, execution.body).toBe(200);
  expect(execution.json()).toMatchObject({ status: 'succeeded', connector: name, version: '0.1.0', action: 'createItem', result: { id: 'i_42' } });

  // Invalid params: the runtime's catalogue code with the parameter path, recorded as failed.
  const invalid = await s.as(tenant.key, { method: 'POST', url: `/connectors/${name}/execute`, payload: { action: 'createItem', params: {}, connection: connectionId } });
  expect(invalid.statusCode, invalid.body).toBe(400);
  expect(invalid.headers['content-type']).toContain('application/problem+json');
  expect(invalid.json()).toMatchObject({ code: 'INVALID_INPUT' });
  const failedId = invalid.headers['x-execution-id'] as string;
  expect((await s.as(tenant.key, { method: 'GET', url: `/executions/${failedId}` })).json()).toMatchObject({ status: 'failed', error: { code: 'INVALID_INPUT' } });

  // Asynchronous execution: 202 with an id, then poll until it finishes.
  const queued = await s.as(tenant.key, { method: 'POST', url: `/connectors/${name}/execute?async=true`, payload: { action: 'createItem', params: { name: 'Later' }, connection: connectionId } });
  expect(queued.statusCode, queued.body).toBe(202);
  const asyncId = (queued.json() as { executionId: string }).executionId;
  let asyncView: { status: string; result?: unknown } = { status: 'queued' };
  for (let i = 0; i < 200 && (asyncView.status === 'queued' || asyncView.status === 'running'); i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    asyncView = (await s.as(tenant.key, { method: 'GET', url: `/executions/${asyncId}` })).json() as typeof asyncView;
  }
  expect(asyncView).toMatchObject({ status: 'succeeded', result: { id: 'i_42', name: 'Later' } });

  // The node catalogue lists the installed connector's actions and triggers with their schemas.
  const nodes = (await s.as(tenant.key, { method: 'GET', url: '/connectors/nodes' })).json() as { items: { id: string; kind: string; label: string; params?: unknown }[] };
  const create = nodes.items.find((n) => n.id === `${name}.createItem`);
  expect(create).toMatchObject({ kind: 'action' });
  expect(create!.label).toMatch(/^.+: .+/);
  expect(create!.params).toMatchObject({ type: 'object' });
  expect(nodes.items.some((n) => n.kind === 'trigger')).toBe(true);

  // 5. Usage shows the executions once the meter has flushed.
  await s.runtime.runtime.flushUsage();
  const usage = await s.as(tenant.key, { method: 'GET', url: '/usage?groupBy=action' });
  expect(usage.statusCode, usage.body).toBe(200);
  const rows = (usage.json() as { items: { key: string; executions: number; errors: number }[] }).items;
  expect(rows.find((r) => r.key === `${name}.createItem`)).toMatchObject({ executions: 3, errors: 1 });

  // 6. A second tenant sees none of it.
  const other = await s.createTenant('tenant-b');
  expect((await s.as(other.key, { method: 'GET', url: '/connections' })).json()).toMatchObject({ items: [] });
  expect((await s.as(other.key, { method: 'GET', url: `/executions/${result.meta.executionId}` })).statusCode).toBe(404);
  expect((await s.as(other.key, { method: 'POST', url: `/connections/${connectionId}/test` })).statusCode).toBe(404);
  const stolen = await s.as(other.key, { method: 'POST', url: `/connectors/${name}/execute`, payload: { action: 'createItem', params: { name: 'x' }, connection: connectionId } });
  expect(stolen.statusCode, stolen.body).toBe(404);
  expect((await s.as(other.key, { method: 'GET', url: '/usage?groupBy=action' })).json()).toMatchObject({ items: [] });
  expect((await s.as(other.key, { method: 'GET', url: '/connectors/nodes' })).json()).toEqual({ items: [] });
  expect(mock.requests.filter((r) => r.method === 'POST')).toHaveLength(2);
}
