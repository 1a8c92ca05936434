// Behaviour of the sandbox pool with real SDK-built bundles: calls, host bridge, warm reuse per tenant,
// isolation between tenants, quarantine, the watchdog and input validation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineBuildId } from './engine-build.ts';
import { createMemoryImageStore } from './image-store.ts';
import { createSandboxPool } from './pool.ts';
import { actionJob, bundleOf, buildSdkBundle, recordingHost, SAMPLE_CONNECTOR, type TestBundle } from './test-support.ts';

const pool = createSandboxPool({ workers: 2, limits: { deadlineMs: 5000 }, quarantine: { enabled: false } });
let sample: TestBundle;

beforeAll(async () => {
  sample = await buildSdkBundle(SAMPLE_CONNECTOR, 'sample@1.0.0');
});
afterAll(() => pool.close());

const stateful = bundleOf(`
  let counter = 0;
  export default {
    async executeAction(name, params) {
      if (name === 'set') { globalThis.secret = params.value; counter += 1; return { counter }; }
      if (name === 'get') return { secret: globalThis.secret ?? null, counter };
      if (name === 'loop') { for (;;) {} }
      throw Object.assign(new Error('unknown action ' + name), { code: 'NOT_FOUND' });
    },
  };
`, 'stateful@1.0.0');

