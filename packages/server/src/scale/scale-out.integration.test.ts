// Scale-out on real engines: the API (not executing itself) + two `npm run worker` child processes on one Redis and
// one PostgreSQL; limits measured where they matter, at the loopback API the connectors call.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createVault } from '@businessos/connector-runtime';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { createTestPostgres, servicesRequired, type TestDb } from '../db/test-db.ts';
import { startServer, type RunningServer } from '../main.ts';
import { packConnector, scaffoldConnector, setVersion } from '../publishing/test-support.ts';
import { createPgVaultStore } from '../vault/pg-vault-store.ts';
import { keyspace } from './redis.ts';

const databaseUrl = process.env.DATABASE_URL;
const redisUrl = process.env.REDIS_URL;
if ((!databaseUrl || !redisUrl) && servicesRequired(process.env)) throw new Error('BOS_REQUIRE_SERVICES=1 but DATABASE_URL or REDIS_URL is not set: the scale-out test needs PostgreSQL and Redis');
const suite = databaseUrl && redisUrl ? describe : describe.skip;

const WORKER_BIN = fileURLToPath(new URL('../../bin/worker.js', import.meta.url));
const PER_TENANT = 5;
// Slack's documented example signing secret (https://api.slack.com/authentication/verifying-requests-from-slack).
const SLACK_SIGNING_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const TOTAL = 10;

