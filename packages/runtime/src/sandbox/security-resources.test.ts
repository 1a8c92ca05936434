// Security suite, part 2: resource attacks. Each one must end with a clear sandbox error code, and the same
// pool must then serve a normal job correctly.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '@businessos/connector-sdk';
import { createSandboxPool } from './pool.ts';
import { actionJob, bundleOf, recordingHost } from './test-support.ts';
import type { SandboxJob, SandboxResult } from './types.ts';

const resources = bundleOf(readFileSync(new URL('../../test-bundles/resources.mjs', import.meta.url), 'utf8'), 'resources@1.0.0');
const healthy = bundleOf('export default { async executeAction(a, p) { return { sum: p.x + p.y }; } };', 'healthy@1.0.0');
const pool = createSandboxPool({
  workers: 2,
  limits: { deadlineMs: 1500, memoryBytes: 32 * 1024 * 1024, maxHostCalls: 200, maxLogBytes: 64 * 1024, maxResultBytes: 1024 * 1024 },
  quarantine: { enabled: false },
});

afterAll(() => pool.close());

function job(action: string, params: unknown = {}, extra: Partial<SandboxJob> = {}): SandboxJob {
  return actionJob('tenant-evil', resources, action, params, extra);
}

async function expectCode(result: Promise<SandboxResult>, code: ErrorCode): Promise<SandboxResult> {
  const r = await result;
  expect(r.ok ? "ok" : r.error.code, JSON.stringify(r)).toBe(code);
  if (!r.ok) expect(r.error.message.length).toBeGreaterThan(20);
  return r;
}

async function expectHealthy(): Promise<void> {
  const r = await pool.run(actionJob('tenant-good', healthy, 'add', { x: 20, y: 22 }, { limits: { deadlineMs: 15_000 } }), recordingHost());
  expect(r).toMatchObject({ ok: true, value: { sum: 42 } });
}

describe('CPU', () => {
  it('stops a synchronous infinite loop', async () => {
    await expectCode(pool.run(job('syncLoop'), recordingHost()), 'SANDBOX_DEADLINE');
    await expectHealthy();
  });

  it('stops a loop that starts after awaiting a host call', async () => {
    const host = recordingHost();
    await expectCode(pool.run(job('loopAfterAwait'), host), 'SANDBOX_DEADLINE');
    expect(host.requests).toHaveLength(1);
    await expectHealthy();
  });

  it('stops a loop in a promise callback scheduled before returning', async () => {
    await expectCode(pool.run(job('loopInCallback'), recordingHost()), 'SANDBOX_DEADLINE');
    await expectHealthy();
  });

  it('the deadline cannot be caught: try/catch/finally loops still stop', async () => {
    await expectCode(pool.run(job('loopInCatch'), recordingHost()), 'SANDBOX_DEADLINE');
    await expectHealthy();
  });

  it('stops catastrophic regex backtracking', async () => {
    await expectCode(pool.run(job('regex', { n: 5000 }), recordingHost()), 'SANDBOX_DEADLINE');
    expect(await pool.run(job('regex', { n: 10 }), recordingHost())).toMatchObject({ ok: true, value: { match: false } });
    await expectHealthy();
  });

  it('a host that never answers is bounded by the deadline too', async () => {
    const host = recordingHost(() => new Promise(() => {}));
    await expectCode(pool.run(job('slowHost'), host), 'SANDBOX_DEADLINE');
    await expectHealthy();
  });

  it('a promise that can never settle fails at once instead of waiting for the deadline', async () => {
    await expectCode(pool.run(job('neverSettles'), recordingHost()), 'INTERNAL');
    await expectHealthy();
  });
});

