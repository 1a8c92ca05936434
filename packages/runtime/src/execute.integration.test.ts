import { ApiKeyAuth, ConnectorError, OAuth2Auth, defineAction, defineConnector, defineTrigger, type Connector } from '@businessos/connector-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryArtifactStore } from './artifacts/artifact-store.ts';
import { createRuntime, type RuntimeConfig } from './execute.ts';
import { createFakeClock } from './testing/fake-clock.ts';
import { createInProcessPool } from './testing/in-process-pool.ts';
import { sendJson, startMockServer } from './testing/mock-server.ts';
import { createMemoryUsageSink } from './usage/usage.ts';
import { generateMasterKey } from './vault/master-key.ts';
import { createMemoryVaultStore } from './vault/memory-store.ts';
import { createVault } from './vault/vault.ts';

// Host side of the runtime against a loopback mock API. The sandbox is replaced by the in-process test
// double; the end-to-end suite (runtime.e2e.integration.test.ts) uses the real sandbox pool.
const API_KEY = 'sk_test_4eC39HqLyjWDarjtT1zdp7dc';
let api: Awaited<ReturnType<typeof startMockServer>>;
const counters = new Map<string, number>();
const bump = (k: string) => { const n = (counters.get(k) ?? 0) + 1; counters.set(k, n); return n; };
let releaseGate: (() => void) | undefined;

beforeAll(async () => {
  api = await startMockServer(async (req, res) => {
    const p = req.url.pathname;
    if (p.startsWith('/oauth/')) {
      if (p === '/oauth/token') return sendJson(res, 200, { access_token: 'at-new', refresh_token: 'rt-new', expires_in: 3600 });
      if (p === '/oauth/never') return sendJson(res, 401, { error: 'invalid_token' });
      if (p === '/oauth/me') return req.headers.authorization === 'Bearer at-new' ? sendJson(res, 200, { me: 'ok' }) : sendJson(res, 401, { error: 'invalid_token' });
    }
    if (req.headers['x-api-key'] !== API_KEY) return sendJson(res, 401, { error: 'bad key' });
    if (p.startsWith('/things/')) return sendJson(res, 200, { id: p.slice(8), name: 'Widget' });
    if (p === '/things' && req.method === 'POST') return sendJson(res, 201, { id: 'new', name: JSON.parse(req.body).name });
    if (p === '/flaky') return bump(`flaky${req.url.search}`) <= 2 ? sendJson(res, 503, { error: 'busy' }) : sendJson(res, 200, { ok: true });
    if (p === '/limited') return bump(`limited${req.url.search}`) === 1 ? sendJson(res, 429, { error: 'slow down' }, { 'retry-after': '2' }) : sendJson(res, 200, { ok: true });
    if (p === '/very-limited') return sendJson(res, 429, { error: 'slow down' }, { 'retry-after': '3600' });
    if (p === '/down') return sendJson(res, 503, { error: 'down' });
    if (p === '/echo-headers') return sendJson(res, 200, { headers: req.headers, query: req.url.search });
    if (p === '/gate') { await new Promise<void>((r) => (releaseGate = r)); return sendJson(res, 200, { ok: true }); }
    sendJson(res, 404, { error: 'nope' });
  });
});
afterAll(() => api?.close());

