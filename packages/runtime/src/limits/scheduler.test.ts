import { describe, expect, it } from 'vitest';
import { createScheduler } from './scheduler.ts';

/** A task that finishes when the test says so; records its start. */
function gate(log: string[], name: string) {
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  return { task: () => { log.push(name); return done.then(() => name); }, finish };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('scheduler', () => {
  it('caps concurrency per tenant and in total', async () => {
    const s = createScheduler({ perTenant: 2, total: 3 });
    const log: string[] = [];
    const gates = ['a1', 'a2', 'a3', 'b1', 'b2'].map((n) => ({ n, g: gate(log, n) }));
    const runs = gates.map(({ n, g }) => s.run(n[0]!, g.task));
    await tick();
    expect(log).toEqual(['a1', 'a2', 'b1']);
    expect(s.stats()).toMatchObject({ running: 3, queued: 2 });
    gates[0]!.g.finish(); // a1 done: a3 is a's next, but b2 waits too; round-robin order of arrival: a before b
    await tick();
    expect(log).toEqual(['a1', 'a2', 'b1', 'a3']);
    gates[3]!.g.finish(); // b1 done
    await tick();
    expect(log.at(-1)).toBe('b2');
    for (const { g } of gates) g.finish();
    expect(await Promise.all(runs)).toEqual(['a1', 'a2', 'a3', 'b1', 'b2']);
    expect(s.stats()).toEqual({ running: 0, queued: 0, byTenant: {} });
  });

  it('serves waiting tenants round-robin so a flooding tenant cannot starve the others', async () => {
    const s = createScheduler({ perTenant: 1, total: 1, maxQueued: 100, maxQueuedPerTenant: 100 });
    const log: string[] = [];
    const finishers = new Map<string, () => void>();
    const runs: Promise<string>[] = [];
    const add = (name: string) => {
      const g = gate(log, name);
      finishers.set(name, g.finish);
      runs.push(s.run(name.split('-')[0]!, g.task));
    };
    add('flood-0');
    for (let i = 1; i <= 6; i++) add(`flood-${i}`);
    add('b-1');
    add('c-1');
    add('b-2');
    await tick();
    // Finish whatever runs, one at a time, and look at the order of starts.
    for (let i = 0; i < 10; i++) {
      finishers.get(log[log.length - 1]!)!();
      await tick();
      await tick();
    }
    await Promise.all(runs);
    expect(log).toEqual(['flood-0', 'flood-1', 'b-1', 'c-1', 'flood-2', 'b-2', 'flood-3', 'flood-4', 'flood-5', 'flood-6']);
  });

  it('answers QUEUE_FULL with retryAfter at once when the queue is full', async () => {
    const s = createScheduler({ perTenant: 1, total: 1, maxQueued: 2, maxQueuedPerTenant: 1, retryAfterSeconds: 3 });
    const log: string[] = [];
    const g = gate(log, 'a');
    const first = s.run('a', g.task);
    const waiting = s.run('a', async () => 'a2');
    await expect(s.run('a', async () => 'a3')).rejects.toMatchObject({ code: 'QUEUE_FULL', retryAfter: 3, message: expect.stringContaining('tenant a') });
    const other = s.run('b', async () => 'b');
    await expect(s.run('c', async () => 'c')).rejects.toMatchObject({ code: 'QUEUE_FULL', retryAfter: 3 });
    g.finish();
    expect(await Promise.all([first, waiting, other])).toEqual(['a', 'a2', 'b']);
  });

  it('frees the slot when a task fails and lets a waiter cancel', async () => {
    const s = createScheduler({ perTenant: 1, total: 1 });
    const log: string[] = [];
    const g = gate(log, 'x');
    const running = s.run('t', g.task);
    const controller = new AbortController();
    const cancelled = s.run('t', async () => 'never', controller.signal);
    controller.abort();
    await expect(cancelled).rejects.toMatchObject({ code: 'TIMEOUT' });
    g.finish();
    await running;
    await expect(s.run('t', async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(await s.run('t', async () => 'ok')).toBe('ok');
  });
});
