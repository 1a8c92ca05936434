// Security suite, part 3: attacks the first two parts do not try. Interrupts swallowed by promises, hostile
// results and arguments (deep, cyclic, self-serialising, invalid UTF-16), job floods, expensive built-ins, glue
// subversion, cross-tenant state and quota evasion. Every attack must end in a clear error for its own execution
// only, and the same pool must then serve a normal job.
import { afterAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '@businessos/connector-sdk';
import { createSandboxPool } from './pool.ts';
import { warmKeyOf } from './protocol.ts';
import { createQuickJSEngine } from './quickjs-engine.ts';
import { actionJob, bundleOf, recordingHost, type RecordingHost } from './test-support.ts';
import type { EngineHostBridge, SandboxJob, SandboxResult } from './types.ts';

const LIMITS = { deadlineMs: 1000, memoryBytes: 32 * 1024 * 1024, maxHostCalls: 50, maxLogBytes: 8 * 1024, maxResultBytes: 1024 * 1024 };

// One hand-written bundle with an action per attack (`a` is the action name, `p` the params, `env` the host bridge).
const attacks = bundleOf(`
let remembered = null;
const received = [];
const deep = (n, wrap) => { let v = 0; for (let i = 0; i < n; i++) v = wrap(v); return v; };
const actions = {
  // Interrupts turned into rejections: each retry runs after the deadline fired and tries to reach the host.
  retryInReaction(p, env) {
    const again = () => Promise.resolve().then(() => { for (;;) {} }).catch(() => { env.log('info', 'after the deadline'); env.transport({ method: 'GET', url: '/late' }).catch(() => {}); again(); });
    again();
    return new Promise(() => {});
  },
  retryInAsync(p, env) {
    const again = () => (async () => { for (;;) {} })().catch(() => { env.transport({ method: 'GET', url: '/late' }).catch(() => {}); again(); });
    again();
    return 'returned at once';
  },
  retryInExecutor(p, env) {
    const again = () => new Promise(() => { for (;;) {} }).catch(() => { env.log('info', 'after the deadline'); again(); });
    again();
    return new Promise(() => {});
  },
  microtaskChain() { const f = () => Promise.resolve().then(f); f(); return 'resolved'; },
  millionJobs() { for (let i = 0; i < 1e6; i++) Promise.resolve(i).then(() => {}); return 'resolved'; },
  loopingFinally() { try { for (;;) {} } finally { for (;;) {} } },
  async asyncGeneratorFinally(p, env) {
    async function* gen() { try { for (;;) { yield 1; } } finally { await env.transport({ method: 'GET', url: '/late' }); } }
    for await (const _ of gen()) { /* spins through the generator's jobs */ }
  },
  // Hostile results.
  toJSONThrows() { return { toJSON() { throw Object.assign(new Error('toJSON refused'), { code: 'CONFLICT' }); } }; },
  toJSONLoops() { return { toJSON() { for (;;) {} } }; },
  ownKeysLoops() { return new Proxy({}, { ownKeys() { for (;;) {} } }); },
  toPrimitive() { return { a: { [Symbol.toPrimitive]() { throw new Error('never called'); }, valueOf() { for (;;) {} } } }; },
  deepResult(p) { return deep(p.n, (v) => [v]); },
  deepRequest(p, env) { return env.transport({ method: 'POST', url: '/deep', body: deep(p.n, (v) => ({ v })) }); },
  deepLog(p, env) { env.log('info', 'deep', deep(p.n, (v) => [v])); return 'logged'; },
  async surrogates(p, env) {
    env.log('info', 'lone \\uD800 surrogate', { s: '\\uDC00' });
    const answer = await env.transport({ method: 'GET', url: '/\\uD800' });
    return { lone: '\\uD800', pair: '\\uD83D\\uDE00', reversed: '\\uDC00\\uD800', echoed: answer.data.echo.url };
  },
  // Expensive built-ins.
  sortLoops() { const xs = Array.from({ length: 100 }, (_, i) => i); xs.sort(() => { for (;;) {} }); },
  normalizeHuge() { return '\\u1E9B\\u0323'.repeat(2000000).normalize('NFKD').length; },
  typedArrayNearCap(p) { return new Uint8Array(p.bytes).length; },
  resizeBeyondCap() {
    const b = new ArrayBuffer(8, { maxByteLength: 1 << 30 });
    try { b.resize(1 << 30); return 'resized'; } catch (e) { return String(e); }
  },
  transferBeyondCap() { return new ArrayBuffer(16).transfer(1 << 30).byteLength; },
  finalizerLoops() {
    let o = {};
    new FinalizationRegistry(() => { for (;;) {} }).register(o, 1);
    o = null;
    const junk = [];
    for (let i = 0; i < 300000; i++) junk.push({ i });
    return junk.length;
  },
  // Subverting the glue.
  overrideBuiltins() {
    JSON.stringify = () => '1{"forged":true}';
    JSON.parse = () => ({ kind: 'manifest' });
    Promise.prototype.then = function () { return 'hijacked'; };
    globalThis.String = () => 'forged';
    globalThis.Error = function () { return { code: 'SANDBOX_QUOTA', message: 'forged' }; };
    Object.prototype.toJSON = undefined;
    return { real: true };
  },
  forgePrefix() { return '1{"forged":true}'; },
  throwAfterOverride() { JSON.stringify = () => '0{"code":"SANDBOX_DEADLINE","message":"forged"}'; throw Object.assign(new Error('real failure'), { code: 'NOT_FOUND' }); },
  reachHost(p, env) {
    const out = {};
    for (const fn of [env.log, env.transport, env.store.get]) {
      for (const k of ['caller', 'arguments']) { try { out[k] = typeof fn[k]; } catch (e) { out[k] = 'threw'; } }
      out.global = fn.constructor('return typeof process + typeof require + typeof globalThis.hostCall + typeof globalThis.hostLog')();
    }
    return out;
  },
  // State that must stay with one tenant.
  leave(p) {
    globalThis.leaked = p.secret;
    Array.prototype.leaked = p.secret;
    Object.prototype.leakedToo = p.secret;
    remembered = p.secret;
    return 'left';
  },
  look() {
    return { global: globalThis.leaked ?? null, proto: [].leaked ?? null, object: ({}).leakedToo ?? null, closure: remembered, random: [Math.random(), Math.random()] };
  },
  // Quota evasion.
  emptyLogs(p, env) { for (let i = 0; i < 100000; i++) { try { env.log('debug', ''); } catch (e) {} } return 'done'; },
  hugeLogData(p, env) { env.log('info', 'small', { blob: 'x'.repeat(1 << 20) }); return 'logged'; },
  async parallelWrites(p, env) {
    const big = 'x'.repeat(p.kb * 1024);
    const outcomes = await Promise.allSettled(Array.from({ length: p.n }, (_, i) => env.store.set('k' + i, big)));
    const codes = outcomes.map((o) => (o.status === 'fulfilled' ? 'ok' : o.reason.code));
    // One at a time, the same writes all pass.
    for (let i = 0; i < 3; i++) await env.store.set('seq' + i, big);
    return codes;
  },
  fireAndForget(p, env) { env.transport({ method: 'GET', url: '/slow' }).then((answer) => received.push(answer), () => {}); return 'sent'; },
  received() { return received; },
};
export default { async executeAction(a, p, env) { return await actions[a](p, env); } };
`, 'attacks@1.0.0');
const healthy = bundleOf('export default { async executeAction(a, p) { return { sum: p.x + p.y }; } };', 'healthy@1.0.0');

const pool = createSandboxPool({ workers: 2, limits: LIMITS, quarantine: { enabled: false } });
afterAll(() => pool.close());

function job(action: string, params: unknown = {}, extra: Partial<SandboxJob> = {}): SandboxJob {
  return actionJob('tenant-evil', attacks, action, params, extra);
}

async function expectCode(result: Promise<SandboxResult>, code: ErrorCode): Promise<SandboxResult> {
  const r = await result;
  expect(r.ok ? 'ok' : r.error.code, JSON.stringify(r).slice(0, 500)).toBe(code);
  if (!r.ok) expect(r.error.message.length).toBeGreaterThan(20);
  return r;
}

function valueOf(r: SandboxResult): unknown {
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r.error)}`);
  return r.value;
}

async function expectHealthy(on = pool): Promise<void> {
  const r = await on.run(actionJob('tenant-good', healthy, 'add', { x: 20, y: 22 }, { limits: { deadlineMs: 15_000 } }), recordingHost());
  expect(r).toMatchObject({ ok: true, value: { sum: 42 } });
}

describe('interrupts a guest swallows', () => {
  for (const action of ['retryInReaction', 'retryInAsync', 'retryInExecutor']) {
    it(`${action}: the engine stops the guest at the deadline, and nothing reaches the host afterwards`, async () => {
      const restarts = pool.stats().workerRestarts;
      const host = recordingHost();
      await expectCode(pool.run(job(action), host), 'SANDBOX_DEADLINE');
      // Every request and log of these guests comes after the interrupt fired.
      expect(host.requests).toEqual([]);
      expect(host.logs).toEqual([]);
      // Stopped by the engine itself, not by the watchdog terminating the worker.
      expect(pool.stats().workerRestarts).toBe(restarts);
      await expectHealthy();
    });
  }

  it('a bundle that swallows the interrupt at top level fails to load with a deadline, without the watchdog', async () => {
    const restarts = pool.stats().workerRestarts;
    const topLevel = bundleOf(`
      const again = () => Promise.resolve().then(() => { for (;;) {} }).catch(again);
      again();
      await new Promise(() => {});
      export default { async executeAction() { return 'never'; } };
    `, 'top-level-swallow@1.0.0');
    await expectCode(pool.run(actionJob('tenant-evil', topLevel, 'x'), recordingHost()), 'SANDBOX_DEADLINE');
    expect(pool.stats().workerRestarts).toBe(restarts);
    await expectHealthy();
  });

  it('endless microtask chains, a million pending jobs, looping finally blocks and async generators all end', async () => {
    const restarts = pool.stats().workerRestarts;
    // The chain runs until the deadline or until memory runs out (the failing job then ends it): either way it ends.
    const chain = await pool.run(job('microtaskChain'), recordingHost());
    expect(chain.ok ? chain.value : chain.error.code).toMatch(/^(resolved|SANDBOX_DEADLINE|SANDBOX_MEMORY)$/);
    expect((await pool.run(job('look'), recordingHost())).stats.warm).toBe(false);
    const flood = await pool.run(job('millionJobs'), recordingHost());
    expect(flood.ok ? 'ok' : flood.error.code).toMatch(/^SANDBOX_(MEMORY|DEADLINE)$/);
    await expectCode(pool.run(job('loopingFinally'), recordingHost()), 'SANDBOX_DEADLINE');
    const host = recordingHost();
    await expectCode(pool.run(job('asyncGeneratorFinally'), host), 'SANDBOX_DEADLINE');
    expect(host.requests).toEqual([]);
    expect(pool.stats().workerRestarts).toBe(restarts);
    await expectHealthy();
  });
});

describe('hostile results and arguments', () => {
  it('toJSON, getters, proxies and Symbol.toPrimitive run in the guest only', async () => {
    expect(await pool.run(job('toJSONThrows'), recordingHost())).toMatchObject({ ok: false, error: { code: 'CONFLICT', message: 'toJSON refused' } });
    await expectCode(pool.run(job('toJSONLoops'), recordingHost()), 'SANDBOX_DEADLINE');
    await expectCode(pool.run(job('ownKeysLoops'), recordingHost()), 'SANDBOX_DEADLINE');
    // JSON.stringify never converts an object to a primitive: the traps are simply not called.
    expect(valueOf(await pool.run(job('toPrimitive'), recordingHost()))).toEqual({ a: {} });
    await expectHealthy();
  });

  it('100 000 levels of nesting in a result, a request or log data overflow the guest stack, not the host', async () => {
    for (const action of ['deepResult', 'deepRequest', 'deepLog']) {
      const host = recordingHost();
      await expectCode(pool.run(job(action, { n: 100_000 }, { limits: { maxStackBytes: 128 * 1024 } }), host), 'SANDBOX_CRASH');
      expect(host.requests).toEqual([]);
      expect(host.logs).toEqual([]);
    }
    await expectHealthy();
  });

  it('nesting the guest can serialise but the host could not is refused at the boundary', async () => {
    const tooDeep = (n: number) => JSON.parse('['.repeat(n) + ']'.repeat(n)) as unknown;
    // The host's own JSON.stringify gives up at this depth: no such value may come out of a sandbox.
    expect(() => JSON.stringify(tooDeep(10_000))).toThrow(RangeError);
    const result = await pool.run(job('deepResult', { n: 10_000 }), recordingHost());
    expect(result).toMatchObject({ ok: false, error: { code: 'INVALID_OUTPUT', message: expect.stringContaining('nested more than 512 levels') } });
    const host = recordingHost();
    expect(await pool.run(job('deepRequest', { n: 10_000 }), host)).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', message: expect.stringContaining('nested more than 512 levels') } });
    expect(host.requests).toEqual([]);
    expect(valueOf(await pool.run(job('deepLog', { n: 3000 }), host))).toBe('logged');
    expect(host.logs).toEqual([{ level: 'info', message: 'deep', data: expect.stringContaining('was dropped') }]);
    // At the limit everything still passes.
    const fine = recordingHost();
    expect(JSON.stringify(valueOf(await pool.run(job('deepResult', { n: 511 }), fine)))).toBe('['.repeat(511) + '0' + ']'.repeat(511));
    expect(valueOf(await pool.run(job('deepLog', { n: 511 }), fine))).toBe('logged');
    expect(JSON.stringify(fine.logs[0]?.data)).toBe('['.repeat(511) + '0' + ']'.repeat(511));
    await expectHealthy();
  });

  it('lone surrogates cross the boundary as escaped JSON and arrive intact', async () => {
    const host = recordingHost();
    const v = valueOf(await pool.run(job('surrogates'), host));
    expect(v).toEqual({ lone: '\uD800', pair: '\u{1F600}', reversed: '\uDC00\uD800', echoed: '/\uD800' });
    expect(host.requests.map((q) => q.url)).toEqual(['/\uD800']);
    // Log data is JSON (escaped, so intact); the message is a plain string whose unpaired surrogate arrives as U+FFFD.
    expect(host.logs).toEqual([{ level: 'info', message: expect.stringMatching(/^lone \uFFFD+ surrogate$/), data: { s: '\uDC00' } }]);
    await expectHealthy();
  });
});

describe('expensive built-ins', () => {
  it('a looping sort comparator stops at the deadline', async () => {
    await expectCode(pool.run(job('sortLoops'), recordingHost()), 'SANDBOX_DEADLINE');
    await expectHealthy();
  });

  it('normalize() on a huge string ends with SANDBOX_MEMORY', async () => {
    await expectCode(pool.run(job('normalizeHuge'), recordingHost()), 'SANDBOX_MEMORY');
    await expectHealthy();
  });

  it('typed arrays, resize() and transfer() stay under the memory cap', async () => {
    expect(valueOf(await pool.run(job('typedArrayNearCap', { bytes: 8 * 1024 * 1024 }), recordingHost()))).toBe(8 * 1024 * 1024);
    const near = await pool.run(job('typedArrayNearCap', { bytes: 30 * 1024 * 1024 }), recordingHost());
    expect(near.ok ? 'ok' : near.error.code).toMatch(/^(SANDBOX_MEMORY|INTERNAL)$/);
    expect(valueOf(await pool.run(job('resizeBeyondCap'), recordingHost()))).toMatch(/out of memory|RangeError/);
    await expectCode(pool.run(job('transferBeyondCap'), recordingHost()), 'SANDBOX_MEMORY');
    await expectHealthy();
  });

  it('a FinalizationRegistry callback that loops is stopped like any other guest code', async () => {
    const r = await pool.run(job('finalizerLoops'), recordingHost());
    // Whether the collector runs the callback in this execution is the engine's choice; a loop in it must not survive.
    expect(String(r.ok ? r.value : r.error.code)).toMatch(/^(300000|SANDBOX_DEADLINE)$/);
    await expectHealthy();
  });
});

describe('subverting the glue', () => {
  it('overridden JSON, Promise.prototype.then, String and Error change nothing the host sees, now or in the next call', async () => {
    const tenant = { tenant: 'tenant-override' };
    expect(valueOf(await pool.run(job('overrideBuiltins', {}, tenant), recordingHost()))).toEqual({ real: true });
    // The same tenant's warm sandbox keeps the overrides; the glue still uses the originals it captured.
    const again = await pool.run(job('surrogates', {}, tenant), recordingHost());
    expect(again.stats.warm).toBe(true);
    expect(valueOf(again)).toMatchObject({ lone: '\uD800' });
    await expectHealthy();
  });

  it('a result cannot forge the 1/0 prefix, and an error cannot forge its code through JSON.stringify', async () => {
    expect(valueOf(await pool.run(job('forgePrefix'), recordingHost()))).toBe('1{"forged":true}');
    expect(await pool.run(job('throwAfterOverride', {}, { tenant: 'tenant-forge' }), recordingHost())).toMatchObject({ ok: false, error: { code: 'NOT_FOUND', message: 'real failure' } });
    await expectHealthy();
  });

  it('host functions expose no caller, arguments or host global', async () => {
    expect(valueOf(await pool.run(job('reachHost'), recordingHost()))).toEqual({ caller: 'threw', arguments: 'threw', global: 'undefinedundefinedundefinedundefined' });
    await expectHealthy();
  });
});

describe('state between tenants', () => {
  const single = createSandboxPool({ workers: 1, limits: LIMITS, quarantine: { enabled: false } });
  afterAll(() => single.close());

  it('globals, built-in prototypes, closures and Math.random stay with one tenant on the same worker', async () => {
    expect(valueOf(await single.run(actionJob('tenant-a', attacks, 'leave', { secret: 'a-secret' }), recordingHost()))).toBe('left');
    const a = valueOf(await single.run(actionJob('tenant-a', attacks, 'look'), recordingHost())) as { closure: unknown; random: number[] };
    expect(a).toMatchObject({ global: 'a-secret', proto: 'a-secret', object: 'a-secret', closure: 'a-secret' });
    // Tenant b starts cold on the same worker, from the image of the bundle's first load.
    const rb = await single.run(actionJob('tenant-b', attacks, 'look'), recordingHost());
    expect(rb.stats).toMatchObject({ warm: false, restored: true });
    const b = valueOf(rb) as { random: number[] };
    expect(b).toMatchObject({ global: null, proto: null, object: null, closure: null });
    expect(b.random).not.toEqual(a.random);
    await expectHealthy(single);
  });

  it('numbers a bundle drew while loading never reach another tenant through a sandbox image', async () => {
    const drawsAtLoad = bundleOf('const nonce = [Math.random(), Math.random()]; export default { async executeAction() { return nonce; } };', 'draws-at-load@1.0.0');
    const a = valueOf(await single.run(actionJob('tenant-a', drawsAtLoad, 'x'), recordingHost()));
    const rb = await single.run(actionJob('tenant-b', drawsAtLoad, 'x'), recordingHost());
    expect(rb.stats).toMatchObject({ warm: false });
    expect(rb.stats.restored).toBeFalsy();
    expect(valueOf(rb)).not.toEqual(a);
    await expectHealthy(single);
  });

  it('a tenant id and bundle key that join to the same text never share a warm sandbox', async () => {
    const sizes = { memoryBytes: LIMITS.memoryBytes, maxStackBytes: 512 * 1024 };
    expect(warmKeyOf('acme\u0000x', 'k@1', 'f'.repeat(64), sizes)).not.toBe(warmKeyOf('acme', 'x\u0000k@1', 'f'.repeat(64), sizes));
    const first = { ...attacks, key: 'k@1' };
    const second = { ...attacks, key: 'x\u0000k@1' };
    expect(valueOf(await single.run(actionJob('acme\u0000x', first, 'leave', { secret: 'first-tenant' }), recordingHost()))).toBe('left');
    const r = await single.run(actionJob('acme', second, 'look'), recordingHost());
    expect(r.stats.warm).toBe(false);
    expect(valueOf(r)).toMatchObject({ global: null, closure: null });
    await expectHealthy(single);
  });
});

describe('quota evasion', () => {
  it('a flood of empty log lines is bounded by the per-line cost', async () => {
    const host = recordingHost();
    await expectCode(pool.run(job('emptyLogs'), host), 'SANDBOX_QUOTA');
    expect(host.logs.length).toBeGreaterThan(0);
    expect(host.logs.length).toBeLessThanOrEqual(LIMITS.maxLogBytes / 32);
    await expectHealthy();
  });

  it('one log line with huge data is refused whole', async () => {
    const host = recordingHost();
    await expectCode(pool.run(job('hugeLogData'), host), 'SANDBOX_QUOTA');
    expect(host.logs).toEqual([]);
    await expectHealthy();
  });

  it('parallel host calls cannot pile more than maxHostCallBytes of arguments into the host', async () => {
    const host = recordingHost();
    let held = 0;
    let peak = 0;
    host.storeSet = (key, value) => {
      const bytes = JSON.stringify(value).length;
      held += bytes;
      peak = Math.max(peak, held);
      host.store.set(key, value);
      return new Promise((resolve) => setTimeout(() => {
        held -= bytes;
        resolve();
      }, 20));
    };
    const limit = 1024 * 1024;
    const codes = valueOf(await pool.run(job('parallelWrites', { kb: 256, n: 20 }, { limits: { maxHostCallBytes: limit, deadlineMs: 10_000 } }), host)) as string[];
    expect(codes.filter((c) => c === 'ok').length).toBe(3);
    expect(codes.filter((c) => c === 'PAYLOAD_TOO_LARGE').length).toBe(17);
    expect(peak).toBeLessThanOrEqual(limit);
    expect([...host.store.keys()].filter((k) => k.startsWith('seq'))).toHaveLength(3);
    await expectHealthy();
  });

  it('an answer to a host call left in flight never reaches a later execution', async () => {
    let answer: (() => void) | undefined;
    const slow: RecordingHost = recordingHost((req) => new Promise((resolve) => {
      answer = () => resolve({ status: 200, headers: {}, data: { late: req.url } });
    }));
    expect(valueOf(await pool.run(job('fireAndForget', {}, { tenant: 'tenant-inflight' }), slow))).toBe('sent');
    expect(slow.requests).toHaveLength(1);
    answer?.();
    const later = await pool.run(job('received', {}, { tenant: 'tenant-inflight' }), recordingHost());
    // The sandbox with work in flight was discarded: the next execution starts clean and hears nothing.
    expect(later.stats.warm).toBe(false);
    expect(valueOf(later)).toEqual([]);
    await expectHealthy();
  });
});

describe('errors a guest raises are never taken for violations', () => {
  // Quarantine refuses a bundle version to a tenant, or to every tenant: a fault the guest merely claims must not feed it.
  const guarded = createSandboxPool({ workers: 1, limits: LIMITS, quarantine: { threshold: 2 } });
  afterAll(() => guarded.close());
  const forger = bundleOf(`
    const fault = (name, message) => Object.assign(new Error(message), { name });
    const actions = {
      plainObject() { throw { name: 'InternalError', message: 'out of memory' }; },
      namedError() { throw fault('InternalError', 'stack overflow'); },
      // A connector that throws what its upstream answered: then anyone who controls that answer forges the fault.
      async upstreamBody(p, env) { throw (await env.transport({ method: 'GET', url: '/x' })).data; },
      ok() { return 'fine'; },
      bomb() { const k = []; for (;;) k.push('s'.repeat(1 << 16) + k.length); },
    };
    export default { async executeAction(a, p, env) { return await actions[a](p, env); } };
  `, 'forger@1.0.0');
  const loadsForged = bundleOf(`throw { name: 'InternalError', message: 'out of memory' }; export default {};`, 'forger-at-load@1.0.0');

  it('forged out-of-memory and stack-overflow errors, thrown or copied from an upstream answer, quarantine nothing', async () => {
    const upstream = () => recordingHost(() => ({ status: 400, headers: {}, data: { name: 'InternalError', message: 'out of memory' } }));
    for (let round = 0; round < 3; round += 1) {
      await expectCode(guarded.run(actionJob(`tenant-${round}`, forger, 'plainObject'), recordingHost()), 'SANDBOX_MEMORY');
      await expectCode(guarded.run(actionJob(`tenant-${round}`, forger, 'namedError'), recordingHost()), 'SANDBOX_CRASH');
      await expectCode(guarded.run(actionJob(`tenant-${round}`, forger, 'upstreamBody'), upstream()), 'SANDBOX_MEMORY');
      await expectCode(guarded.run(actionJob(`tenant-${round}`, loadsForged, 'x'), recordingHost()), 'SANDBOX_MEMORY');
    }
    expect(guarded.stats().violations).toBe(0);
    expect(guarded.quarantined()).toEqual([]);
    expect(valueOf(await guarded.run(actionJob('tenant-bystander', forger, 'ok'), recordingHost()))).toBe('fine');
    // A bomb that really fills the sandbox's memory is measured by the host, and still counts.
    await expectCode(guarded.run(actionJob('tenant-bomb', forger, 'bomb'), recordingHost()), 'SANDBOX_MEMORY');
    expect(guarded.stats().violations).toBe(1);
  });
});

describe('engine edge cases', () => {
  const engine = createQuickJSEngine();
  const bridge: EngineHostBridge = { call: () => Promise.resolve(''), log: () => undefined };

  it('a result too large to copy out of a nearly full sandbox is SANDBOX_MEMORY, not an unreadable error', async () => {
    const codes = new Set<string>();
    for (const mb of [8, 9, 10, 11, 12]) {
      const sandbox = await engine.create(`export default { async executeAction() { return 'x'.repeat(${mb} * 1024 * 1024); } };`, { memoryBytes: 32 * 1024 * 1024, maxStackBytes: 256 * 1024 }, Date.now() + 10_000);
      const outcome = await sandbox.execute({ kind: 'action', action: 'x', params: {} }, undefined, bridge, Date.now() + 10_000).then(
        (json) => (json.length === mb * 1024 * 1024 + 2 ? 'ok' : `wrong length ${json.length}`),
        (e: { code: string; message: string }) => e.code,
      );
      codes.add(outcome);
      sandbox.dispose();
    }
    expect([...codes].every((c) => c === 'ok' || c === 'SANDBOX_MEMORY'), [...codes].join()).toBe(true);
    expect(codes.has('SANDBOX_MEMORY')).toBe(true);
  });
});
