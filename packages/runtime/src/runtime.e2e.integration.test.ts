import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryArtifactStore } from './artifacts/artifact-store.ts';
import { createRuntime, type Runtime } from './execute.ts';
import { createSandboxPool } from './sandbox/index.ts';
import type { SandboxPool } from './sandbox/types.ts';
import { sendJson, startMockServer } from './testing/mock-server.ts';
import { createMemoryUsageSink } from './usage/usage.ts';
import { generateMasterKey } from './vault/master-key.ts';
import { createMemoryVaultStore } from './vault/memory-store.ts';
import { createVault } from './vault/vault.ts';

// End to end: a real SDK connector bundled with esbuild, run by createRuntime in the real QuickJS sandbox
// pool (worker threads), calling a loopback mock API with the key injected by the host.
const API_KEY = 'key_live_9f8e7d6c5b4a3210';

async function bundle(source: string): Promise<string> {
  const out = await build({
    stdin: { contents: source, resolveDir: '/work/main', loader: 'ts' },
    bundle: true, format: 'esm', platform: 'neutral', write: false, mainFields: ['module', 'main'], conditions: ['import'], logLevel: 'silent',
  });
  return out.outputFiles[0]!.text;
}

const source = (origin: string) => `
import { defineConnector, defineAction, defineTrigger, ApiKeyAuth } from '@businessos/connector-sdk';
let seen = 0;
export default defineConnector({
  name: 'shop', version: '1.2.0', baseUrl: '${origin}/api', auth: new ApiKeyAuth({ name: 'X-Api-Key' }),
  test: { path: '/me' },
  actions: [
    defineAction({
      name: 'getOrder', description: 'Fetch an order', idempotent: true,
      params: { id: { type: 'string', required: true } },
      output: { type: 'object', properties: { id: { type: 'string' }, total: { type: 'number' } }, required: ['id', 'total'] },
      async execute(params, ctx) {
        ctx.log.info('fetching order', { id: params.id });
        return (await ctx.http.get('/orders/' + params.id)).data;
      },
    }),
    defineAction({
      name: 'harvest', description: 'Looks everywhere for the key',
      async execute(_p, ctx) {
        const echoed = (await ctx.http.get('/echo')).data;
        const found = [];
        const text = JSON.stringify({ echoed, fields: ctx.connection.fields, globals: Object.getOwnPropertyNames(globalThis) });
        if (text.includes('${API_KEY.slice(0, 8)}')) found.push('prefix-visible');
        ctx.log.info('echo ' + JSON.stringify(echoed));
        return { found, echoed };
      },
    }),
    defineAction({ name: 'spin', description: 'Never ends', async execute() { for (;;) {} } }),
  ],
  triggers: [
    defineTrigger({
      name: 'orderEvent', description: 'Order webhooks',
      output: { type: 'object', properties: { id: { type: 'string' }, seen: { type: 'number' } }, required: ['id'] },
      webhook: {
        topic: 'orders/create',
        async transform(delivery) {
          const body = delivery.body;
          seen += 1;
          if (body.kind === 'throw') throw new Error('cannot read delivery ' + body.n);
          if (body.kind === 'claim') throw { code: 'SANDBOX_DEADLINE', message: 'pretending the host stopped me' };
          if (body.kind === 'typed') throw { code: 'NON_RETRYABLE', message: 'not an order' };
          if (body.kind === 'scalar') return 5;
          if (body.kind === 'wrong') return [{ id: 3 }];
          if (body.kind === 'spin') for (;;) {}
          return [{ id: 'o' + body.n, seen }];
        },
      },
    }),
  ],
});
`;

let api: Awaited<ReturnType<typeof startMockServer>>;
let pool: SandboxPool;
let runtime: Runtime;
const usage = createMemoryUsageSink();
const logs: { message: string; data?: unknown }[] = [];

beforeAll(async () => {
  api = await startMockServer((req, res) => {
    if (req.headers['x-api-key'] !== API_KEY) return sendJson(res, 401, { error: 'bad key' });
    const p = req.url.pathname;
    if (p === '/api/me') return sendJson(res, 200, { shop: 'demo' });
    if (p.startsWith('/api/orders/')) return sendJson(res, 200, { id: p.slice('/api/orders/'.length), total: 99.5 });
    if (p === '/api/echo') return sendJson(res, 200, { headers: req.headers });
    sendJson(res, 404, { error: 'no route' });
  });
  const code = await bundle(source(api.origin));
  const artifacts = createMemoryArtifactStore();
  // No stored manifest: the runtime reads it from the bundle in the sandbox.
  artifacts.add({ name: 'shop', version: '1.2.0', code });
  pool = createSandboxPool({ workers: 1, limits: { deadlineMs: 2000 } });
  const vault = createVault({ store: createMemoryVaultStore(), masterKey: generateMasterKey() });
  await vault.putCredentials('tenant-a', 'conn-a', { apiKey: API_KEY });
  const logger = { debug() {}, info: (message: string, data?: Record<string, unknown>) => void logs.push({ message, data }), warn() {}, error() {} };
  runtime = createRuntime({ sandbox: pool, vault, artifacts, usage, logger, config: { allowLoopback: true, usage: { flushIntervalMs: 0 } } });
}, 60_000);

afterAll(async () => {
  await runtime?.close();
  await pool?.close();
  await api?.close();
});

const target = { tenant: 'tenant-a', connector: 'shop', version: '1.2.0', connection: { id: 'conn-a' } };