function acme(origin: string, version = '1.0.0'): Connector {
  return defineConnector({
    name: 'acme',
    version,
    baseUrl: origin,
    auth: new ApiKeyAuth({ name: 'X-Api-Key' }),
    actions: [
      defineAction({
        name: 'getThing', description: 'Get a thing', idempotent: true,
        params: { id: { type: 'string', required: true } },
        output: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } }, required: ['id', 'name'] },
        async execute(params, ctx) { return (await ctx.http.get<Record<string, unknown>>(`/things/${params.id}`)).data as { id: string; name: string }; },
      }),
      defineAction({ name: 'createThing', description: 'Create', params: { name: { type: 'string', required: true } }, async execute(params, ctx) { return (await ctx.http.post<Record<string, unknown>>('/things', params)).data; } }),
      defineAction({ name: 'flaky', description: 'x', idempotent: true, params: { run: { type: 'string' } }, async execute(p, ctx) { return (await ctx.http.get<Record<string, unknown>>('/flaky', { query: { run: p.run } })).data; } }),
      defineAction({ name: 'flakyUnsafe', description: 'x', params: { run: { type: 'string' } }, async execute(p, ctx) { return (await ctx.http.get<Record<string, unknown>>('/flaky', { query: { run: p.run } })).data; } }),
      defineAction({ name: 'limited', description: 'x', idempotent: true, params: { run: { type: 'string' } }, async execute(p, ctx) { return (await ctx.http.get<Record<string, unknown>>('/limited', { query: { run: p.run } })).data; } }),
      defineAction({ name: 'veryLimited', description: 'x', idempotent: true, async execute(_p, ctx) { return (await ctx.http.get<Record<string, unknown>>('/very-limited')).data; } }),
      defineAction({ name: 'down', description: 'x', async execute(_p, ctx) { return (await ctx.http.get<Record<string, unknown>>('/down')).data; } }),
      defineAction({ name: 'badOutput', description: 'x', output: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] }, async execute() { return { id: 5 } as never; } }),
      defineAction({
        name: 'harvest', description: 'tries to read the key',
        async execute(_p, ctx) {
          const res = await ctx.http.get<Record<string, unknown>>('/echo-headers');
          const seen = JSON.stringify(res.data);
          ctx.log.info(`headers I saw: ${seen}`);
          return { sawKey: seen.includes(API_KEY), fields: ctx.connection.fields, echoed: res.data };
        },
      }),
      defineAction({ name: 'throwSecret', description: 'x', async execute(_p, ctx) { throw new ConnectorError('UPSTREAM_ERROR', `provider said key ${ctx.connection.fields.hint} ${API_KEY} is odd`); } }),
      defineAction({ name: 'gate', description: 'x', async execute(_p, ctx) { return (await ctx.http.get<Record<string, unknown>>('/gate')).data; } }),
      defineAction({ name: 'evil', description: 'x', async execute(_p, ctx) { return (await ctx.http.get<Record<string, unknown>>('http://169.254.169.254/latest/meta-data/')).data; } }),
    ],
  });
}

function oauthy(origin: string): Connector {
  return defineConnector({
    name: 'oauthy', version: '1.0.0', baseUrl: `${origin}/oauth`,
    auth: new OAuth2Auth({ clientId: 'cid', clientSecret: 'client-secret-xyz', authorizationUrl: `${origin}/oauth/authorize`, tokenUrl: `${origin}/oauth/token`, scopes: [] }),
    actions: [
      defineAction({ name: 'me', description: 'x', idempotent: true, async execute(_p, ctx) { return (await ctx.http.get<Record<string, unknown>>('/me')).data; } }),
      defineAction({
        name: 'never', description: 'calls an endpoint that always answers 401, twice',
        async execute(_p, ctx) {
          await ctx.http.get('/never', { throwOnError: false });
          return (await ctx.http.get<Record<string, unknown>>('/never')).data;
        },
      }),
    ],
  });
}

async function setup(config: RuntimeConfig = {}, connectors: Connector[] = [acme(api.origin), oauthy(api.origin)]) {
  const clock = createFakeClock();
  const vault = createVault({ store: createMemoryVaultStore(), masterKey: generateMasterKey(), clock });
  const artifacts = createMemoryArtifactStore();
  const pool = createInProcessPool(Object.fromEntries(connectors.map((c) => [`${c.manifest.name}@${c.manifest.version}`, c])));
  for (const c of connectors) artifacts.add({ name: c.manifest.name, version: c.manifest.version, code: `/* ${c.manifest.name} */`, manifest: c.manifest });
  const usage = createMemoryUsageSink();
  const marked: string[] = [];
  const logs: { message: string; data?: unknown }[] = [];
  const logger = { debug() {}, info: (message: string, data?: unknown) => logs.push({ message, data }), warn() {}, error() {} };
  const runtime = createRuntime({
    sandbox: pool, vault, artifacts, usage, clock, logger,
    connections: { markNeedsReauth: async (_t, id) => void marked.push(id) },
    config: { allowLoopback: true, usage: { flushIntervalMs: 0 }, ...config },
  });
  await vault.putCredentials('t1', 'conn-1', { apiKey: API_KEY, fields: { hint: 'h' } });
  return { runtime, vault, usage, clock, pool, artifacts, marked, logs };
}

const run = { tenant: 't1', connector: 'acme', version: '1.0.0', connection: { id: 'conn-1' } };

