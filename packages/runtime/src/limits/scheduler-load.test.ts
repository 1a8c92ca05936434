import { describe, expect, it } from 'vitest';
import { createScheduler } from './scheduler.ts';

const tick = () => new Promise((r) => setImmediate(r));

describe('scheduler under load', () => {
  it('keeps nine quiet tenants served while a tenant floods, and never exceeds its limits', async () => {
    const s = createScheduler({ perTenant: 5, total: 10, maxQueued: 200, maxQueuedPerTenant: 50, retryAfterSeconds: 2 });
    const running = new Map<string, number>();
    let total = 0;
    const violations: string[] = [];
    const finishers: (() => void)[] = [];
    const started: string[] = [];
    const task = (tenant: string) => () => {
      total++;
      running.set(tenant, (running.get(tenant) ?? 0) + 1);
      if (total > 10) violations.push(`total ${total}`);
      if (running.get(tenant)! > 5) violations.push(`${tenant} ${running.get(tenant)!}`);
      started.push(tenant);
      return new Promise<string>((resolve) => finishers.push(() => {
        total--;
        running.set(tenant, running.get(tenant)! - 1);
        resolve(tenant);
      }));
    };
    const flood = Array.from({ length: 300 }, () => s.run('flood', task('flood')).then(() => 'ok', (e: { code?: string; retryAfter?: number }) => e));
    const quiet = Array.from({ length: 9 }, (_, i) => Array.from({ length: 3 }, () => s.run(`q${i}`, task(`q${i}`)))).flat();
    const refused = (await Promise.race([Promise.all(flood.slice(55)), tick().then(() => [])])) as { code?: string; retryAfter?: number }[];
    // 5 run and 50 wait: the other 245 are refused at once with the configured retry-after.
    expect(refused).toHaveLength(245);
    for (const r of refused) expect(r).toMatchObject({ code: 'QUEUE_FULL', retryAfter: 2 });
    // Finish one execution at a time; every quiet tenant gets a slot within the first few rounds.
    let rounds = 0;
    while (finishers.length > 0) {
      finishers.shift()!();
      await tick();
      rounds++;
      if (rounds === 40) {
        const quietStarted = started.filter((t) => t !== 'flood').length;
        expect(quietStarted).toBe(27);
      }
    }
    await Promise.all(quiet);
    await Promise.all(flood);
    expect(violations).toEqual([]);
    expect(s.stats()).toEqual({ running: 0, queued: 0, byTenant: {} });
  });

  it('releases slots of executions cancelled while queued or while running', async () => {
    const s = createScheduler({ perTenant: 2, total: 3 });
    const controllers = Array.from({ length: 8 }, () => new AbortController());
    const runs = controllers.map((c, i) =>
      s.run(i % 2 ? 'a' : 'b', () => new Promise<string>((resolve, reject) => {
        if (c.signal.aborted) reject(new Error('aborted'));
        c.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      }), c.signal).catch((e: Error) => e.message),
    );
    await tick();
    expect(s.stats()).toMatchObject({ running: 3, queued: 5 });
    for (const c of controllers.reverse()) c.abort();
    const outcomes = await Promise.all(runs);
    expect(outcomes.every((o) => /aborted|cancelled/.test(o))).toBe(true);
    expect(s.stats()).toEqual({ running: 0, queued: 0, byTenant: {} });
  });

  it('does not queue an execution whose signal is already aborted', async () => {
    const s = createScheduler({ perTenant: 1, total: 1 });
    let finish!: () => void;
    const first = s.run('t', () => new Promise<void>((r) => (finish = r)));
    let ran = false;
    await expect(s.run('t', async () => { ran = true; }, AbortSignal.abort())).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(s.stats()).toMatchObject({ running: 1, queued: 0 });
    finish();
    await first;
    await tick();
    expect(ran).toBe(false);
  });

  it('refuses limits that would stop every execution, with a message naming the option', () => {
    for (const bad of [{ perTenant: 0 }, { total: -1 }, { perTenant: Number.NaN }, { total: 1.5 }, { maxQueued: -1 }, { maxQueuedPerTenant: 2.5 }, { retryAfterSeconds: -1 }]) {
      expect(() => createScheduler(bad), JSON.stringify(bad)).toThrow(new RegExp(Object.keys(bad)[0]!));
    }
    // Huge limits are fine, and an empty waiting room just answers QUEUE_FULL once the slots are taken.
    expect(() => createScheduler({ perTenant: 1_000_000, total: Number.MAX_SAFE_INTEGER })).not.toThrow();
  });

  it('answers QUEUE_FULL at once when no waiting is allowed', async () => {
    const s = createScheduler({ perTenant: 1, total: 1, maxQueued: 0 });
    let finish!: () => void;
    const first = s.run('t', () => new Promise<void>((r) => (finish = r)));
    await expect(s.run('u', async () => undefined)).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    finish();
    await first;
  });
});