describe('runtime end to end (real sandbox, loopback API)', () => {
  it('executes an action in the sandbox with the key injected by the host, and meters it', async () => {
    const result = await runtime.execute({ ...target, action: 'getOrder', params: { id: '1001' } });
    expect(result.data).toEqual({ id: '1001', total: 99.5 });
    expect(result.meta).toMatchObject({ attempts: 1, httpCalls: 1 });
    expect(api.requests.at(-1)!.headers['x-api-key']).toBe(API_KEY);
    expect(logs).toContainEqual(expect.objectContaining({ message: 'fetching order', data: expect.objectContaining({ source: 'connector', data: { id: '1001' } }) }));
    await runtime.flushUsage();
    expect(usage.query({ tenant: 'tenant-a' })).toContainEqual(expect.objectContaining({ executionId: result.meta.executionId, action: 'getOrder', status: 'ok', httpCalls: 1 }));
  });

  it('keeps the key out of the guest even when the provider echoes it', async () => {
    const result = await runtime.execute<{ found: string[]; echoed: { headers: Record<string, string> } }>({ ...target, action: 'harvest' });
    expect(result.data.found).toEqual([]);
    expect(result.data.echoed.headers['x-api-key']).toBe('[REDACTED]');
    expect(JSON.stringify(logs)).not.toContain(API_KEY);
  });

  it('tests the connection and reads the manifest from a bundle', async () => {
    expect((await runtime.authenticate(target)).data).toEqual({ ok: true, checked: true, status: 200 });
    const manifest = await runtime.loadManifest({ code: (await runtime.load('shop', '1.2.0')).code });
    expect(manifest).toMatchObject({ name: 'shop', version: '1.2.0', hosts: [expect.stringMatching(/^127\.0\.0\.1:\d+$/)], actions: [expect.objectContaining({ name: 'getOrder', idempotent: true }), expect.anything(), expect.anything()], triggers: [expect.objectContaining({ name: 'orderEvent' })] });
  });

  it('validates params before the sandbox runs, and contains a runaway guest', async () => {
    await expect(runtime.execute({ ...target, action: 'getOrder', params: { id: 7 } })).rejects.toMatchObject({ code: 'INVALID_INPUT', path: '/id' });
    await expect(runtime.execute({ ...target, action: 'spin' })).rejects.toMatchObject({ code: 'SANDBOX_DEADLINE' });
    // The host keeps serving.
    expect((await runtime.execute({ ...target, action: 'getOrder', params: { id: '2' } })).data).toEqual({ id: '2', total: 99.5 });
  });

  it('transforms a batch of deliveries in one execution, each failing or succeeding on its own', async () => {
    const delivery = (body: Record<string, unknown>) => ({ headers: {}, query: {}, body, rawBody: JSON.stringify(body) });
    const kinds = ['ok', 'throw', 'claim', 'typed', 'scalar', 'wrong', 'ok'];
    const before = (await runtime.flushUsage(), usage.query({ tenant: 'tenant-a' }).length);
    const result = await runtime.transformDeliveries({ ...target, trigger: 'orderEvent', inputs: kinds.map((kind, n) => delivery({ kind, n })) });
    const outcomes = result.data;
    expect(outcomes).toHaveLength(kinds.length);
    expect(outcomes[0]).toEqual({ ok: true, events: [{ id: 'o0', seen: expect.any(Number) }] });
    expect(outcomes[1]).toEqual({ ok: false, error: expect.objectContaining({ code: 'INTERNAL', message: expect.stringContaining('cannot read delivery 1') }) });
    // A guest may not claim a code only the host assigns.
    expect(outcomes[2]).toEqual({ ok: false, error: expect.objectContaining({ code: 'INTERNAL', message: 'pretending the host stopped me' }) });
    expect(outcomes[3]).toEqual({ ok: false, error: expect.objectContaining({ code: 'NON_RETRYABLE' }) });
    expect(outcomes[4]).toEqual({ ok: false, error: expect.objectContaining({ code: 'INVALID_OUTPUT', message: expect.stringContaining('array of events') }) });
    expect(outcomes[5]).toEqual({ ok: false, error: expect.objectContaining({ code: 'INVALID_OUTPUT', path: '/0/id' }) });
    expect(outcomes[6]).toEqual({ ok: true, events: [{ id: 'o6', seen: expect.any(Number) }] });
    // One after another in the same sandbox: the module's counter moved by one per delivery.
    const seen = (i: number) => ((outcomes[i] as { events: { seen: number }[] }).events[0]!.seen);
    expect(seen(6) - seen(0)).toBe(6);
    await runtime.flushUsage();
    const records = usage.query({ tenant: 'tenant-a' }).slice(before);
    expect(records.filter((r) => r.action === 'trigger:orderEvent:transform')).toEqual([expect.objectContaining({ status: 'ok', executionId: result.meta.executionId })]);
  });

  it('fails a batch of transforms as a whole on a sandbox violation, and keeps serving', async () => {
    const delivery = (body: Record<string, unknown>) => ({ headers: {}, query: {}, body, rawBody: JSON.stringify(body) });
    await expect(runtime.transformDeliveries({ ...target, trigger: 'orderEvent', inputs: [delivery({ kind: 'ok', n: 1 }), delivery({ kind: 'spin', n: 2 })] })).rejects.toMatchObject({ code: 'SANDBOX_DEADLINE' });
    await expect(runtime.transformDeliveries({ ...target, trigger: 'nope', inputs: [delivery({ kind: 'ok', n: 1 })] })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(runtime.transformDeliveries({ ...target, trigger: 'orderEvent', inputs: 'not a list' as unknown as unknown[] })).rejects.toMatchObject({ code: 'INVALID_INPUT', path: '/inputs' });
    const again = await runtime.transformDeliveries({ ...target, trigger: 'orderEvent', inputs: [delivery({ kind: 'ok', n: 3 })] });
    expect(again.data).toEqual([{ ok: true, events: [{ id: 'o3', seen: expect.any(Number) }] }]);
  });
});
