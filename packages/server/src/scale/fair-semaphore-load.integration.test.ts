import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servicesRequired } from '../db/test-db.ts';
import { createFairSemaphore, type FairSemaphore, type FairSemaphoreOptions } from './fair-semaphore.ts';
import { createRedis, keyspace } from './redis.ts';

const url = process.env.REDIS_URL;
if (!url && servicesRequired(process.env)) throw new Error('BOS_REQUIRE_SERVICES=1 but REDIS_URL is not set: the semaphore test needs Redis');
const suite = url ? describe : describe.skip;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

suite(`fair semaphore under floods, cancellations and connection loss${url ? '' : ': skipped, REDIS_URL is not set'}`, () => {
  let redis: Redis;
  const opened: FairSemaphore[] = [];
  const clients: Redis[] = [];
  const prefixes: string[] = [];
  const make = (prefix: string, options: Partial<FairSemaphoreOptions> & { perTenant: number; total: number }, client = redis) => {
    const sem = createFairSemaphore({ redis: client, keys: keyspace(prefix).limiter, pollMs: 10, ...options });
    opened.push(sem);
    return sem;
  };
  const newPrefix = () => {
    const prefix = `bos-test-${randomBytes(5).toString('hex')}`;
    prefixes.push(prefix);
    return prefix;
  };
  /** Slots held and places queued in Redis for `prefix`. */
  const inRedis = async (prefix: string) => {
    const k = keyspace(prefix).limiter;
    return { running: await redis.zcard(k.running), waiting: await redis.zcard(k.waiting), order: await redis.zcard(k.order) };
  };

  beforeAll(() => {
    redis = new Redis(url!);
  });
  afterAll(async () => {
    for (const s of opened) s.close();
    for (const c of clients) c.disconnect();
    for (const p of prefixes) {
      const keys = await redis.keys(`${p}:*`);
      if (keys.length) await redis.del(...keys);
    }
    await redis.quit();
  });

  it('serves nine quiet tenants ahead of a flooding tenant\'s backlog and never exceeds the limits', async () => {
    const prefix = newPrefix();
    const [a, b] = [make(prefix, { perTenant: 5, total: 10 }), make(prefix, { perTenant: 5, total: 10 })];
    const running = new Map<string, number>();
    let total = 0;
    const violations: string[] = [];
    const order: string[] = [];
    const run = async (sem: FairSemaphore, tenant: string) => {
      const lease = await sem.acquire(tenant);
      total++;
      running.set(tenant, (running.get(tenant) ?? 0) + 1);
      if (total > 10) violations.push(`total ${total}`);
      if (running.get(tenant)! > 5) violations.push(`${tenant} ${running.get(tenant)!}`);
      order.push(tenant);
      await sleep(15);
      total--;
      running.set(tenant, running.get(tenant)! - 1);
      await lease.release();
    };
    const flood = Array.from({ length: 150 }, (_, i) => run(i % 2 ? a : b, 'flood'));
    await sleep(30);
    const quiet = Array.from({ length: 9 }, (_, i) => [run(a, `q${i}`), run(b, `q${i}`)]).flat();
    await Promise.all([...flood, ...quiet]);
    expect(violations).toEqual([]);
    // The 18 quiet executions arrived behind ~140 waiting flood executions, yet all start among the first ones.
    const lastQuiet = order.findLastIndex((t) => t !== 'flood');
    expect(lastQuiet).toBeLessThan(60);
    expect(await inRedis(prefix)).toEqual({ running: 0, waiting: 0, order: 0 });
  });

  it('leaves nothing behind when acquisitions are cancelled while waiting and leases are released on abort', async () => {
    const prefix = newPrefix();
    const sem = make(prefix, { perTenant: 2, total: 3 });
    const controllers = Array.from({ length: 12 }, () => new AbortController());
    const runs = controllers.map(async (c, i) => {
      const lease = await sem.acquire(`t${i % 3}`, c.signal);
      try {
        await new Promise((_resolve, reject) => c.signal.addEventListener('abort', () => reject(new Error('aborted while running')), { once: true }));
      } finally {
        await lease.release();
      }
    });
    await sleep(100);
    expect((await inRedis(prefix)).running).toBe(3);
    for (const c of controllers) c.abort(new Error('client went away'));
    const outcomes = await Promise.allSettled(runs);
    expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
    await sleep(50);
    expect(await inRedis(prefix)).toEqual({ running: 0, waiting: 0, order: 0 });
    // Already aborted: refused without taking a place.
    await expect(sem.acquire('t0', AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone');
    expect(await inRedis(prefix)).toEqual({ running: 0, waiting: 0, order: 0 });
  });

  it('fails waiting acquisitions when the semaphore is closed instead of leaving them hanging', async () => {
    const prefix = newPrefix();
    const sem = make(prefix, { perTenant: 1, total: 1 });
    const held = await sem.acquire('t');
    const waiting = sem.acquire('t');
    await sleep(30);
    sem.close();
    await expect(waiting).rejects.toThrow(/closed/);
    await held.release();
    await sleep(30);
    expect(await inRedis(prefix)).toEqual({ running: 0, waiting: 0, order: 0 });
  });

  it('keeps limits and frees every slot across a dropped Redis connection', async () => {
    const prefix = newPrefix();
    const client = createRedis(url!);
    clients.push(client);
    const sem = make(prefix, { perTenant: 2, total: 2, leaseMs: 600 }, client);
    const other = make(prefix, { perTenant: 2, total: 2, leaseMs: 600 });
    const name = `bos-test-${randomBytes(4).toString('hex')}`;
    await client.client('SETNAME', name);
    let active = 0;
    let max = 0;
    const run = async (s: FairSemaphore, tenant: string, ms: number) => {
      const lease = await s.acquire(tenant);
      active++;
      max = Math.max(max, active);
      await sleep(ms);
      active--;
      await lease.release();
    };
    const runs = [run(sem, 'a', 800), run(sem, 'a', 800), run(sem, 'b', 50), run(other, 'b', 50), run(other, 'c', 50)];
    await sleep(100);
    // Drop the connection of the process holding both slots, twice, while its executions run and renew.
    const kill = async () => {
      const list = (await redis.client('LIST')) as string;
      const id = /id=(\d+) [^\n]*name=([^\s]+)/g;
      for (const m of list.matchAll(id)) if (m[2] === name) await redis.client('KILL', 'ID', m[1]!);
    };
    await kill();
    await sleep(300);
    await kill();
    await Promise.all(runs);
    expect(max).toBeLessThanOrEqual(2);
    await sleep(50);
    expect(await inRedis(prefix)).toEqual({ running: 0, waiting: 0, order: 0 });
  });

  it('re-registers the slots it holds after Redis lost them (a restart without persistence)', async () => {
    const prefix = newPrefix();
    const sem = make(prefix, { perTenant: 1, total: 1, leaseMs: 300 });
    const other = make(prefix, { perTenant: 1, total: 1, leaseMs: 300 });
    const lease = await sem.acquire('t');
    // What a restarted, empty Redis looks like to the semaphore.
    await redis.del(...Object.values(keyspace(prefix).limiter));
    // The holder renews every leaseMs / 3 = 100 ms; by then the slot it still uses is known again.
    await sleep(250);
    let got = false;
    const waiting = other.acquire('t').then((l) => {
      got = true;
      return l;
    });
    await sleep(200);
    expect(got).toBe(false);
    await lease.release();
    await (await waiting).release();
    expect(await inRedis(prefix)).toEqual({ running: 0, waiting: 0, order: 0 });
  });

  it('refuses limits that would stop every execution', () => {
    for (const bad of [{ perTenant: 0, total: 10 }, { perTenant: 5, total: -1 }, { perTenant: Number.NaN, total: 10 }, { perTenant: 5, total: 10, leaseMs: 0 }]) {
      expect(() => make('unused', bad), JSON.stringify(bad)).toThrow(/must be/);
    }
  });
});
