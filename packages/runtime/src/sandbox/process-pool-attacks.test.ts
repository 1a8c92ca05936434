// Process tier against a hostile connector that goes around its runner: raw bytes on the channel to the host,
// signals to the host, Unix sockets on the host's filesystem, messages replayed from an earlier execution.
// Skipped where the jail cannot be built (the pool then refuses jobs; process-pool.test.ts checks that).
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canIsolateNetwork, createProcessPool } from './process-pool.ts';
import { actionJob, bundleOf, recordingHost } from './test-support.ts';

const isolated = canIsolateNetwork();

// The channel to the host is the child's fd 3 whatever the runner does with it.
const hostile = bundleOf(`
  import fs from 'node:fs';
  import net from 'node:net';
  const probe = async (fn) => { try { const v = await fn(); return { ok: true, v: String(v).slice(0, 50) }; } catch (e) { return { ok: false, code: e.code ?? e.name }; } };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  let kept;
  const actions = {
    async garbage() { fs.writeSync(3, '{not json\\n'); await sleep(2000); return 'survived'; },
    async endless() {
      // 40 MiB and no newline; the channel is non-blocking, so wait whenever the host has not read yet.
      const chunk = Buffer.alloc(1 << 16, 97);
      for (let sent = 0; sent < 40 << 20; ) {
        try { sent += fs.writeSync(3, chunk); } catch (e) { if (e.code !== 'EAGAIN') throw e; await sleep(1); }
      }
      await sleep(5000);
      return 'survived';
    },
    async signal(p) {
      return {
        uid: process.getuid(),
        host: await probe(() => process.kill(p.hostPid, 0)),
        everyone: await probe(() => process.kill(-1, 0)),
      };
    },
    async unix(p) {
      return {
        connect: await probe(() => new Promise((resolve, reject) => {
          const s = net.connect(p.path, () => { s.end(); resolve('connected'); });
          s.on('error', reject);
        })),
        listen: await probe(() => new Promise((resolve, reject) => {
          const server = net.createServer();
          server.on('error', reject);
          server.listen(p.listenPath, () => resolve('listening'));
        })),
      };
    },
    keep(_p, env) { kept = env; return { kept: true }; },
    async replay(_p, env) {
      // Host calls made with the environment of the previous, finished execution.
      kept.log('warn', 'stale log');
      kept.transport({ method: 'GET', url: '/stale' }).catch(() => undefined);
      // A round trip of this execution: the host reads the stale messages before it.
      await env.transport({ method: 'GET', url: '/fresh' });
      return { replayed: true };
    },
    async deaf(_p, env) {
      // Asks for large replies, then never lets the runner read them.
      for (let i = 0; i < 80; i++) env.transport({ method: 'GET', url: '/big/' + i }).catch(() => undefined);
      await sleep(200);
      for (;;) {}
    },
    echo(p) { return p; },
  };
  export default { async executeAction(name, params, env) { return actions[name](params, env); } };
`, 'hostile-process@1.0.0');