/** A loopback API whose POST /v2/items is slow and which records how many calls were in flight, per API key. */
async function startSlowApi(delayMs: number) {
  let inFlight = 0;
  let maxInFlight = 0;
  const perKey = new Map<string, { now: number; max: number; calls: number }>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const key = req.headers.authorization ?? '';
      const slot = perKey.get(key) ?? { now: 0, max: 0, calls: 0 };
      perKey.set(key, slot);
      inFlight++;
      slot.now++;
      slot.calls++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      slot.max = Math.max(slot.max, slot.now);
      setTimeout(() => {
        inFlight--;
        slot.now--;
        const given = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { name?: string };
        res.statusCode = req.method === 'POST' ? 201 : 200;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(req.method === 'POST' ? { id: 'i_1', name: given.name ?? '' } : { items: [] }));
      }, req.method !== 'POST' ? 0 : Buffer.concat(chunks).toString('utf8').includes('"hang') ? 20_000 : Buffer.concat(chunks).toString('utf8').includes('"slow') ? 2_500 : delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    maxInFlight: () => maxInFlight,
    perKey,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface Worker {
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

function startWorker(env: Record<string, string>): Promise<Worker> {
  const child = spawn(process.execPath, [WORKER_BIN], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise<Worker>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start:\n${output.join('')}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output.push(chunk.toString('utf8'));
      if (output.join('').includes('execution worker started')) {
        clearTimeout(timer);
        resolve({ child, output, exited });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code}:\n${output.join('')}`));
    });
  });
}

suite(`scale-out with Redis and PostgreSQL${databaseUrl && redisUrl ? '' : ': skipped, DATABASE_URL or REDIS_URL is not set'}`, () => {
  const prefix = `bos-test-${randomBytes(5).toString('hex')}`;
  const masterKey = randomBytes(32).toString('hex');
  let store: TestDb;
  let server: RunningServer;
  let api: Awaited<ReturnType<typeof startSlowApi>>;
  let redis: Redis;
  const workers: Worker[] = [];
  let adminKey = '';
  const lines: string[] = [];
  let connectorDir = '';
  const name = `slowitems${randomBytes(3).toString('hex')}`;
  let publisher: { tenantId: string; key: string };

  const call = async (key: string | undefined, method: string, url: string, body?: unknown, type = 'application/json') => {
    const res = await fetch(`${server.address}${url}`, {
      method,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': type } : {}) },
      ...(body !== undefined ? { body: Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
  };
  const createTenant = async (tenantName: string) => {
    const res = await call(adminKey, 'POST', '/tenants', { name: tenantName });
    expect(res.status, res.text).toBe(201);
    const body = res.json() as { tenant: { id: string }; apiKey: { secret: string } };
    return { tenantId: body.tenant.id, key: body.apiKey.secret };
  };
  const publish = async (publisherKey: string) => {
    const submitted = await call(publisherKey, 'POST', '/marketplace/submissions', await packConnector(connectorDir), 'application/gzip');
    expect(submitted.status, submitted.text).toBe(201);
    const approved = await call(adminKey, 'POST', `/marketplace/submissions/${submitted.json().id as string}/approve`, { notes: 'ok' });
    expect(approved.status, approved.text).toBe(200);
    // The checks' dry load left the bundle's sandbox image in the store: worker processes start it without parsing.
    const sha256 = submitted.json().artifactSha256 as string;
    let images = 0;
    for (let i = 0; i < 100 && images === 0; i += 1) {
      images = (await store.db.query('SELECT size FROM connectors.sandbox_images WHERE sha256 = $1', [sha256])).rows.length;
      if (images === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(images, 'sandbox image of the published bundle').toBe(1);
  };
  const workerEnv = () => ({
    DATABASE_URL: store.url!,
    REDIS_URL: redisUrl!,
    BOS_REDIS_PREFIX: prefix,
    BOS_MASTER_KEY: masterKey,
    BOS_EGRESS_ALLOW_LOOPBACK: '1',
    BOS_EXECUTIONS_PER_TENANT: String(PER_TENANT),
    BOS_EXECUTIONS_TOTAL: String(TOTAL),
    BOS_OAUTH_APPS: JSON.stringify({ slack: { client_id: 'slack-app', client_secret: 'slack-secret', signing_secret: SLACK_SIGNING_SECRET } }),
  });

  beforeAll(async () => {
    store = await createTestPostgres(databaseUrl!);
    redis = new Redis(redisUrl!);
    api = await startSlowApi(300);
    // The API process does not execute (BOS_API_WORKER=0): only the two worker processes do.
    const config = loadConfig({ ...workerEnv(), PORT: '0', HOST: '127.0.0.1', BOS_API_WORKER: '0', BOS_LOG_LEVEL: 'silent', BOS_EXECUTION_WAIT_SECONDS: '60' });
    server = await startServer(config, (line) => lines.push(line), { allowLoopbackEgress: true });
    await server.startup;
    adminKey = /bos_[A-Za-z0-9_-]+/.exec(lines.join('\n'))?.[0] ?? '';
    expect(adminKey).not.toBe('');
    workers.push(await startWorker(workerEnv()), await startWorker(workerEnv()));
    connectorDir = await scaffoldConnector(name);
    const index = path.join(connectorDir, 'src', 'index.ts');
    writeFileSync(index, readFileSync(index, 'utf8').replace(/baseUrl: '[^']+'/, `baseUrl: '${api.url}/v2'`));
    publisher = await createTenant('publisher');
    await publish(publisher.key);
  }, 180_000);

  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await server?.stop();
    await api?.close();
    const stale = await redis?.keys(`${prefix}*`);
    if (stale?.length) await redis.del(...stale);
    await redis?.quit();
    await store?.dispose();
  }, 60_000);

  it('serves catalogue reads from Redis and shows a new version, a deprecation and an install at once', async () => {
    const reader = await createTenant('reader');
    const search = async () => (await call(reader.key, 'GET', `/marketplace/search?q=${name}`)).json() as { results: { name: string; latestVersion: string; description: string | null }[] };
    const detail = async () => (await call(reader.key, 'GET', `/marketplace/connectors/${name}`)).json() as { id: string; latestVersion: string; deprecation: unknown; description: string | null };
    expect((await search()).results.find((r) => r.name === name)).toMatchObject({ latestVersion: '0.1.0' });
    expect(await detail()).toMatchObject({ latestVersion: '0.1.0', deprecation: null });

    // Proof that reads are cached: a change made behind the service's back is not seen...
    await store.db.transaction((tx) => tx.query(`UPDATE connectors.marketplace SET description = 'changed behind the cache' WHERE name = $1`, [name]));
    expect((await detail()).description).not.toBe('changed behind the cache');
    expect(await redis.keys(`${prefix}:cache:v:*`)).not.toHaveLength(0);

    // ...while a publish through the API is visible to the very next read, in search and detail.
    setVersion(connectorDir, '0.2.0');
    await publish(publisher.key);
    expect((await search()).results.find((r) => r.name === name)).toMatchObject({ latestVersion: '0.2.0' });
    expect(await detail()).toMatchObject({ latestVersion: '0.2.0' });

    const deprecated = await call(adminKey, 'POST', `/marketplace/connectors/${(await detail()).id}/deprecate`, { message: 'use something else' });
    expect(deprecated.status, deprecated.text).toBe(200);
    expect((await detail()).deprecation).toMatchObject({ message: 'use something else' });

    // Installed connectors per tenant: cached, and fresh after install.
    expect((await call(reader.key, 'GET', '/installations')).json()).toMatchObject({ items: [] });
    expect((await call(reader.key, 'GET', '/connectors/nodes')).json()).toMatchObject({ items: [] });
    const installed = await call(reader.key, 'POST', `/marketplace/install/${name}`, {});
    expect(installed.status, installed.text).toBeLessThan(300);
    expect(((await call(reader.key, 'GET', '/installations')).json() as { items: unknown[] }).items).toHaveLength(1);
    expect(((await call(reader.key, 'GET', '/connectors/nodes')).json() as { items: unknown[] }).items.length).toBeGreaterThan(0);
    // Another tenant's cached answer is its own.
    expect((await call(publisher.key, 'GET', '/installations')).json()).toMatchObject({ items: [] });
  }, 180_000);

  it('leaves webhook transforms to the worker processes when the API runs with BOS_API_WORKER=0', async () => {
    const t = await createTenant('slack-events');
    // The Slack connection as the OAuth callback would store it (the provider is not reachable from here).
    const installed = await call(t.key, 'POST', '/marketplace/install/slack', { connectionName: 'slack' });
    expect(installed.status, installed.text).toBeLessThan(300);
    const installationId = (installed.json() as { installation: { id: string } }).installation.id;
    const { rows } = await store.db.withTenant(t.tenantId, (tx) =>
      tx.query<{ id: string }>("INSERT INTO connectors.connections (tenant_id, installation_id, name, fields) VALUES ($1, $2, 'slack', '{}') RETURNING id", [t.tenantId, installationId]),
    );
    const connectionId = rows[0]!.id;
    const vault = createVault({ store: createPgVaultStore(store.db), masterKey: Buffer.from(masterKey, 'hex') });
    await vault.putCredentials(t.tenantId, connectionId, { accessToken: 'xoxb-scale-out', tokenType: 'bot', fields: {} });
    const enabled = await call(t.key, 'POST', `/connections/${connectionId}/triggers`, { trigger: 'newMessage' });
    expect(enabled.status, enabled.text).toBe(201);
    const sub = enabled.json() as { id: string; webhookUrl: string };

    const message = JSON.stringify({ type: 'event_callback', team_id: 'T123ABC456', event_id: 'Ev-scale-out', event_time: 1355517523, event: { type: 'message', channel: 'C123ABC456', user: 'U123ABC456', text: 'Hello workers', ts: '1355517523.000005' } });
    const ts = Math.floor(Date.now() / 1000);
    const signature = `v0=${createHmac('sha256', SLACK_SIGNING_SECRET).update(`v0:${ts}:${message}`).digest('hex')}`;
    const delivered = await fetch(`${server.address}${new URL(sub.webhookUrl).pathname}`, {
      method: 'POST',
      body: message,
      headers: { 'content-type': 'application/json', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': signature },
    });
    expect(delivered.status, await delivered.clone().text()).toBe(200);

    // The API process stored the delivery and does no transforms; a worker process turns it into the event.
    let items: { payload: { text?: string } }[] = [];
    for (let i = 0; i < 300 && items.length === 0; i += 1) {
      items = ((await call(t.key, 'GET', `/events?subscription=${sub.id}`)).json() as { items: typeof items }).items;
      if (items.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(items).toHaveLength(1);
    expect(items[0]!.payload).toMatchObject({ text: 'Hello workers' });
    expect(workers.some((w) => w.output.join('').includes('trigger work started'))).toBe(true);
  });

  it('runs executions of two tenants on two workers within the per-tenant and global limits, fairly, with usage', async () => {
    const tenants = [await createTenant('tenant-a'), await createTenant('tenant-b')];
    const connections: string[] = [];
    for (const [i, t] of tenants.entries()) {
      const installed = await call(t.key, 'POST', `/marketplace/install/${name}`, {});
      expect(installed.status, installed.text).toBeLessThan(300);
      const installationId = (installed.json() as { installation: { id: string } }).installation.id;
      const connected = await call(t.key, 'POST', '/connections', { installationId, name: 'main', credentials: { apiKey: `sk_tenant_${i}` } });
      expect(connected.status, connected.text).toBe(201);
      connections.push(connected.json().id as string);
    }
    const perTenant = 15;
    const runs = tenants.flatMap((t, i) =>
      Array.from({ length: perTenant }, (_, n) => call(t.key, 'POST', `/connectors/${name}/execute`, { action: 'createItem', params: { name: `item-${i}-${n}` }, connection: connections[i] })),
    );
    const results = await Promise.all(runs);
    for (const r of results) expect(r.status, r.text).toBe(200);
    expect(results.map((r) => (r.json() as { data: { name: string } }).data.name).sort()).toEqual(
      tenants.flatMap((_, i) => Array.from({ length: perTenant }, (_, n) => `item-${i}-${n}`)).sort(),
    );

    // Measured at the API the connectors call: never more than the limits, across both worker processes.
    for (let i = 0; i < tenants.length; i++) {
      const seen = api.perKey.get(`Token sk_tenant_${i}`);
      expect(seen?.calls).toBe(perTenant);
      expect(seen!.max).toBeLessThanOrEqual(PER_TENANT);
      expect(seen!.max).toBeGreaterThan(1);
    }
    expect(api.maxInFlight()).toBeLessThanOrEqual(TOTAL);
    // Both workers took part (the limits above therefore held across processes, not within one).
    const queue = new Queue(keyspace(prefix).queueName, { connection: redis, prefix: keyspace(prefix).queuePrefix });
    const done = await queue.getJobs(['completed'], 0, 1000);
    await queue.close();
    const byWorker = new Set(done.map((j) => (j.returnvalue as { worker?: string }).worker));
    expect(byWorker.size).toBe(2);

    // "Test connection" runs the connector's test request on a worker as well.
    const tested = await call(tenants[0]!.key, 'POST', `/connections/${connections[0]}/test`);
    expect(tested.status, tested.text).toBe(200);
    expect(tested.json()).toMatchObject({ ok: true, status: 'ok' });

    // Asynchronous through the queue too.
    const queued = await call(tenants[0]!.key, 'POST', `/connectors/${name}/execute?async=true`, { action: 'createItem', params: { name: 'later' }, connection: connections[0] });
    expect(queued.status, queued.text).toBe(202);
    const id = queued.json().executionId as string;
    let view: Record<string, unknown> = {};
    for (let i = 0; i < 400 && view.status !== 'succeeded' && view.status !== 'failed'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      view = (await call(tenants[0]!.key, 'GET', `/executions/${id}`)).json();
    }
    expect(view).toMatchObject({ status: 'succeeded', result: { name: 'later' } });

    // A full waiting room answers QUEUE_FULL with Retry-After, as the in-process scheduler does.
    const pendingKey = keyspace(prefix).pending;
    const fakes = Array.from({ length: PER_TENANT + 50 }, (_, i) => `${tenants[1]!.tenantId}|filler-${i}`);
    await redis.zadd(pendingKey, ...fakes.flatMap((m) => [String(Date.now() + 600_000), m]));
    const full = await call(tenants[1]!.key, 'POST', `/connectors/${name}/execute`, { action: 'createItem', params: { name: 'x' }, connection: connections[1] });
    expect(full.status, full.text).toBe(429);
    expect(full.json()).toMatchObject({ code: 'QUEUE_FULL' });
    expect(full.json().detail).toMatch(/try again in 1 s/);
    expect(full.headers.get('retry-after')).toBe('1');
    // Only that tenant is refused: the other one still runs.
    const other = await call(tenants[0]!.key, 'POST', `/connectors/${name}/execute`, { action: 'createItem', params: { name: 'still-ok' }, connection: connections[0] });
    expect(other.status, other.text).toBe(200);
    await redis.zrem(pendingKey, ...fakes);

    // Graceful stop drains and flushes the workers' usage records: every execution is metered.
    for (const w of workers) w.child.kill('SIGTERM');
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0]);
    for (const [i, t] of tenants.entries()) {
      const usage = (await call(t.key, 'GET', '/usage?groupBy=action')).json() as { items: { key: string; executions: number; errors: number }[] };
      // Tenant A: 15 + the async one + the one run while B's queue was full; B: 15 (the refused one never ran).
      expect(usage.items.find((u) => u.key === `${name}.createItem`)).toMatchObject(i === 0 ? { executions: perTenant + 2, errors: 0 } : { executions: perTenant, errors: 0 });
    }

    // With no worker left, a call fails at once and says what to do rather than hanging.
    const orphan = await call(tenants[1]!.key, 'POST', `/connectors/${name}/execute`, { action: 'createItem', params: { name: 'x' }, connection: connections[1] });
    expect(orphan.status, orphan.text).toBe(503);
    expect(orphan.json().detail).toMatch(/npm run worker/);
    const untested = await call(tenants[1]!.key, 'POST', `/connections/${connections[1]}/test`);
    expect(untested.status, untested.text).toBe(503);
    expect(untested.json().detail).toMatch(/test of connection .*npm run worker/);
    expect((await call(tenants[1]!.key, 'GET', `/executions/${/execution ([0-9a-f-]{36})/.exec(orphan.json().detail as string)![1]!}`)).json()).toMatchObject({ status: 'failed' });

    // `npm start` with REDIS_URL and the default BOS_API_WORKER=1 executes on its own.
    const solo = await startServer(loadConfig({ ...workerEnv(), BOS_REDIS_PREFIX: `${prefix}-solo`, PORT: '0', HOST: '127.0.0.1', BOS_LOG_LEVEL: 'silent' }), () => undefined, { allowLoopbackEgress: true });
    try {
      await solo.startup;
      const res = await fetch(`${solo.address}/connectors/${name}/execute`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tenants[0]!.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ action: 'createItem', params: { name: 'solo' }, connection: connections[0] }),
      });
      expect(res.status, await res.clone().text()).toBe(200);
      expect(((await res.json()) as { data: unknown }).data).toEqual({ id: 'i_1', name: 'solo' });
    } finally {
      await solo.stop();
    }
  }, 240_000);

  it('answers 504 with the execution id when no worker finishes in time, and the execution still completes', async () => {
    const tenant = await createTenant('tenant-d');
    const installed = await call(tenant.key, 'POST', `/marketplace/install/${name}`, {});
    const installationId = (installed.json() as { installation: { id: string } }).installation.id;
    const connection = (await call(tenant.key, 'POST', '/connections', { installationId, name: 'main', credentials: { apiKey: 'sk_tenant_d' } })).json().id as string;
    // The previous test stopped its workers: one worker for this test, busy with a call that takes 2.5 s.
    const worker = await startWorker(workerEnv());
    workers.push(worker);
    // A second API process on the same store and queue that waits only 1 s for a worker's result.
    const config = loadConfig({ ...workerEnv(), PORT: '0', HOST: '127.0.0.1', BOS_API_WORKER: '0', BOS_LOG_LEVEL: 'silent', BOS_EXECUTION_WAIT_SECONDS: '1' });
    const impatient = await startServer(config, () => undefined, { allowLoopbackEgress: true });
    try {
      await impatient.startup;
      const res = await fetch(`${impatient.address}/connectors/${name}/execute`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ action: 'createItem', params: { name: 'slow-1' }, connection }),
      });
      const problem = (await res.json()) as { code: string; detail: string };
      expect(res.status, JSON.stringify(problem)).toBe(504);
      expect(problem.code).toBe('TIMEOUT');
      const id = /GET \/executions\/([0-9a-f-]{36})/.exec(problem.detail)?.[1];
      expect(id, problem.detail).toBeDefined();
      // The worker was busy, not gone: the execution finishes and its outcome is readable by id.
      let view: Record<string, unknown> = {};
      for (let i = 0; i < 200 && view.status !== 'succeeded' && view.status !== 'failed'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        view = (await call(tenant.key, 'GET', `/executions/${id!}`)).json();
      }
      expect(view, JSON.stringify(view)).toMatchObject({ status: 'succeeded' });
      expect(api.perKey.get('Token sk_tenant_d')?.calls).toBe(1);
    } finally {
      await impatient.stop();
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
  }, 120_000);

  it('frees the slot of a worker killed mid-execution and records that execution as failed instead of running it twice', async () => {
    const tenant = await createTenant('tenant-c');
    const installed = await call(tenant.key, 'POST', `/marketplace/install/${name}`, {});
    const installationId = (installed.json() as { installation: { id: string } }).installation.id;
    const connection = (await call(tenant.key, 'POST', '/connections', { installationId, name: 'main', credentials: { apiKey: 'sk_tenant_c' } })).json().id as string;
    // Only the workers of this test run.
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    // One execution at a time for a tenant, so a slot a dead worker kept would block the tenant for good.
    const env = { ...workerEnv(), BOS_EXECUTIONS_PER_TENANT: '1' };
    const doomed = await startWorker(env);
    workers.push(doomed);
    const hanging = await call(tenant.key, 'POST', `/connectors/${name}/execute?async=true`, { action: 'createItem', params: { name: 'hang' }, connection });
    expect(hanging.status, hanging.text).toBe(202);
    const hangingId = hanging.json().executionId as string;
    for (let i = 0; i < 400 && !api.perKey.get('Token sk_tenant_c')?.calls; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(api.perKey.get('Token sk_tenant_c')?.calls).toBe(1);
    doomed.child.kill('SIGKILL');
    await doomed.exited;

    const survivor = await startWorker(env);
    workers.push(survivor);
    // The dead worker's lease runs out and the tenant's next execution runs on the survivor.
    const after = await call(tenant.key, 'POST', `/connectors/${name}/execute`, { action: 'createItem', params: { name: 'after' }, connection });
    expect(after.status, after.text).toBe(200);
    // BullMQ hands the stalled job to the survivor, which does not run it again: it may have taken effect.
    let view: Record<string, unknown> = {};
    for (let i = 0; i < 600 && view.status !== 'failed' && view.status !== 'succeeded'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      view = (await call(tenant.key, 'GET', `/executions/${hangingId}`)).json();
    }
    expect(view, JSON.stringify(view)).toMatchObject({ status: 'failed', error: { code: 'INTERNAL' } });
    expect((view.error as { message: string }).message).toMatch(/may have partly run/);
    expect(api.perKey.get('Token sk_tenant_c')?.calls).toBe(2);
    survivor.child.kill('SIGTERM');
    expect(await survivor.exited).toBe(0);
  }, 300_000);
});
