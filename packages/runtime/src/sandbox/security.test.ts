// Security suite, part 1: escape attempts and secret harvesting. Every attack runs through the real pool
// (worker threads, QuickJS WebAssembly sandboxes) and is followed by a normal job on the same pool.
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError } from '@businessos/connector-sdk';
import { createSandboxPool } from './pool.ts';
import { actionJob, bundleOf, buildSdkBundle, recordingHost, type RecordingHost, type TestBundle } from './test-support.ts';
import type { SandboxResult } from './types.ts';

const escapes = bundleOf(readFileSync(new URL('../../test-bundles/escapes.mjs', import.meta.url), 'utf8'), 'escapes@1.0.0');
const healthy = bundleOf('export default { async executeAction(a, p) { return { action: a, params: p, sum: p.x + p.y }; } };', 'healthy@1.0.0');
const pool = createSandboxPool({ workers: 2, limits: { deadlineMs: 3000, memoryBytes: 32 * 1024 * 1024 }, quarantine: { enabled: false } });

afterAll(() => pool.close());

function failingHost(): RecordingHost {
  return recordingHost((req) => {
    if (req.url === '/fail') throw new ConnectorError('UPSTREAM_ERROR', 'upstream refused', { upstreamStatus: 500, details: { hostOnly: true } });
    return { status: 200, headers: {}, data: { ok: true } };
  });
}

async function attack(action: string, params: unknown = {}, host: RecordingHost = failingHost()): Promise<SandboxResult> {
  return pool.run(actionJob('tenant-evil', escapes, action, params), host);
}

async function expectHealthy(): Promise<void> {
  const r = await pool.run(actionJob('tenant-good', healthy, 'add', { x: 2, y: 3 }, { limits: { deadlineMs: 15_000 } }), recordingHost());
  expect(r).toMatchObject({ ok: true, value: { action: 'add', params: { x: 2, y: 3 }, sum: 5 } });
}

function noEscape(value: unknown): void {
  const text = JSON.stringify(value);
  expect(text).not.toContain('"escaped":true');
  expect(text).toContain('"escaped":false');
}

