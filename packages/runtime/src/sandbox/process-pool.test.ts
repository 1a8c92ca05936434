// Process tier: real Node children with the permission model, a heap cap, the jail (network, mount and PID
// namespaces, a root of system libraries, user nobody) and a SIGKILL watchdog. The jailed suite is skipped where
// the jail cannot be built (the pool then refuses jobs unless the operator opts in; both paths are tested).
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canIsolateNetwork, createProcessPool } from './process-pool.ts';
import { actionJob, bundleOf, buildSdkBundle, recordingHost, SAMPLE_CONNECTOR, type TestBundle } from './test-support.ts';

const isolated = canIsolateNetwork();

const evil = bundleOf(`
  import fs from 'node:fs';
  import cp from 'node:child_process';
  import net from 'node:net';
  const probe = async (fn) => { try { const v = await fn(); return { ok: true, v: String(v).slice(0, 50) }; } catch (e) { return { ok: false, code: e.code ?? e.name }; } };
  const actions = {
    async fs() {
      return {
        readPasswd: await probe(() => fs.readFileSync('/etc/passwd', 'utf8')),
        readRepo: await probe(() => fs.readdirSync('/work')),
        writeTmp: await probe(() => fs.writeFileSync('/tmp/bos-proc-escape.txt', 'x')),
        writeScratch: await probe(() => { fs.writeFileSync('./note.txt', 'ok'); return fs.readFileSync('./note.txt', 'utf8'); }),
      };
    },
    async spawn() {
      return {
        exec: await probe(() => cp.execSync('id')),
        worker: await probe(async () => { const { Worker } = await import('node:worker_threads'); return new Worker('1', { eval: true }); }),
      };
    },
    async env() { return { keys: Object.keys(process.env).filter((k) => !k.startsWith('NODE_CHANNEL')) }; },
    async net(p) {
      return probe(() => new Promise((resolve, reject) => {
        const s = net.connect(p.port, '127.0.0.1', () => { s.end(); resolve('connected'); });
        s.on('error', reject);
      }));
    },
    async fetch(p) { return probe(() => fetch('http://127.0.0.1:' + p.port + '/')); },
    loop() { for (;;) {} },
    heap() { const keep = []; for (;;) keep.push(new Array(1e5).fill({ x: Math.random() })); },
    exit() { process.exit(3); },
    setGlobal(p) { globalThis.mark = p.v; return { set: p.v }; },
    deepResult() { let v = 1; for (let i = 0; i < 600; i++) v = [v]; return v; },
    async deepRequest(_p, env) { let v = 1; for (let i = 0; i < 600; i++) v = { v }; try { await env.transport({ method: 'POST', url: '/x', body: v }); return { sent: true }; } catch (e) { return { sent: false, code: e.code }; } },
    deepLog(_p, env) { let v = 1; for (let i = 0; i < 600; i++) v = [v]; env.log('info', 'deep', v); return { logged: true }; },
    getGlobal() { return { mark: globalThis.mark ?? null }; },
  };
  export default { async executeAction(name, params, env) { return actions[name](params, env); } };
`, 'evil-process@1.0.0');