describe.skipIf(!isolated)('process tier against a hostile connector', () => {
  const pool = createProcessPool({ maxProcesses: 3, limits: { deadlineMs: 8000, memoryBytes: 64 * 1024 * 1024 }, quarantine: { enabled: false } });
  let folder: string;
  let server: Server;
  let socketPath = '';
  let connections = 0;

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'bos-proc-attacks-'));
    socketPath = join(folder, 'host.sock');
    server = createServer((socket) => {
      connections += 1;
      socket.end();
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  });
  afterAll(async () => {
    await pool.close();
    await new Promise((r) => server.close(r));
    await rm(folder, { recursive: true, force: true });
  });

  it('stops a child that writes malformed bytes to its channel, and the host keeps serving', async () => {
    const violations = pool.stats().violations;
    const r = await pool.run(actionJob('raw', hostile, 'garbage'), recordingHost());
    expect(r).toMatchObject({ ok: false, error: { code: 'SANDBOX_CRASH', message: expect.stringContaining('malformed') } });
    // The host caught it: a violation.
    expect(pool.stats().violations).toBe(violations + 1);
    expect(await pool.run(actionJob('raw', hostile, 'echo', { v: 1 }), recordingHost())).toMatchObject({ ok: true, value: { v: 1 } });
  });

  it('stops a child that sends a message without end instead of buffering it', async () => {
    const violations = pool.stats().violations;
    const r = await pool.run(actionJob('raw', hostile, 'endless'), recordingHost());
    expect(r).toMatchObject({ ok: false, error: { code: 'SANDBOX_QUOTA', message: expect.stringContaining('message of more than') } });
    expect(pool.stats().violations).toBe(violations + 1);
  });

  it('cannot signal the host, and does not run as root', async () => {
    const r = await pool.run(actionJob('sig', hostile, 'signal', { hostPid: process.pid }), recordingHost());
    expect(r).toMatchObject({ ok: true, value: { host: { ok: false }, everyone: { ok: false } } });
    expect(r.ok && (r.value as { uid: number }).uid).not.toBe(0);
  });

  it("cannot connect to or create Unix sockets on the host's filesystem", async () => {
    const listenPath = join(folder, 'planted.sock');
    const r = await pool.run(actionJob('unix', hostile, 'unix', { path: socketPath, listenPath }), recordingHost());
    expect(r).toMatchObject({ ok: true, value: { connect: { ok: false }, listen: { ok: false } } });
    expect(connections).toBe(0);
    expect(existsSync(listenPath)).toBe(false);
  });

  it('stops a child that leaves its replies unread instead of buffering them', async () => {
    const big = 'x'.repeat(1024 * 1024);
    const violations = pool.stats().violations;
    const r = await pool.run(actionJob('deaf', hostile, 'deaf'), recordingHost(async () => ({ status: 200, headers: {}, data: big })));
    expect(r).toMatchObject({ ok: false, error: { code: 'SANDBOX_QUOTA', message: expect.stringContaining('unread') } });
    expect(pool.stats().violations).toBe(violations + 1);
  });

  it('ignores host calls and logs sent for an execution that already finished', async () => {
    expect(await pool.run(actionJob('stale', hostile, 'keep'), recordingHost())).toMatchObject({ ok: true });
    const host = recordingHost(async (req) => ({ status: 200, headers: {}, data: req.url }));
    expect(await pool.run(actionJob('stale', hostile, 'replay'), host)).toMatchObject({ ok: true, value: { replayed: true } });
    expect(host.requests.map((req) => req.url)).toEqual(['/fresh']);
    expect(host.logs).toEqual([]);
  });
});

// A child that forges the messages its runner would send for a fault the host never saw: the pool must count only
// what it detected itself towards quarantine, which refuses a version to a tenant or to everyone.
const forger = bundleOf(`
  import fs from 'node:fs';
  // The runner parses the host's run message with the global JSON.parse: that is enough to learn the execution id.
  const parse = JSON.parse;
  const stringify = JSON.stringify;
  let current;
  JSON.parse = function (text, reviver) {
    const value = parse.call(JSON, text, reviver);
    if (value && value.t === 'run') current = value.id;
    return value;
  };
  const actions = {
    forge(p) {
      fs.writeSync(3, stringify({ t: 'done', id: current, ok: false, error: { fault: p.fault, message: 'out of memory' } }) + '\\n');
      return new Promise(() => {});
    },
    hang() { return new Promise(() => {}); },
    async parallelWrites(p, env) {
      const big = 'x'.repeat(p.kb * 1024);
      const settled = Promise.allSettled(Array.from({ length: p.n }, (_, i) => env.store.set('k' + i, big)));
      // The host reads the channel in order: once it answers this, it has seen every write above.
      await env.transport({ method: 'POST', url: '/release' });
      const outcomes = await settled;
      const codes = outcomes.map((o) => (o.status === 'fulfilled' ? 'ok' : o.reason.code));
      const refused = outcomes.find((o) => o.status === 'rejected');
      // One at a time, the same writes all pass.
      for (let i = 0; i < 3; i++) await env.store.set('seq' + i, big);
      return { codes, message: refused ? refused.reason.message : '' };
    },
    exit() { process.exit(3); },
    ok() { return 'fine'; },
  };
  export default { async executeAction(name, params, env) { return actions[name](params, env); } };
`, 'forger-process@1.0.0');

