import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servicesRequired } from '../db/test-db.ts';
import { createFairSemaphore, type FairSemaphore, type SemaphoreLease } from './fair-semaphore.ts';
import { keyspace } from './redis.ts';

const url = process.env.REDIS_URL;
if (!url && servicesRequired(process.env)) throw new Error('BOS_REQUIRE_SERVICES=1 but REDIS_URL is not set: the semaphore test needs Redis');
const suite = url ? describe : describe.skip;

const tick = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms));

suite(`cross-worker fair semaphore on Redis${url ? '' : ': skipped, REDIS_URL is not set'}`, () => {
  let redis: Redis;
  const opened: FairSemaphore[] = [];
  const prefixes: string[] = [];
  // Two semaphores on one keyspace stand for two worker processes.
  const pair = (options: { perTenant: number; total: number; leaseMs?: number }) => {
    const prefix = `bos-test-${randomBytes(5).toString('hex')}`;
    prefixes.push(prefix);
    const make = () => createFairSemaphore({ redis, keys: keyspace(prefix).limiter, pollMs: 10, ...options });
    const both = [make(), make()] as const;
    opened.push(...both);
    return both;
  };

  beforeAll(() => {
    redis = new Redis(url!);
  });
  afterAll(async () => {
    for (const s of opened) s.close();
    for (const p of prefixes) {
      const keys = await redis.keys(`${p}:*`);
      if (keys.length) await redis.del(...keys);
    }
    await redis.quit();
  });

  it('holds the per-tenant and global limits across processes', async () => {
    const [a, b] = pair({ perTenant: 2, total: 3 });
    const running = new Map<string, number>();
    let total = 0;
    let maxTotal = 0;
    const maxByTenant = new Map<string, number>();
    const run = async (sem: FairSemaphore, tenant: string) => {
      const lease = await sem.acquire(tenant);
      total++;
      running.set(tenant, (running.get(tenant) ?? 0) + 1);
      maxTotal = Math.max(maxTotal, total);
      maxByTenant.set(tenant, Math.max(maxByTenant.get(tenant) ?? 0, running.get(tenant)!));
      await tick(30);
      total--;
      running.set(tenant, running.get(tenant)! - 1);
      await lease.release();
    };
    await Promise.all(Array.from({ length: 24 }, (_, i) => run(i % 2 ? a : b, ['t1', 't2', 't3'][i % 3]!)));
    expect(maxTotal).toBeLessThanOrEqual(3);
    expect(maxTotal).toBeGreaterThan(1);
    for (const max of maxByTenant.values()) expect(max).toBeLessThanOrEqual(2);
  });

  it('serves a newly waiting tenant before a flooding tenant\'s backlog', async () => {
    const [a, b] = pair({ perTenant: 1, total: 1 });
    const first = await a.acquire('flood');
    const order: string[] = [];
    const waiters = Array.from({ length: 5 }, () => a.acquire('flood').then(async (lease) => {
      order.push('flood');
      await lease.release();
    }));
    await tick(50);
    const polite = b.acquire('polite').then(async (lease) => {
      order.push('polite');
      await lease.release();
    });
    await tick(50);
    await first.release();
    await Promise.all([...waiters, polite]);
    // The flooding tenant was served last, so the newcomer goes first, ahead of four older waiters.
    expect(order[0]).toBe('polite');
    expect(order).toHaveLength(6);
  });

  it('frees the slot of a worker that died holding it once its lease expires', async () => {
    const [dead, alive] = pair({ perTenant: 1, total: 1, leaseMs: 300 });
    await dead.acquire('t');
    // The process stops renewing without releasing, as a killed worker would.
    dead.close();
    let got: SemaphoreLease | undefined;
    const waiting = alive.acquire('t').then((lease) => (got = lease));
    await tick(100);
    expect(got).toBeUndefined();
    await waiting;
    expect(got).toBeDefined();
    await got!.release();
  });

  it('gives the place back when a waiter is cancelled', async () => {
    const [a] = pair({ perTenant: 1, total: 1 });
    const held = await a.acquire('t');
    const controller = new AbortController();
    const cancelled = a.acquire('t', controller.signal);
    controller.abort(new Error('shutting down'));
    await expect(cancelled).rejects.toThrow('shutting down');
    await held.release();
    const next = await a.acquire('t');
    await next.release();
  });
});