describe('running SDK connectors', () => {
  it('runs an action and returns its JSON result', async () => {
    const r = await pool.run(actionJob('t1', sample, 'echo', { text: 'hi' }), recordingHost());
    expect(r).toMatchObject({ ok: true, value: { text: 'hi', upper: 'HI' } });
    expect(r.stats.resultBytes).toBeGreaterThan(0);
  });

  it('sends HTTP through the host and relays logs', async () => {
    const host = recordingHost(async (req) => ({ status: 200, headers: { 'content-type': 'application/json' }, data: { id: req.url } }));
    const r = await pool.run(actionJob('t1', sample, 'getThing', { id: '42' }), host);
    expect(r).toMatchObject({ ok: true, value: { status: 200, data: { id: '/things/42' } } });
    expect(host.requests).toEqual([expect.objectContaining({ method: 'GET', url: '/things/42' })]);
    expect(host.logs).toEqual([{ level: 'info', message: 'fetched', data: { id: '42' } }]);
    expect(r.stats.hostCalls).toBe(1);
  });

  it('maps a host transport failure to the connector error the SDK raises', async () => {
    const host = recordingHost(async () => ({ status: 404, headers: {}, data: { error: 'gone' } }));
    const r = await pool.run(actionJob('t1', sample, 'getThing', { id: 'x' }), host);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ code: 'NOT_FOUND', upstreamStatus: 404 });
  });

  it('passes host errors to the guest by code', async () => {
    const host = recordingHost(async () => {
      throw { code: 'EGRESS_DENIED', message: 'host evil.example is not declared' };
    });
    const r = await pool.run(actionJob('t1', sample, 'getThing', { id: 'x' }), host);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ code: 'EGRESS_DENIED', message: expect.stringContaining('evil.example') });
  });

  it('uses the host store', async () => {
    const host = recordingHost();
    expect(await pool.run(actionJob('t1', sample, 'remember', { value: 'v1' }), host)).toMatchObject({ ok: true, value: { before: null, after: 'v1' } });
    expect(await pool.run(actionJob('t1', sample, 'remember', { value: 'v2' }), host)).toMatchObject({ ok: true, value: { before: 'v1', after: 'v2' } });
    expect(host.store.get('k')).toBe('v2');
  });

  it('reports a store the host does not offer', async () => {
    const host = recordingHost();
    const { storeGet: _g, storeSet: _s, storeDelete: _d, ...noStore } = host;
    const r = await pool.run(actionJob('t1', sample, 'remember', { value: 'v' }), noStore);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('NOT_IMPLEMENTED');
  });

  it('passes typed connector errors through by code', async () => {
    const r = await pool.run(actionJob('t1', sample, 'missing'), recordingHost());
    expect(r).toMatchObject({ ok: false, error: { code: 'NOT_FOUND', message: 'no such thing' } });
    const unknown = await pool.run(actionJob('t1', sample, 'nope'), recordingHost());
    expect(unknown).toMatchObject({ ok: false, error: { code: 'NOT_FOUND', message: expect.stringContaining('nope') } });
  });

  it('returns the manifest on a dry load', async () => {
    const r = await pool.run({ tenant: 't1', bundle: sample, call: { kind: 'manifest' } }, recordingHost());
    expect(r).toMatchObject({ ok: true, value: { manifestVersion: 1, name: 'sample', hosts: ['api.example.com'], auth: { type: 'api_key', name: 'X-Api-Key' } } });
  });

  it('runs authenticate and trigger steps', async () => {
    const bundle = await buildSdkBundle(`
      import { defineConnector, defineAction, defineTrigger } from '@businessos/connector-sdk';
      export default defineConnector({
        name: 'trig', version: '1.0.0', baseUrl: 'https://api.example.com', test: { path: '/me' },
        actions: [defineAction({ name: 'noop', description: 'nothing', async execute() { return {}; } })],
        triggers: [defineTrigger({ name: 'newItem', description: 'new items', polling: { intervalSeconds: 60, dedupe: { by: 'id', path: '/id' },
          async poll(ctx, state) { const res = await ctx.http.get('/items', { query: { since: state?.cursor ?? 0 } }); return { items: res.data.items, state: { cursor: 7 } }; } } })],
      });
    `, 'trig@1.0.0');
    const host = recordingHost(async (req) => ({ status: 200, headers: {}, data: req.url === '/items' ? { items: [{ id: 1 }] } : { me: true } }));
    expect(await pool.run({ tenant: 't1', bundle, call: { kind: 'authenticate' } }, host)).toMatchObject({ ok: true, value: { ok: true, checked: true, status: 200 } });
    const polled = await pool.run({ tenant: 't1', bundle, call: { kind: 'trigger', trigger: 'newItem', operation: 'poll', input: { cursor: 3 } } }, host);
    expect(polled.ok).toBe(true);
    expect(JSON.stringify(polled)).toContain('"id":1');
    expect(host.requests[1]).toMatchObject({ url: '/items', query: { since: 3 } });
  });

  it('gives the guest the connection fields', async () => {
    const bundle = bundleOf('export default { async executeAction(a, p, env) { return env.connection; } };', 'fields@1.0.0');
    const r = await pool.run({ ...actionJob('t1', bundle, 'x'), connection: { fields: { shop: 'demo' } } }, recordingHost());
    expect(r).toMatchObject({ ok: true, value: { fields: { shop: 'demo' } } });
  });

  it('refuses a bundle whose code does not match its sha256', async () => {
    const r = await pool.run(actionJob('t1', { ...sample, sha256: 'f'.repeat(64), key: 'tampered@1.0.0' }, 'echo', { text: 'x' }), recordingHost());
    expect(r).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
  });

  it('reports a bundle that fails to load, and one with no default export', async () => {
    const broken = await pool.run(actionJob('t1', bundleOf('export default {; syntax error', 'syntax@1.0.0'), 'x'), recordingHost());
    expect(broken).toMatchObject({ ok: false, error: { code: 'INVALID_OUTPUT', message: expect.stringContaining('failed to load') } });
    const empty = await pool.run(actionJob('t1', bundleOf('export const x = 1;', 'nodefault@1.0.0'), 'x'), recordingHost());
    expect(empty).toMatchObject({ ok: false, error: { code: 'INVALID_OUTPUT', message: expect.stringContaining('default export') } });
  });

  it('rejects malformed jobs', async () => {
    const r = await pool.run({ tenant: '', bundle: sample, call: { kind: 'manifest' } }, recordingHost());
    expect(r).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
    // A job without a bundle (a JavaScript caller) is refused with a clear error, not a TypeError.
    const noBundle = await pool.run({ tenant: 't1', call: { kind: 'manifest' } } as never, recordingHost());
    expect(noBundle).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', message: expect.stringContaining('bundle.key') } });
  });
});