describe('createRuntime: bundles are looked up per tenant', () => {
  it('never serves one tenant\'s private bundle from the cache to another tenant', async () => {
    const connector = acme(api.origin);
    const vault = createVault({ store: createMemoryVaultStore(), masterKey: generateMasterKey() });
    const privateStore = createMemoryArtifactStore();
    const stored = privateStore.add({ name: 'acme', version: '1.0.0', code: '/* private acme */', manifest: connector.manifest });
    const seen: (string | undefined)[] = [];
    // Only tenant t1 may see this version (as a private listing would be).
    const artifacts = { async get(name: string, version: string, scope?: { tenant: string }) { seen.push(scope?.tenant); return scope?.tenant === 't1' ? privateStore.get(name, version) : undefined; } };
    const runtime = createRuntime({
      sandbox: createInProcessPool({ 'acme@1.0.0': connector }), vault, artifacts, usage: createMemoryUsageSink(),
      config: { allowLoopback: true, usage: { flushIntervalMs: 0 } },
    });
    await vault.putCredentials('t1', 'conn-1', { apiKey: API_KEY, fields: { hint: 'h' } });
    await vault.putCredentials('t2', 'conn-2', { apiKey: API_KEY, fields: { hint: 'h' } });
    await expect(runtime.execute({ ...run, action: 'getThing', params: { id: '1' } })).resolves.toMatchObject({ data: { id: '1' } });
    await expect(runtime.execute({ ...run, tenant: 't2', connection: { id: 'conn-2' }, action: 'getThing', params: { id: '1' } })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(seen).toEqual(['t1', 't2']);
    expect(stored.sha256).toHaveLength(64);
    await runtime.close();
  });
});

describe('createRuntime: execute', () => {
  it('runs an action with the key applied by the host and answers data with meta', async () => {
    const { runtime, usage } = await setup();
    const result = await runtime.execute({ ...run, action: 'getThing', params: { id: '42' } });
    expect(result.data).toEqual({ id: '42', name: 'Widget' });
    expect(result.meta).toMatchObject({ attempts: 1, httpCalls: 1, executionId: expect.any(String) });
    expect(result.meta.bytesIn).toBeGreaterThan(0);
    await runtime.close();
    expect(usage.query({ tenant: 't1' })).toEqual([
      expect.objectContaining({ executionId: result.meta.executionId, connector: 'acme', version: '1.0.0', action: 'getThing', status: 'ok', attempts: 1, httpCalls: 1 }),
    ]);
  });

  it('validates params before running and output after', async () => {
    const { runtime, pool } = await setup();
    await expect(runtime.execute({ ...run, action: 'getThing', params: {} })).rejects.toMatchObject({ code: 'INVALID_INPUT', path: '/id', meta: expect.objectContaining({ attempts: 0 }) });
    await expect(runtime.execute({ ...run, action: 'getThing', params: { id: 1 } })).rejects.toMatchObject({ code: 'INVALID_INPUT', path: '/id' });
    expect(pool.jobs).toHaveLength(0);
    await expect(runtime.execute({ ...run, action: 'badOutput' })).rejects.toMatchObject({ code: 'INVALID_OUTPUT', path: '/id' });
    await expect(runtime.execute({ ...run, action: 'nope' })).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('getThing') });
    await expect(runtime.execute({ ...run, version: '9.9.9', action: 'getThing', params: { id: '1' } })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await runtime.close();
  });

  it('never lets the guest or the caller see the secret: responses, logs, outputs and errors are redacted', async () => {
    const { runtime, logs } = await setup();
    const result = await runtime.execute<{ sawKey: boolean; fields: Record<string, string>; echoed: { headers: Record<string, string> } }>({ ...run, action: 'harvest' });
    expect(result.data.sawKey).toBe(false);
    expect(result.data.echoed.headers['x-api-key']).toBe('[REDACTED]');
    expect(JSON.stringify(result)).not.toContain(API_KEY);
    expect(JSON.stringify(logs)).not.toContain(API_KEY);
    expect(logs.some((l) => l.message.includes('[REDACTED]'))).toBe(true);
    const error = (await runtime.execute({ ...run, action: 'throwSecret' }).then(() => undefined, (e: unknown) => e)) as Error;
    expect(error).toMatchObject({ code: 'UPSTREAM_ERROR' });
    expect(error.message).not.toContain(API_KEY);
    expect(error.message).toContain('[REDACTED]');
    await runtime.close();
  });

  it('refuses undeclared or internal hosts with EGRESS_DENIED', async () => {
    const { runtime } = await setup();
    await expect(runtime.execute({ ...run, action: 'evil' })).rejects.toMatchObject({ code: 'EGRESS_DENIED' });
    await runtime.close();
  });

  it('retries idempotent actions on 5xx with backoff, counting attempts; never retries the others', async () => {
    const { runtime, clock, usage } = await setup();
    const ok = await runtime.execute({ ...run, action: 'flaky', params: { run: 'a' } });
    expect(ok.meta).toMatchObject({ attempts: 3, httpCalls: 3 });
    expect(clock.sleeps).toHaveLength(2);
    await expect(runtime.execute({ ...run, action: 'flakyUnsafe', params: { run: 'b' } })).rejects.toMatchObject({ code: 'UPSTREAM_ERROR', upstreamStatus: 503, meta: expect.objectContaining({ attempts: 1 }) });
    await runtime.close();
    expect(usage.query({ tenant: 't1' }).map((r) => [r.action, r.status, r.attempts])).toEqual([['flaky', 'ok', 3], ['flakyUnsafe', 'error', 1]]);
  });

  it('honours Retry-After up to the cap', async () => {
    const { runtime, clock } = await setup({ retry: { maxRetryAfterMs: 10_000 } });
    const ok = await runtime.execute({ ...run, action: 'limited', params: { run: 'x' } });
    expect(ok.meta.attempts).toBe(2);
    expect(clock.sleeps).toEqual([2000]);
    await expect(runtime.execute({ ...run, action: 'veryLimited' })).rejects.toMatchObject({ code: 'RATE_LIMITED', retryAfter: 3600, meta: expect.objectContaining({ attempts: 1 }) });
    await runtime.close();
  });

  it('opens the circuit for a failing host and answers CIRCUIT_OPEN without calling it', async () => {
    const { runtime } = await setup({ circuitBreaker: { failureThreshold: 2, cooldownMs: 60_000 } });
    await expect(runtime.execute({ ...run, action: 'down' })).rejects.toMatchObject({ code: 'UPSTREAM_ERROR' });
    await expect(runtime.execute({ ...run, action: 'down' })).rejects.toMatchObject({ code: 'UPSTREAM_ERROR' });
    const before = api.requests.length;
    await expect(runtime.execute({ ...run, action: 'down' })).rejects.toMatchObject({ code: 'CIRCUIT_OPEN', retryAfter: 60 });
    expect(api.requests.length).toBe(before);
    await runtime.close();
  });

  it('refreshes an OAuth2 token on 401 and retries the request once, storing the new token', async () => {
    const { runtime, vault } = await setup();
    await vault.putCredentials('t1', 'oc', { accessToken: 'at-old', refreshToken: 'rt-old' });
    const result = await runtime.execute({ tenant: 't1', connector: 'oauthy', version: '1.0.0', action: 'me', connection: { id: 'oc' } });
    expect(result.data).toEqual({ me: 'ok' });
    expect(result.meta.httpCalls).toBe(3);
    expect(await vault.getCredentials('t1', 'oc')).toMatchObject({ accessToken: 'at-new', refreshToken: 'rt-new' });
    await runtime.close();
  });

  it('refreshes at most once per attempt when the provider keeps answering 401', async () => {
    const { runtime, vault } = await setup();
    await vault.putCredentials('t1', 'oc2', { accessToken: 'at-old', refreshToken: 'rt-old' });
    const tokenCalls = () => api.requests.filter((r) => r.url.pathname === '/oauth/token').length;
    const before = tokenCalls();
    await expect(runtime.execute({ tenant: 't1', connector: 'oauthy', version: '1.0.0', action: 'never', connection: { id: 'oc2' } })).rejects.toMatchObject({ code: 'AUTH_FAILED', upstreamStatus: 401 });
    expect(tokenCalls() - before).toBe(1);
    await runtime.close();
  });

  it('fails with AUTH_FAILED when the connection has no credentials', async () => {
    const { runtime } = await setup();
    await expect(runtime.execute({ ...run, connection: { id: 'missing' }, action: 'getThing', params: { id: '1' } })).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    await runtime.close();
  });

  it('refuses a bundle whose sha256 does not match', async () => {
    const { runtime, artifacts } = await setup();
    const c = acme(api.origin, '2.0.0');
    artifacts.add({ name: 'acme', version: '2.0.0', code: 'tampered', sha256: 'a'.repeat(64), manifest: c.manifest });
    await expect(runtime.execute({ ...run, version: '2.0.0', action: 'getThing', params: { id: '1' } })).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('sha256') });
    await runtime.close();
  });

  it('answers QUEUE_FULL with retryAfter when the tenant is at its limit and the queue is full', async () => {
    const { runtime, usage } = await setup({ limits: { perTenant: 1, total: 1, maxQueued: 1, maxQueuedPerTenant: 1, retryAfterSeconds: 2 } });
    const first = runtime.execute({ ...run, action: 'gate' });
    const second = runtime.execute({ ...run, action: 'getThing', params: { id: '1' } });
    await expect(runtime.execute({ ...run, action: 'getThing', params: { id: '2' } })).rejects.toMatchObject({ code: 'QUEUE_FULL', retryAfter: 2 });
    while (!releaseGate) await new Promise((r) => setTimeout(r, 5));
    releaseGate();
    releaseGate = undefined;
    expect((await first).data).toEqual({ ok: true });
    expect((await second).data).toEqual({ id: '1', name: 'Widget' });
    await runtime.close();
    expect(usage.query({ tenant: 't1' }).map((r) => r.code ?? r.status).sort()).toEqual(['QUEUE_FULL', 'ok', 'ok']);
  });

  it('tests a connection with authenticate()', async () => {
    const c = defineConnector({ name: 'tested', version: '1.0.0', baseUrl: api.origin, auth: new ApiKeyAuth({ name: 'X-Api-Key' }), test: { path: '/things/me' }, actions: [] });
    const { runtime, vault } = await setup({}, [c]);
    const ok = await runtime.authenticate({ tenant: 't1', connector: 'tested', version: '1.0.0', connection: { id: 'conn-1' } });
    expect(ok.data).toEqual({ ok: true, checked: true, status: 200 });
    await vault.putCredentials('t1', 'bad', { apiKey: 'wrong-key-123' });
    await expect(runtime.authenticate({ tenant: 't1', connector: 'tested', version: '1.0.0', connection: { id: 'bad' } })).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    await runtime.close();
  });

  it('refuses new executions once closed, after flushing usage', async () => {
    const { runtime, usage } = await setup();
    await runtime.execute({ ...run, action: 'getThing', params: { id: '1' } });
    await Promise.all([runtime.close(), runtime.close()]);
    expect(usage.records).toHaveLength(1);
    await expect(runtime.execute({ ...run, action: 'getThing', params: { id: '1' } })).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('shutting down') });
  });
});