describe('memory', () => {
  for (const action of ['stringBomb', 'arrayBomb', 'objectBomb', 'typedArrayBomb', 'memoryInCallback']) {
    it(`contains a memory bomb: ${action}`, async () => {
      await expectCode(pool.run(job(action), recordingHost()), 'SANDBOX_MEMORY');
      await expectHealthy();
    });
  }

  it('a single allocation above the cap fails without touching the host', async () => {
    const r = await pool.run(job('hugeArrayBuffer'), recordingHost());
    expect(r.ok).toBe(false);
    if (!r.ok) expect(['SANDBOX_MEMORY', 'INTERNAL']).toContain(r.error.code);
    await expectHealthy();
  });

  it('a doubling string ends with a clear error', async () => {
    const r = await pool.run(job('doublingString'), recordingHost());
    expect(r.ok).toBe(false);
    if (!r.ok) expect(['SANDBOX_MEMORY', 'INTERNAL']).toContain(r.error.code);
    await expectHealthy();
  });

  it('a guest that catches out-of-memory gets an answer, and the sandbox is not reused', async () => {
    const first = await pool.run(job('memoryCaught'), recordingHost());
    expect(first.ok).toBe(true);
    const again = await pool.run(job('ok', { n: 1 }), recordingHost());
    expect(again).toMatchObject({ ok: true, value: { ok: true } });
    await expectHealthy();
  });
});

describe('stack', () => {
  it('contains deep recursion, synchronous and in a promise callback', async () => {
    await expectCode(pool.run(job('deepRecursion'), recordingHost()), 'SANDBOX_CRASH');
    await expectCode(pool.run(job('recursionInCallback'), recordingHost()), 'SANDBOX_CRASH');
    await expectHealthy();
  });

  it('a caught stack overflow is the guest\'s business', async () => {
    const r = await pool.run(job('recursionCaught'), recordingHost());
    expect(r).toMatchObject({ ok: true, value: { caught: expect.stringContaining('stack overflow') } });
    await expectHealthy();
  });
});

describe('quotas', () => {
  it('limits host calls fired in parallel', async () => {
    const host = recordingHost();
    const r = await expectCode(pool.run(job('hostFlood'), host), 'SANDBOX_QUOTA');
    expect(host.requests.length).toBeLessThanOrEqual(200);
    expect(r.stats.hostCalls).toBeGreaterThan(200);
    await expectHealthy();
  });

  it('limits host calls in a loop that swallows the quota error', async () => {
    const host = recordingHost();
    await expectCode(pool.run(job('hostFloodSequential'), host), 'SANDBOX_QUOTA');
    expect(host.requests.length).toBeLessThanOrEqual(200);
    await expectHealthy();
  });

  it('limits log bytes even when the guest ignores the error', async () => {
    const host = recordingHost();
    await expectCode(pool.run(job('logFlood'), host), 'SANDBOX_QUOTA');
    const bytes = host.logs.reduce((n, l) => n + l.message.length, 0);
    expect(bytes).toBeLessThanOrEqual(64 * 1024);
    await expectHealthy();
  });

  it('limits result size', async () => {
    await expectCode(pool.run(job('hugeResult', { bytes: 2_000_000 }), recordingHost()), 'SANDBOX_QUOTA');
    expect(await pool.run(job('hugeResult', { bytes: 1000 }), recordingHost())).toMatchObject({ ok: true });
    await expectHealthy();
  });

  it('per-job limits override the pool defaults and are validated', async () => {
    await expectCode(pool.run(job('hugeResult', { bytes: 5000 }, { limits: { maxResultBytes: 1000 } }), recordingHost()), 'SANDBOX_QUOTA');
    await expectCode(pool.run(job('ok', {}, { limits: { deadlineMs: -1 } }), recordingHost()), 'INVALID_INPUT');
    await expectHealthy();
  });
});

describe('many attacks at once', () => {
  it('keeps serving other tenants while attacks run in parallel', async () => {
    const attacks = ['syncLoop', 'typedArrayBomb', 'deepRecursion', 'hostFlood', 'logFlood'].map((a) => pool.run(job(a), recordingHost()));
    const normal = Array.from({ length: 10 }, (_, i) => pool.run(actionJob(`tenant-${i}`, healthy, 'add', { x: i, y: 1 }, { limits: { deadlineMs: 15_000 } }), recordingHost()));
    const [bad, good] = await Promise.all([Promise.all(attacks), Promise.all(normal)]);
    for (const r of bad) expect(r.ok).toBe(false);
    good.forEach((r, i) => expect(r).toMatchObject({ ok: true, value: { sum: i + 1 } }));
    expect(pool.stats().workers).toBe(2);
  });
});