describe('warm sandboxes and tenant isolation', () => {
  it('reuses a warm sandbox for the same tenant and bundle', async () => {
    await pool.run(actionJob('warm-a', stateful, 'set', { value: 'a-secret' }), recordingHost());
    const again = await pool.run(actionJob('warm-a', stateful, 'get'), recordingHost());
    expect(again).toMatchObject({ ok: true, value: { secret: 'a-secret', counter: 1 } });
    expect(again.stats.warm).toBe(true);
  });

  it('never shows one tenant\'s globals to another tenant', async () => {
    await pool.run(actionJob('iso-a', stateful, 'set', { value: 'only-for-a' }), recordingHost());
    for (let i = 0; i < 4; i += 1) {
      const b = await pool.run(actionJob('iso-b', stateful, 'get'), recordingHost());
      expect(b).toMatchObject({ ok: true, value: { secret: null } });
    }
  });

  it('does not reuse a sandbox across different code for the same key', async () => {
    await pool.run(actionJob('ver', stateful, 'set', { value: 'old-code' }), recordingHost());
    const changed = bundleOf(stateful.code + '\n// rebuilt', stateful.key);
    const r = await pool.run(actionJob('ver', changed, 'get'), recordingHost());
    expect(r).toMatchObject({ ok: true, value: { secret: null, counter: 0 }, stats: { warm: false } });
  });

  it('gives the same tenant a fresh sandbox after a violation', async () => {
    const small = createSandboxPool({ workers: 1, limits: { deadlineMs: 800 }, quarantine: { enabled: false } });
    try {
      await small.run(actionJob('viol', stateful, 'set', { value: 'before' }), recordingHost());
      const loop = await small.run(actionJob('viol', stateful, 'loop'), recordingHost());
      expect(loop).toMatchObject({ ok: false, error: { code: 'SANDBOX_DEADLINE' } });
      const after = await small.run(actionJob('viol', stateful, 'get'), recordingHost());
      expect(after).toMatchObject({ ok: true, value: { secret: null, counter: 0 }, stats: { warm: false } });
    } finally {
      await small.close();
    }
  });
});

describe('code cache', () => {
  it('resends a bundle the worker has evicted from its code cache', async () => {
    const small = createSandboxPool({ workers: 1, maxCodeCachePerWorker: 1, maxWarmPerWorker: 1, quarantine: { enabled: false } });
    try {
      const other = bundleOf('export default { async executeAction() { return { other: true }; } };', 'other@1.0.0');
      expect(await small.run(actionJob('cc', stateful, 'get'), recordingHost())).toMatchObject({ ok: true });
      expect(await small.run(actionJob('cc', other, 'x'), recordingHost())).toMatchObject({ ok: true, value: { other: true } });
      // Neither a warm sandbox nor the code of the first bundle is left in the worker: it must ask for the code again.
      expect(await small.run(actionJob('cc-2', stateful, 'get'), recordingHost())).toMatchObject({ ok: true, value: { secret: null }, stats: { warm: false } });
    } finally {
      await small.close();
    }
  });
});