function valueOf(r: SandboxResult): unknown {
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r.error)}`);
  return r.value;
}

describe('escape attempts', () => {
  it('constructor chains reach only the guest Function, which has no process', async () => {
    noEscape(valueOf(await attack('constructorChain')));
    await expectHealthy();
  });

  it('Function("return this")() is the guest global, holding only standard built-ins', async () => {
    const v = valueOf(await attack('functionReturnThis')) as { names: string[]; same: boolean };
    expect(v.same).toBe(true);
    const allowed = new Set([
      'AggregateError', 'Array', 'ArrayBuffer', 'BigInt', 'BigInt64Array', 'BigUint64Array', 'Boolean', 'DataView', 'Date', 'Error',
      'EvalError', 'FinalizationRegistry', 'Float32Array', 'Float64Array', 'Function', 'Infinity', 'Int16Array', 'Int32Array', 'Int8Array',
      'InternalError', 'Iterator', 'JSON', 'Map', 'Math', 'NaN', 'Number', 'Object', 'Promise', 'Proxy', 'RangeError', 'ReferenceError',
      'Reflect', 'RegExp', 'Set', 'String', 'Symbol', 'SyntaxError', 'TypeError', 'URIError', 'Uint16Array', 'Uint32Array', 'Uint8Array',
      'Uint8ClampedArray', 'WeakMap', 'WeakRef', 'WeakSet', 'decodeURI', 'decodeURIComponent', 'encodeURI', 'encodeURIComponent',
      'escape', 'eval', 'globalThis', 'isFinite', 'isNaN', 'parseFloat', 'parseInt', 'structuredClone', 'undefined', 'unescape',
      'Float16Array', 'SuppressedError', 'DisposableStack', 'AsyncDisposableStack', 'Atomics', 'SharedArrayBuffer', 'performance',
    ]);
    const unexpected = v.names.filter((n) => !allowed.has(n));
    expect(unexpected).toEqual([]);
    expect(v.names).toContain('structuredClone');
    await expectHealthy();
  });

  it('env functions, params and connection climb to nothing of the host', async () => {
    noEscape(valueOf(await attack('envObjects', { a: 1 })));
    await expectHealthy();
  });

  it('no Node or web globals exist in the guest', async () => {
    expect(valueOf(await attack('globals'))).toEqual({
      process: 'undefined', require: 'undefined', module: 'undefined', Buffer: 'undefined', setTimeout: 'undefined', setInterval: 'undefined',
      fetch: 'undefined', WebAssembly: 'undefined', SharedArrayBuffer: 'undefined', Atomics: 'undefined', importScripts: 'undefined',
      Deno: 'undefined', Bun: 'undefined',
    });
    await expectHealthy();
  });

  it('dynamic import() of node:fs, child_process, files and data URLs fails', async () => {
    const v = valueOf(await attack('dynamicImport')) as Record<string, { escaped: boolean; threw?: string }>;
    expect(Object.keys(v)).toHaveLength(8);
    for (const r of Object.values(v)) expect(r).toMatchObject({ escaped: false, threw: expect.any(String) });
    noEscape(valueOf(await attack('importInside')));
    await expectHealthy();
  });

  it('a bundle that imports a Node module statically does not load', async () => {
    const r = await pool.run(actionJob('tenant-evil', bundleOf('import fs from "node:fs"; export default { executeAction() { return fs.readFileSync("/etc/passwd", "utf8"); } };', 'static-import@1.0.0'), 'x'), recordingHost());
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('INVALID_OUTPUT');
    await expectHealthy();
  });

  it('prototype pollution stays in the guest: the host gets JSON copies', async () => {
    const params = { nested: { a: 1 } };
    const r = await attack('pollute', params);
    expect(valueOf(r)).toEqual({ hijacked: true });
    const probe: Record<string, unknown> = {};
    expect(probe.pollutedByGuest).toBeUndefined();
    expect(probe.pollutedByGuest2).toBeUndefined();
    expect(probe.pollutedByGuest3).toBeUndefined();
    expect(([] as unknown as Record<string, unknown>).pollutedArray).toBeUndefined();
    expect(JSON.parse('{"a":1}')).toEqual({ a: 1 });
    expect(params).toEqual({ nested: { a: 1 } });
    expect(Object.getPrototypeOf(params)).toBe(Object.prototype);

    const crafted = valueOf(await attack('protoResult')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(crafted)).toBe(Object.prototype);
    expect(Object.hasOwn(crafted, '__proto__')).toBe(true);
    expect(probe.pollutedViaResult).toBeUndefined();
    expect(probe.pollutedViaResult2).toBeUndefined();

    const host = failingHost();
    await attack('pollutedRequest', {}, host);
    expect(host.requests).toHaveLength(1);
    expect(Object.getPrototypeOf(host.requests[0])).toBe(Object.prototype);
    expect(probe.pollutedViaRequest).toBeUndefined();
    expect(probe.pollutedViaRequest2).toBeUndefined();
    await expectHealthy();
  });

  it('Error.prepareStackTrace sees only guest frames; host errors arrive as plain data without stack or details (GHSA-7jxr-cg7f-gpgv)', async () => {
    const v = valueOf(await attack('prepareStackTrace')) as { seen: unknown[]; hostErrorKeys: string[]; hostErrorStack: string; hostError: unknown };
    noEscape(v.hostError);
    expect(JSON.stringify(v.seen)).not.toContain('"escaped":true');
    expect(v.hostErrorKeys).not.toContain('details');
    expect(v.hostErrorStack).not.toMatch(/node:|\/work\/|file:/);
    await expectHealthy();
  });

  it('a stack-overflow exception caught in the guest is a guest object (GHSA-ch3r-j5x3-6q2m)', async () => {
    noEscape(valueOf(await attack('stackOverflowException')));
    await expectHealthy();
  });

  it('a thrown Proxy with an overflowing trap gives nothing (GHSA-whpj-8f3w-67p5)', async () => {
    noEscape(valueOf(await attack('proxyThrown')));
    await expectHealthy();
  });

  it('custom inspect functions and proxies given to the logger reach the host as JSON (GHSA-g644-9gfx-q4q4, GHSA-v37h-5mfm-c47c)', async () => {
    const host = failingHost();
    const v = valueOf(await attack('inspectLog', {}, host));
    expect(v).toEqual({ inspected: null });
    expect(host.logs).toHaveLength(2);
    // Symbol keys (the inspect hook) do not survive JSON; the proxy was serialised by the guest, so whatever its
    // traps produced is already plain data (here its toJSON trap answered 'owned' inside the guest).
    expect(host.logs[0]?.data).toEqual({});
    expect(typeof host.logs[1]?.data).toBe('string');
    expect(() => inspect(host.logs, { depth: 5, customInspect: true })).not.toThrow();
    expect(inspect(host.logs[0]?.data)).toBe('{}');
    await expectHealthy();
  });

  it('Promise.prototype.then and Symbol.species overrides see only guest values (GHSA-cchq-frgv-rjh5, GHSA-qvjj-29qf-hp7p)', async () => {
    const v = valueOf(await attack('promiseSpecies')) as { results: unknown[] };
    expect(JSON.stringify(v)).not.toContain('"escaped":true');
    await expectHealthy();
  });

  it('__lookupGetter__("__proto__") climbs only guest prototypes (GHSA-grj5-jjm8-h35p)', async () => {
    noEscape(valueOf(await attack('lookupGetter')));
    await expectHealthy();
  });

  it('AggregateError/SuppressedError wrapping host failures holds only guest errors (GHSA-55hx-c926-fr95)', async () => {
    noEscape(valueOf(await attack('suppressedError')));
    await expectHealthy();
  });

  it('direct and indirect eval reach nothing of the host', async () => {
    noEscape(valueOf(await attack('evalHostObject')));
    await expectHealthy();
  });

  it('a Proxy returned as the result is serialised inside the guest; its traps never run on the host', async () => {
    const r = await attack('proxyResult');
    expect(valueOf(r)).toMatchObject({ a: 1 });
    for (const d of Object.values(Object.getOwnPropertyDescriptors(valueOf(r)))) expect(d).toHaveProperty('value');
    expect(Object.getPrototypeOf(valueOf(r))).toBe(Object.prototype);
    const g = valueOf(await attack('getterResult'));
    expect(Object.getOwnPropertyDescriptor(g, 'secret')).toMatchObject({ value: 'computed in guest', writable: true });
    await expectHealthy();
  });

  it('thenables returned as results are settled in the guest; one that never settles fails cleanly', async () => {
    expect(valueOf(await attack('thenableResult'))).toEqual({ fromThenable: true });
    const r = await attack('thenableNever');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('INTERNAL');
    await expectHealthy();
  });

  it('a guest cannot forge host-only error codes, even through a Proxy', async () => {
    for (const action of ['throwProxy', 'forgeCode']) {
      const r = await attack(action);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('INTERNAL');
    }
    await expectHealthy();
  });

  it('non-JSON results become JSON (functions and symbols dropped) or a clear error', async () => {
    expect(valueOf(await attack('weirdResult'))).toEqual({ date: '1970-01-01T00:00:00.000Z', nan: null });
    for (const action of ['circularResult', 'bigintResult']) {
      const r = await attack(action);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('INTERNAL');
    }
    await expectHealthy();
  });

  it('a transport kept from an earlier execution cannot call the host between executions', async () => {
    const host = failingHost();
    expect(valueOf(await pool.run(actionJob('tenant-keep', escapes, 'hostCallOutsideExecution'), host))).toEqual({ saved: true });
    // The next execution of the same tenant reuses the warm sandbox; calls made through the old env are still counted
    // against (and answered by) the current execution's host only.
    const other = failingHost();
    const r = await pool.run(actionJob('tenant-keep', escapes, 'useSavedTransport'), other);
    expect(host.requests).toHaveLength(0);
    expect(r.ok ? other.requests.map((q) => q.url) : []).toEqual(r.ok ? ['/late'] : []);
    await expectHealthy();
  });
});

describe('secret harvesting', () => {
  const SECRET = 'sk_live_51HxSECRETvalue0123456789';
  let harvester: TestBundle;

  beforeAll(async () => {
    harvester = await buildSdkBundle(`
      import { defineConnector, defineAction, BearerTokenAuth } from '@businessos/connector-sdk';
      function scan(root) {
        const seen = new Set();
        const out = [];
        const visit = (v, depth) => {
          if (depth > 6 || v === null || v === undefined) return;
          if (typeof v === 'string') { out.push(v); return; }
          if (typeof v !== 'object' && typeof v !== 'function') { out.push(String(v)); return; }
          if (seen.has(v)) return;
          seen.add(v);
          let keys = [];
          try { keys = Reflect.ownKeys(v); } catch (e) { return; }
          for (const k of keys) {
            out.push(String(k));
            try {
              const d = Object.getOwnPropertyDescriptor(v, k);
              if (d && 'value' in d) visit(d.value, depth + 1);
            } catch (e) {}
          }
          try { visit(Object.getPrototypeOf(v), depth + 1); } catch (e) {}
        };
        visit(root, 0);
        return out;
      }
      export default defineConnector({
        name: 'harvester', version: '1.0.0', baseUrl: 'https://api.example.com',
        auth: new BearerTokenAuth(),
        actions: [defineAction({ name: 'harvest', description: 'looks everywhere for the secret', async execute(params, ctx) {
          const found = [];
          const ok = await ctx.http.get('/me');
          found.push(...scan(ok));
          try { await ctx.http.get('/fail'); } catch (e) { found.push(...scan(e), String(e.stack)); }
          found.push(...scan(globalThis), ...scan(ctx), String(new Error('probe').stack));
          found.push(...scan(await ctx.store.get('anything')));
          ctx.log.info('harvest', { found: found.slice(0, 50) });
          return { found };
        } })],
      });
    `, 'harvester@1.0.0');
  });

  it('credentials added by the host transport are not visible anywhere in the guest', async () => {
    // The simulated host adds the secret on its side of the boundary, like the runtime's credential injection.
    const sent: Record<string, string>[] = [];
    const host = recordingHost(async (req) => {
      const headers = { ...(req.headers ?? {}), authorization: `Bearer ${SECRET}` };
      sent.push(headers);
      if (req.url === '/fail') {
        const err = new ConnectorError('UPSTREAM_ERROR', 'upstream refused the call', { upstreamStatus: 401, details: { requestHeaders: headers } });
        throw err;
      }
      return { status: 200, headers: { 'content-type': 'application/json' }, data: { id: 'me', plan: 'pro' } };
    });
    const r = await pool.run({ ...actionJob('tenant-a', harvester, 'harvest'), connection: { fields: { shop: 'demo' } } }, host);
    expect(r.ok).toBe(true);
    expect(sent).toHaveLength(2);
    expect(sent[0]?.authorization).toContain(SECRET);
    const everything = JSON.stringify(r) + JSON.stringify(host.logs);
    expect(everything).toContain('plan');
    expect(everything).not.toContain(SECRET);
    await expectHealthy();
  });
});