describe.skipIf(!isolated)('process tier', () => {
  const pool = createProcessPool({ maxProcesses: 3, limits: { deadlineMs: 10_000, memoryBytes: 64 * 1024 * 1024 }, quarantine: { enabled: false } });
  let sample: TestBundle;
  let server: Server;
  let port = 0;
  let connections = 0;

  beforeAll(async () => {
    sample = await buildSdkBundle(SAMPLE_CONNECTOR, 'sample-process@1.0.0');
    server = createServer((socket) => {
      connections += 1;
      socket.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await pool.close();
    await new Promise((r) => server.close(r));
  });

  it('runs an SDK connector with HTTP over IPC to the host', async () => {
    const host = recordingHost(async (req) => ({ status: 200, headers: {}, data: { got: req.url } }));
    const r = await pool.run(actionJob('p1', sample, 'getThing', { id: '7' }), host);
    expect(r).toMatchObject({ ok: true, value: { status: 200, data: { got: '/things/7' } } });
    expect(host.logs).toEqual([{ level: 'info', message: 'fetched', data: { id: '7' } }]);
    const warm = await pool.run(actionJob('p1', sample, 'echo', { text: 'x' }), host);
    expect(warm).toMatchObject({ ok: true, value: { upper: 'X' }, stats: { warm: true } });
    expect(await pool.run(actionJob('p1', sample, 'missing'), host)).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });

  it('refuses results, host-call arguments and log data nested deeper than the host can serialise', async () => {
    const host = recordingHost();
    expect(await pool.run(actionJob('p-deep', evil, 'deepResult'), host)).toMatchObject({ ok: false, error: { code: 'INVALID_OUTPUT', message: expect.stringContaining('nested more than') } });
    expect(await pool.run(actionJob('p-deep', evil, 'deepRequest'), host)).toMatchObject({ ok: true, value: { sent: false, code: 'INVALID_INPUT' } });
    expect(host.requests).toEqual([]);
    expect(await pool.run(actionJob('p-deep', evil, 'deepLog'), host)).toMatchObject({ ok: true, value: { logged: true } });
    expect(host.logs).toEqual([{ level: 'info', message: 'deep', data: expect.stringContaining('was dropped') }]);
    // And the pool serves the next job.
    expect(await pool.run(actionJob('p-deep', evil, 'setGlobal', { v: 'after' }), host)).toMatchObject({ ok: true, value: { set: 'after' } });
  });

  it('refuses a bundle whose code does not match its sha256', async () => {
    const r = await pool.run(actionJob('p1', { ...sample, sha256: '0'.repeat(64) }, 'echo', { text: 'x' }), recordingHost());
    expect(r).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
  });

  it('reads only its own folder and writes only its scratch folder', async () => {
    const r = await pool.run(actionJob('p1', evil, 'fs'), recordingHost());
    expect(r).toMatchObject({
      ok: true,
      value: {
        readPasswd: { ok: false, code: 'ERR_ACCESS_DENIED' },
        readRepo: { ok: false, code: 'ERR_ACCESS_DENIED' },
        writeTmp: { ok: false, code: 'ERR_ACCESS_DENIED' },
        writeScratch: { ok: true, v: 'ok' },
      },
    });
  });

  it('cannot start child processes or workers', async () => {
    const r = await pool.run(actionJob('p1', evil, 'spawn'), recordingHost());
    expect(r).toMatchObject({ ok: true, value: { exec: { ok: false, code: 'ERR_ACCESS_DENIED' }, worker: { ok: false, code: 'ERR_ACCESS_DENIED' } } });
  });

  it('starts with an empty environment', async () => {
    process.env.BOS_TEST_PARENT_SECRET = 'do-not-leak';
    const r = await pool.run(actionJob('env-tenant', evil, 'env'), recordingHost());
    expect(r).toMatchObject({ ok: true, value: { keys: [] } });
  });

  it('has no network, not even loopback', async () => {
    const before = connections;
    const direct = await pool.run(actionJob('p1', evil, 'net', { port }), recordingHost());
    expect(direct).toMatchObject({ ok: true, value: { ok: false } });
    const viaFetch = await pool.run(actionJob('p1', evil, 'fetch', { port }), recordingHost());
    expect(viaFetch).toMatchObject({ ok: true, value: { ok: false } });
    expect(connections).toBe(before);
  });

  it('keeps tenants in separate processes', async () => {
    await pool.run(actionJob('iso-a', evil, 'setGlobal', { v: 'a' }), recordingHost());
    expect(await pool.run(actionJob('iso-a', evil, 'getGlobal'), recordingHost())).toMatchObject({ ok: true, value: { mark: 'a' } });
    expect(await pool.run(actionJob('iso-b', evil, 'getGlobal'), recordingHost())).toMatchObject({ ok: true, value: { mark: null } });
  });

  it('kills a hung child, a heap bomb and a crash, and serves the next job', async () => {
    const hung = await pool.run(actionJob('bad', evil, 'loop', {}, { limits: { deadlineMs: 1500 } }), recordingHost());
    expect(hung).toMatchObject({ ok: false, error: { code: 'SANDBOX_DEADLINE' } });
    const heap = await pool.run(actionJob('bad', evil, 'heap', {}, { limits: { memoryBytes: 32 * 1024 * 1024 } }), recordingHost());
    expect(heap).toMatchObject({ ok: false, error: { code: 'SANDBOX_MEMORY' } });
    const crashed = await pool.run(actionJob('bad', evil, 'exit'), recordingHost());
    expect(crashed).toMatchObject({ ok: false, error: { code: 'SANDBOX_CRASH' } });
    expect(await pool.run(actionJob('bad', sample, 'echo', { text: 'fine' }), recordingHost())).toMatchObject({ ok: true, value: { text: 'fine' } });
    expect(pool.stats().workers).toBeLessThanOrEqual(3);
  });
});

describe('process tier without network isolation', () => {
  it.skipIf(isolated)('refuses jobs unless the operator opts in', async () => {
    const pool = createProcessPool();
    const r = await pool.run(actionJob('t', evil, 'getGlobal'), recordingHost());
    expect(r).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    await pool.close();
  });

  it('refuses jobs without the jail unless the operator opts in, on any machine', async () => {
    const pool = createProcessPool({ jail: false });
    const r = await pool.run(actionJob('t', evil, 'getGlobal'), recordingHost());
    expect(r).toMatchObject({ ok: false, error: { code: 'FORBIDDEN', message: expect.stringContaining('allowWithoutNetworkIsolation') } });
    await pool.close();
  });

  it('runs connectors over the same channel when the operator opts in, and replaces a child that crashes', async () => {
    const pool = createProcessPool({ jail: false, allowWithoutNetworkIsolation: true, limits: { deadlineMs: 10_000 }, quarantine: { enabled: false } });
    try {
      const sample = await buildSdkBundle(SAMPLE_CONNECTOR, 'sample-open@1.0.0');
      const host = recordingHost(async (req) => ({ status: 200, headers: {}, data: { got: req.url } }));
      expect(await pool.run(actionJob('o1', sample, 'getThing', { id: '9' }), host)).toMatchObject({ ok: true, value: { status: 200, data: { got: '/things/9' } } });
      expect(host.logs).toEqual([{ level: 'info', message: 'fetched', data: { id: '9' } }]);
      expect(await pool.run(actionJob('o1', sample, 'echo', { text: 'y' }), host)).toMatchObject({ ok: true, value: { upper: 'Y' }, stats: { warm: true } });
      expect(await pool.run(actionJob('o2', evil, 'exit'), recordingHost())).toMatchObject({ ok: false, error: { code: 'SANDBOX_CRASH' } });
      expect(await pool.run(actionJob('o2', evil, 'setGlobal', { v: 1 }), recordingHost())).toMatchObject({ ok: true, value: { set: 1 } });
    } finally {
      await pool.close();
    }
  });
});