describe('quarantine', () => {
  it("refuses a bundle key to the tenant whose executions keep violating, not to other tenants; lists it and lets an operator clear it", async () => {
    let clock = 1_000_000;
    const q = createSandboxPool({ workers: 1, limits: { deadlineMs: 300 }, quarantine: { threshold: 2, windowMs: 60_000, coolOffMs: 120_000 }, now: () => clock });
    try {
      expect((await q.run(actionJob('q', stateful, 'loop'), recordingHost())).ok).toBe(false);
      expect(q.quarantined()).toEqual([]);
      expect((await q.run(actionJob('q', stateful, 'loop'), recordingHost())).ok).toBe(false);
      const refused = await q.run(actionJob('q', stateful, 'get'), recordingHost());
      expect(refused).toMatchObject({ ok: false, error: { code: 'QUARANTINED', retryAfter: 120, message: expect.stringContaining('for tenant q only') } });
      // Another tenant's executions of the same version are not affected by q's violations.
      expect(await q.run(actionJob('other-tenant', stateful, 'get'), recordingHost())).toMatchObject({ ok: true });
      expect(q.quarantined()).toEqual([expect.objectContaining({ bundleKey: 'stateful@1.0.0', scope: 'tenant', tenant: 'q', violations: 2, lastError: expect.objectContaining({ code: 'SANDBOX_DEADLINE' }) })]);
      expect(q.stats().quarantined).toBe(1);
      // Other bundles keep running for q.
      expect(await q.run(actionJob('q', sample, 'echo', { text: 'ok' }), recordingHost())).toMatchObject({ ok: true });
      q.clearQuarantine('stateful@1.0.0', 'q');
      expect(await q.run(actionJob('q', stateful, 'get'), recordingHost())).toMatchObject({ ok: true });
      // The cool-off also ends by itself.
      await q.run(actionJob('q', stateful, 'loop'), recordingHost());
      await q.run(actionJob('q', stateful, 'loop'), recordingHost());
      expect((await q.run(actionJob('q', stateful, 'get'), recordingHost())).ok).toBe(false);
      clock += 121_000;
      expect(await q.run(actionJob('q', stateful, 'get'), recordingHost())).toMatchObject({ ok: true });
    } finally {
      await q.close();
    }
  });

  it('refuses a bundle key to every tenant once violations come from three tenants within the window', async () => {
    const q = createSandboxPool({ workers: 1, limits: { deadlineMs: 300 }, quarantine: { threshold: 2, windowMs: 60_000, coolOffMs: 120_000 } });
    try {
      for (const tenant of ['q', 'r']) expect(await q.run(actionJob(tenant, stateful, 'loop'), recordingHost())).toMatchObject({ ok: false, error: { code: 'SANDBOX_DEADLINE' } });
      expect(await q.run(actionJob('bystander', stateful, 'get'), recordingHost())).toMatchObject({ ok: true });
      expect(await q.run(actionJob('s', stateful, 'loop'), recordingHost())).toMatchObject({ ok: false, error: { code: 'SANDBOX_DEADLINE' } });
      const refused = await q.run(actionJob('bystander', stateful, 'get'), recordingHost());
      expect(refused).toMatchObject({ ok: false, error: { code: 'QUARANTINED', retryAfter: 120, message: expect.stringContaining('for every tenant') } });
      expect(q.quarantined()).toEqual([expect.objectContaining({ bundleKey: 'stateful@1.0.0', scope: 'everyone', tenants: ['q', 'r', 's'], violations: 3 })]);
      q.clearQuarantine('stateful@1.0.0');
      expect(await q.run(actionJob('bystander', stateful, 'get'), recordingHost())).toMatchObject({ ok: true });
    } finally {
      await q.close();
    }
  });
});

describe('watchdog', () => {
  it('terminates and replaces a worker whose guest the interrupt handler cannot stop', async () => {
    const w = createSandboxPool({ workers: 1, limits: { deadlineMs: 300 }, watchdogGraceMs: 200, engineInterrupts: false, quarantine: { enabled: false } });
    try {
      const r = await w.run(actionJob('wd', stateful, 'loop'), recordingHost());
      expect(r).toMatchObject({ ok: false, error: { code: 'SANDBOX_DEADLINE', message: expect.stringContaining('terminated') } });
      expect(w.stats().workerRestarts).toBe(1);
      expect(await w.run(actionJob('wd', stateful, 'get'), recordingHost())).toMatchObject({ ok: true, value: { secret: null } });
    } finally {
      await w.close();
    }
  });

  it('blames only the overrunning job: a job that shared its worker fails without a violation of its own bundle', async () => {
    const w = createSandboxPool({ workers: 1, jobsPerWorker: 2, limits: { deadlineMs: 300 }, watchdogGraceMs: 200, engineInterrupts: false, quarantine: { threshold: 1 } });
    try {
      const waiting = bundleOf('export default { async executeAction(a, p, env) { return env.transport({ method: "GET", url: "/slow" }); } };', 'bystander@1.0.0');
      let asked: () => void = () => undefined;
      const sent = new Promise<void>((resolve) => (asked = resolve));
      const bystander = w.run(actionJob('b', waiting, 'x', {}, { limits: { deadlineMs: 10_000 } }), recordingHost(() => {
        asked();
        return new Promise(() => {});
      }));
      await sent;
      expect(await w.run(actionJob('l', stateful, 'loop'), recordingHost())).toMatchObject({ ok: false, error: { code: 'SANDBOX_DEADLINE' } });
      expect(await bystander).toMatchObject({ ok: false, error: { code: 'SANDBOX_CRASH' } });
      expect(w.quarantined().map((e) => e.bundleKey)).toEqual(['stateful@1.0.0']);
      expect(w.stats().violations).toBe(1);
    } finally {
      await w.close();
    }
  });

  it('fails queued and running jobs cleanly when the pool closes', async () => {
    const c = createSandboxPool({ workers: 1, limits: { deadlineMs: 10_000 } });
    const running = c.run(actionJob('c', stateful, 'loop'), recordingHost());
    const queued = c.run(actionJob('c', stateful, 'get'), recordingHost());
    await new Promise((r) => setTimeout(r, 300));
    await c.close();
    expect(await running).toMatchObject({ ok: false, error: { code: 'SANDBOX_CRASH' } });
    expect(await queued).toMatchObject({ ok: false, error: { code: 'SANDBOX_CRASH' } });
    expect(await c.run(actionJob('c', stateful, 'get'), recordingHost())).toMatchObject({ ok: false, error: { code: 'SANDBOX_CRASH' } });
  });
});

