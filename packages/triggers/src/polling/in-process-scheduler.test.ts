import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMemoryOutbox } from '../outbox/memory-outbox.ts';
import { createInProcessScheduler } from './in-process-scheduler.ts';
import { createPoller, type PollSubscription, type RunPoll } from './poller.ts';
import { createMemoryPollStateStore } from './state-store.ts';

const sub: PollSubscription = { id: 'sub1', tenantId: 't1', trigger: { name: 'newItem', polling: { intervalSeconds: 10, dedupe: { by: 'id', path: '/id' } } } };

describe('createInProcessScheduler', () => {
  beforeEach(() => { vi.useFakeTimers({ now: 1_700_000_000_000 }); });
  afterEach(() => { vi.useRealTimers(); });

  function setup(runPoll: RunPoll) {
    const outbox = createMemoryOutbox();
    const stateStore = createMemoryPollStateStore();
    const poller = createPoller({ runPoll, stateStore, outbox });
    const polls: string[] = [];
    const scheduler = createInProcessScheduler({ poller, random: () => 0.5, onPoll: (s, o) => polls.push(`${s.id}:${o.status}`) });
    return { scheduler, polls, outbox, stateStore };
  }

  it('polls on the interval plus jitter, emitting new items, and stops when unscheduled', async () => {
    let items = [{ id: 1 }];
    const { scheduler, polls, outbox } = setup(async () => ({ items, state: null }));
    await scheduler.schedule(sub);
    await scheduler.schedule(sub);
    await vi.advanceTimersByTimeAsync(500);
    expect(polls).toEqual(['sub1:baseline']);
    items = [{ id: 1 }, { id: 2 }];
    await vi.advanceTimersByTimeAsync(10_000);
    expect(polls).toEqual(['sub1:baseline']);
    await vi.advanceTimersByTimeAsync(500);
    expect(polls).toEqual(['sub1:baseline', 'sub1:polled']);
    expect((await outbox.readAfter({ tenantId: 't1', limit: 10 })).map((e) => e.payload)).toEqual([{ id: 2 }]);
    await scheduler.unschedule('sub1');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(polls).toHaveLength(2);
    await scheduler.close();
  });

  it('never overlaps two polls of one subscription, even when a poll outlasts the interval', async () => {
    let active = 0;
    let maxActive = 0;
    const { scheduler, polls } = setup(async () => {
      active += 1;
      maxActive = Math.max(maxActive, active);
      await new Promise((r) => setTimeout(r, 25_000));
      active -= 1;
      return { items: [], state: null };
    });
    await scheduler.schedule(sub);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(polls.length).toBeGreaterThanOrEqual(3);
    expect(maxActive).toBe(1);
    const closing = scheduler.close();
    await vi.advanceTimersByTimeAsync(30_000);
    await closing;
  });

  it('waits out the poller\'s backoff after failures', async () => {
    const { scheduler, polls } = setup(async () => { throw Object.assign(new Error('503'), { code: 'UPSTREAM_ERROR' }); });
    await scheduler.schedule(sub);
    await vi.advanceTimersByTimeAsync(500);
    expect(polls).toEqual(['sub1:failed']);
    // First failure at 0.5 s: the next poll 2 intervals (20 s) plus 0.5 s jitter later, at 21 s.
    await vi.advanceTimersByTimeAsync(19_000);
    expect(polls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(polls).toEqual(['sub1:failed', 'sub1:failed']);
    await scheduler.close();
  });

  it('close() waits for the poll in progress and schedules nothing after', async () => {
    let finished = false;
    const { scheduler, polls } = setup(async () => {
      await new Promise((r) => setTimeout(r, 1_000));
      finished = true;
      return { items: [], state: null };
    });
    await scheduler.schedule(sub);
    await vi.advanceTimersByTimeAsync(600);
    const closing = scheduler.close();
    await vi.advanceTimersByTimeAsync(1_000);
    await closing;
    expect(finished).toBe(true);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(polls).toEqual(['sub1:baseline']);
    await scheduler.schedule(sub);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(polls).toHaveLength(1);
  });
});