describe.skipIf(!isolated)('process tier: violations and host-call bytes', () => {
  const pool = createProcessPool({ maxProcesses: 3, limits: { deadlineMs: 8000, memoryBytes: 64 * 1024 * 1024 }, quarantine: { threshold: 2 } });
  afterAll(() => pool.close());

  it('counts forged faults of a child towards no quarantine, and the crashes the host sees towards its tenant only', async () => {
    for (const tenant of ['forge-a', 'forge-b', 'forge-c']) {
      expect(await pool.run(actionJob(tenant, forger, 'forge', { fault: 'memory' }), recordingHost())).toMatchObject({ ok: false, error: { code: 'SANDBOX_MEMORY' } });
      expect(await pool.run(actionJob(tenant, forger, 'forge', { fault: 'stack' }), recordingHost())).toMatchObject({ ok: false, error: { code: 'SANDBOX_CRASH' } });
    }
    expect(pool.stats().violations).toBe(0);
    expect(pool.quarantined()).toEqual([]);
    // A child that really exits is a violation the host saw: twice quarantines the version for that tenant alone.
    for (let i = 0; i < 2; i += 1) expect(await pool.run(actionJob('crasher', forger, 'exit'), recordingHost())).toMatchObject({ ok: false, error: { code: 'SANDBOX_CRASH' } });
    expect(pool.stats().violations).toBe(2);
    expect(await pool.run(actionJob('crasher', forger, 'ok'), recordingHost())).toMatchObject({ ok: false, error: { code: 'QUARANTINED', message: expect.stringContaining('for tenant crasher only') } });
    expect(await pool.run(actionJob('forge-a', forger, 'ok'), recordingHost())).toMatchObject({ ok: true, value: 'fine' });
    // So is a child the watchdog kills.
    expect(await pool.run(actionJob('sleeper', forger, 'hang', {}, { limits: { deadlineMs: 1000 } }), recordingHost())).toMatchObject({ ok: false, error: { code: 'SANDBOX_DEADLINE' } });
    expect(pool.stats().violations).toBe(3);
    pool.clearQuarantine();
  });

  it('parallel host calls cannot pile more than maxHostCallBytes of arguments into the host', async () => {
    const violations = pool.stats().violations;
    // Parallel writes the host accepts stay unanswered until the guest's request after them.
    const waiting: (() => void)[] = [];
    const host = recordingHost(async () => {
      for (const release of waiting.splice(0)) release();
      return { status: 200, headers: {}, data: null };
    });
    let held = 0;
    let peak = 0;
    host.storeSet = (key, value) => {
      host.store.set(key, value);
      if (key.startsWith('seq')) return Promise.resolve();
      const bytes = JSON.stringify(value).length;
      held += bytes;
      peak = Math.max(peak, held);
      return new Promise((resolve) => waiting.push(() => {
        held -= bytes;
        resolve();
      }));
    };
    const limit = 1024 * 1024;
    const r = await pool.run(actionJob('writer', forger, 'parallelWrites', { kb: 256, n: 20 }, { limits: { maxHostCallBytes: limit } }), host);
    expect(r).toMatchObject({ ok: true });
    const { codes, message } = (r.ok ? r.value : {}) as { codes: string[]; message: string };
    expect(codes.filter((c) => c === 'ok').length).toBe(3);
    expect(codes.filter((c) => c === 'PAYLOAD_TOO_LARGE').length).toBe(17);
    expect(message).toMatch(/storeSet call's arguments are \d+ bytes and calls still waiting for an answer hold \d+ more, over the 1048576-byte limit/);
    expect(peak).toBeLessThanOrEqual(limit);
    expect([...host.store.keys()].filter((k) => k.startsWith('seq'))).toHaveLength(3);
    // Not a violation: the guest may catch it and go on.
    expect(pool.stats().violations).toBe(violations);
  });
});