describe('sandbox images', () => {
  it('starts later cold sandboxes of a bundle from the image of its first load, without the first tenant state', async () => {
    const images = createMemoryImageStore();
    const own = createSandboxPool({ workers: 2, images, quarantine: { enabled: false } });
    try {
      const bundle = bundleOf(`${stateful.code}\n// images ${Date.now()}`, 'stateful-images@1.0.0');
      const first = await own.run(actionJob('tenant-a', bundle, 'set', { value: 'a-secret' }), recordingHost());
      expect(first).toMatchObject({ ok: true, stats: { warm: false } });
      expect(first.stats.restored).toBeUndefined();
      // The first load's image reached the store, stamped with this engine build.
      await expect.poll(() => images.get(engineBuildId(), bundle.sha256)).toBeInstanceOf(Uint8Array);
      // Another tenant: a cold start from the image, on either worker, that sees none of tenant-a's state.
      for (const tenant of ['tenant-b', 'tenant-c', 'tenant-d']) {
        const r = await own.run(actionJob(tenant, bundle, 'get', {}), recordingHost());
        expect(r).toMatchObject({ ok: true, value: { secret: null, counter: 0 }, stats: { warm: false, restored: true } });
      }
    } finally {
      await own.close();
    }
  });

  it('shares images between pools through the store, and can be turned off', async () => {
    const images = createMemoryImageStore();
    const bundle = bundleOf(`${stateful.code}\n// shared ${Date.now()}`, 'stateful-shared@1.0.0');
    const publisher = createSandboxPool({ workers: 1, images });
    await publisher.run(actionJob('dry-load', bundle, 'get', {}), recordingHost());
    await publisher.close();
    await expect.poll(() => images.get(engineBuildId(), bundle.sha256)).toBeInstanceOf(Uint8Array);

    const consumer = createSandboxPool({ workers: 1, images });
    const off = createSandboxPool({ workers: 1, images: false });
    try {
      expect(await consumer.run(actionJob('t1', bundle, 'get', {}), recordingHost())).toMatchObject({ ok: true, stats: { restored: true } });
      const parsed = await off.run(actionJob('t1', bundle, 'get', {}), recordingHost());
      expect(parsed).toMatchObject({ ok: true, value: { counter: 0 } });
      expect(parsed.stats.restored).toBeUndefined();
    } finally {
      await consumer.close();
      await off.close();
    }
  });

  it('parses the bundle when the store fails or holds garbage', async () => {
    const bundle = bundleOf(`${stateful.code}\n// garbage ${Date.now()}`, 'stateful-garbage@1.0.0');
    const failing = createSandboxPool({ workers: 1, images: { get: () => Promise.reject(new Error('store down')), put: () => Promise.reject(new Error('store down')) } });
    const garbage = createSandboxPool({ workers: 1, images: { get: () => new Uint8Array([1, 2, 3]), put: () => undefined } });
    try {
      for (const pool of [failing, garbage]) {
        const r = await pool.run(actionJob('t1', bundle, 'get', {}), recordingHost());
        expect(r).toMatchObject({ ok: true, value: { secret: null, counter: 0 } });
        expect(r.stats.restored).toBeUndefined();
      }
    } finally {
      await failing.close();
      await garbage.close();
    }
  });
});
