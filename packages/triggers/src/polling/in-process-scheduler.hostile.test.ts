import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMemoryOutbox } from '../outbox/memory-outbox.ts';
import { createInProcessScheduler } from './in-process-scheduler.ts';
import { createPoller, type PollSubscription, type RunPoll } from './poller.ts';
import { createMemoryPollStateStore } from './state-store.ts';

const sub: PollSubscription = { id: 'sub1', tenantId: 't1', trigger: { name: 'newItem', polling: { intervalSeconds: 3_600, dedupe: { by: 'id', path: '/id' } } } };

describe('createInProcessScheduler under changes while polling', () => {
  beforeEach(() => { vi.useFakeTimers({ now: 1_700_000_000_000 }); });
  afterEach(() => { vi.useRealTimers(); });

  function setup(runPoll: RunPoll) {
    const poller = createPoller({ runPoll, stateStore: createMemoryPollStateStore(), outbox: createMemoryOutbox() });
    const polls: string[] = [];
    const scheduler = createInProcessScheduler({ poller, random: () => 0, onPoll: (s, o) => polls.push(o.status) });
    return { scheduler, polls };
  }

  it('applies a shorter interval at once instead of after the old, longer wait', async () => {
    const { scheduler, polls } = setup(async () => ({ items: [], state: null }));
    await scheduler.schedule(sub);
    await vi.advanceTimersByTimeAsync(10);
    expect(polls).toEqual(['baseline']);
    await scheduler.schedule({ ...sub, intervalMs: 60_000 });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(polls).toEqual(['baseline', 'polled']);
    await scheduler.close();
  });

  it('does not start a second poll when re-enabled while the previous poll still runs', async () => {
    let active = 0;
    let maxActive = 0;
    const { scheduler, polls } = setup(async () => {
      active += 1;
      maxActive = Math.max(maxActive, active);
      await new Promise((r) => setTimeout(r, 30_000));
      active -= 1;
      return { items: [], state: null };
    });
    await scheduler.schedule(sub);
    await vi.advanceTimersByTimeAsync(10);
    expect(active).toBe(1);
    // Disable and enable race (two requests): the new schedule must wait for the poll in progress.
    const disabling = scheduler.unschedule(sub.id);
    await scheduler.schedule(sub);
    await vi.advanceTimersByTimeAsync(70_000);
    await disabling;
    expect(polls.length).toBeGreaterThanOrEqual(2);
    expect(maxActive).toBe(1);
    const closing = scheduler.close();
    await vi.advanceTimersByTimeAsync(30_000);
    await closing;
  });
});