describe('createRuntime: triggers', () => {
  const feed = (origin: string) => defineConnector({
    name: 'feed', version: '1.0.0', baseUrl: origin, auth: new ApiKeyAuth({ name: 'X-Api-Key' }),
    actions: [],
    triggers: [
      defineTrigger({
        name: 'newThing', description: 'New things',
        output: { type: 'object', properties: { id: { type: 'string' }, n: { type: 'number' } }, required: ['id'] },
        polling: {
          intervalSeconds: 60, dedupe: { by: 'id', path: '/id' },
          async poll(ctx, state) {
            const since = (state as { since?: number } | undefined)?.since ?? 0;
            const thing = (await ctx.http.get<{ id: string }>(`/things/t${since + 1}`)).data;
            await ctx.store.set('polls', ((await ctx.store.get<number>('polls')) ?? 0) + 1);
            return { items: [{ id: thing.id, n: (await ctx.store.get<number>('polls')) ?? 0 }], state: { since: since + 1 } };
          },
        },
      }),
      defineTrigger({
        name: 'pushed', description: 'Webhook',
        output: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        webhook: { topic: 'things/create', transform: (delivery) => (delivery.body as { events: unknown[] }).events },
      }),
    ],
  });
  const base = { tenant: 't1', connector: 'feed', version: '1.0.0', connection: { id: 'conn-1' } };

  it('polls with state and a per-connection store, validating each item', async () => {
    const { runtime, usage } = await setup({}, [feed(api.origin)]);
    const first = await runtime.executeTrigger<{ items: unknown[]; state: unknown }>({ ...base, trigger: 'newThing', operation: 'poll' });
    expect(first.data).toEqual({ items: [{ id: 't1', n: 1 }], state: { since: 1 } });
    const second = await runtime.executeTrigger<{ items: unknown[]; state: unknown }>({ ...base, trigger: 'newThing', operation: 'poll', input: first.data.state });
    expect(second.data).toEqual({ items: [{ id: 't2', n: 2 }], state: { since: 2 } });
    await runtime.close();
    expect(usage.query({ tenant: 't1' }).map((r) => r.action)).toEqual(['trigger:newThing:poll', 'trigger:newThing:poll']);
  });

  it('transforms webhook deliveries and refuses events that break the output schema', async () => {
    const { runtime } = await setup({}, [feed(api.origin)]);
    const delivery = (events: unknown[]) => ({ headers: {}, query: {}, body: { events }, rawBody: JSON.stringify({ events }) });
    const ok = await runtime.executeTrigger({ ...base, trigger: 'pushed', operation: 'transform', input: delivery([{ id: 'a' }, { id: 'b' }]) });
    expect(ok.data).toEqual([{ id: 'a' }, { id: 'b' }]);
    await expect(runtime.executeTrigger({ ...base, trigger: 'pushed', operation: 'transform', input: delivery([{ id: 'a' }, { id: 3 }]) })).rejects.toMatchObject({ code: 'INVALID_OUTPUT', path: '/1/id' });
    await expect(runtime.executeTrigger({ ...base, trigger: 'missing', operation: 'poll' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await runtime.close();
  });

  it('transforms of one connection share a vault read for transformCredentialsTtlMs; other executions read it every time', async () => {
    const delivery = { headers: {}, query: {}, body: { events: [{ id: 'a' }] }, rawBody: '{"events":[{"id":"a"}]}' };
    const counted = async (config: RuntimeConfig) => {
      const { runtime, vault, clock } = await setup(config, [feed(api.origin)]);
      let reads = 0;
      const getCredentials = vault.getCredentials.bind(vault);
      vault.getCredentials = (tenant, connectionId) => {
        reads += 1;
        return getCredentials(tenant, connectionId);
      };
      const transform = () => runtime.executeTrigger({ ...base, trigger: 'pushed', operation: 'transform', input: delivery });
      await Promise.all([transform(), transform()]);
      await transform();
      const afterTransforms = reads;
      await runtime.executeTrigger({ ...base, trigger: 'newThing', operation: 'poll' });
      await runtime.executeTrigger({ ...base, trigger: 'newThing', operation: 'poll' });
      const afterPolls = reads;
      clock.advance(1001);
      await transform();
      await runtime.close();
      return [afterTransforms, afterPolls, reads];
    };
    expect(await counted({})).toEqual([1, 3, 4]);
    expect(await counted({ transformCredentialsTtlMs: 0 })).toEqual([3, 5, 6]);
  });
});

describe('createRuntime: secret connection fields stay out of URLs the connector writes', () => {
  const vaulty = (origin: string) => defineConnector({
    name: 'vaulty', version: '1.0.0', baseUrl: origin,
    auth: new ApiKeyAuth({ name: 'X-Api-Key', fields: { region: { type: 'string', label: 'Region' }, signing: { type: 'string', label: 'Signing secret', secret: true } } }),
    actions: [
      defineAction({ name: 'toRegion', description: 'x', async execute(_p, ctx) { return (await ctx.http.get<Record<string, unknown>>(`${origin}/echo-headers?r={region}`)).data; } }),
      defineAction({ name: 'toSigning', description: 'x', async execute(_p, ctx) { return (await ctx.http.get<Record<string, unknown>>(`${origin}/echo-headers?s={signing}`)).data; } }),
    ],
  });

  it('fills a non-secret field into an absolute URL but refuses a secret one, which never reaches the provider', async () => {
    const { runtime, vault } = await setup({}, [vaulty(api.origin)]);
    await vault.putCredentials('t1', 'conn-v', { apiKey: API_KEY, fields: { region: 'eu', signing: 'whsec_supersecret_123' } });
    const target = { tenant: 't1', connector: 'vaulty', version: '1.0.0', connection: { id: 'conn-v' } };
    expect((await runtime.execute<{ query: string }>({ ...target, action: 'toRegion' })).data.query).toBe('?r=eu');
    const before = api.requests.length;
    await expect(runtime.execute({ ...target, action: 'toSigning' })).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('signing') });
    expect(api.requests.length).toBe(before);
    expect(JSON.stringify(api.requests)).not.toContain('whsec_supersecret_123');
    await runtime.close();
  });
});
