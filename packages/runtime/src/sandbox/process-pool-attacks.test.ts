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
    const r = await pool.run(actionJob('raw', hostile, 'garbage'), recordingHost());
    expect(r).toMatchObject({ ok: false, error: { code: 'SANDBOX_CRASH', message: expect.stringContaining('malformed') } });
    expect(await pool.run(actionJob('raw', hostile, 'echo', { v: 1 }), recordingHost())).toMatchObject({ ok: true, value: { v: 1 } });
  });

  it('stops a child that sends a message without end instead of buffering it', async () => {
    const r = await pool.run(actionJob('raw', hostile, 'endless'), recordingHost());
    expect(r).toMatchObject({ ok: false, error: { code: 'SANDBOX_QUOTA', message: expect.stringContaining('message of more than') } });
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
    const r = await pool.run(actionJob('deaf', hostile, 'deaf'), recordingHost(async () => ({ status: 200, headers: {}, data: big })));
    expect(r).toMatchObject({ ok: false, error: { code: 'SANDBOX_QUOTA', message: expect.stringContaining('unread') } });
  });

  it('ignores host calls and logs sent for an execution that already finished', async () => {
    expect(await pool.run(actionJob('stale', hostile, 'keep'), recordingHost())).toMatchObject({ ok: true });
    const host = recordingHost(async (req) => ({ status: 200, headers: {}, data: req.url }));
    expect(await pool.run(actionJob('stale', hostile, 'replay'), host)).toMatchObject({ ok: true, value: { replayed: true } });
    expect(host.requests.map((req) => req.url)).toEqual(['/fresh']);
    expect(host.logs).toEqual([]);
  });
});
