import type { ErrorData } from '@businessos/connector-sdk';
import { AuthExpiredError, ConnectorError } from '@businessos/connector-sdk';
import { describe, expect, it, vi } from 'vitest';
import { createMemoryOutbox } from '../outbox/memory-outbox.ts';
import type { EventOutbox } from '../outbox/types.ts';
import { createPoller, type PollSubscription, type RunPoll } from './poller.ts';
import { createMemoryPollStateStore } from './state-store.ts';

const byId: PollSubscription = { id: 'sub1', tenantId: 't1', trigger: { name: 'newOrder', polling: { intervalSeconds: 60, dedupe: { by: 'id', path: '/id' } } } };
const byTime: PollSubscription = { id: 'sub2', tenantId: 't1', trigger: { name: 'updatedRow', polling: { intervalSeconds: 60, dedupe: { by: 'timestamp', path: '/updated_at' } } } };

/** A provider whose poll returns whatever list the test sets, and echoes the cursor it got. */
function provider() {
  let items: unknown[] = [];
  const cursors: unknown[] = [];
  const runPoll = vi.fn<RunPoll>(async (_sub, cursor) => {
    cursors.push(cursor);
    return { items: structuredClone(items), state: { page: cursors.length } };
  });
  return { runPoll, cursors, set: (next: unknown[]) => { items = next; } };
}

function setup(overrides: { outbox?: EventOutbox; runPoll?: RunPoll; onAuthFailure?: (s: PollSubscription, e: ErrorData, n: number) => void } = {}) {
  let now = 1_700_000_000_000;
  const clock = { now: () => now };
  const p = provider();
  const outbox = createMemoryOutbox({ clock });
  const stateStore = createMemoryPollStateStore();
  const poller = createPoller({ runPoll: overrides.runPoll ?? p.runPoll, stateStore, outbox: overrides.outbox ?? outbox, clock, onAuthFailure: overrides.onAuthFailure });
  const payloads = async () => (await outbox.readAfter({ tenantId: 't1', limit: 100 })).map((e) => e.payload);
  return { poller, outbox, stateStore, provider: p, clock, advance: (ms: number) => { now += ms; }, payloads };
}

describe('createPoller: id dedupe', () => {
  it('records a baseline on the first poll and then emits only new items, once', async () => {
    const { poller, provider: p, payloads, advance } = setup();
    p.set([{ id: 1 }, { id: 2 }]);
    expect(await poller.pollOnce(byId)).toMatchObject({ status: 'baseline', emitted: 0 });
    expect(await payloads()).toEqual([]);
    advance(60_000);
    p.set([{ id: 1 }, { id: 2 }, { id: 3 }, { id: 3 }]);
    expect(await poller.pollOnce(byId)).toMatchObject({ status: 'polled', emitted: 1 });
    p.set([{ id: 2 }, { id: 3 }, { id: 4 }]);
    expect(await poller.pollOnce(byId)).toMatchObject({ emitted: 1 });
    expect(await payloads()).toEqual([{ id: 3 }, { id: 4 }]);
  });

  it('passes the connector its own previous state', async () => {
    const { poller, provider: p } = setup();
    await poller.pollOnce(byId);
    await poller.pollOnce(byId);
    expect(p.cursors).toEqual([undefined, { page: 1 }]);
  });

  it('keys items without an id by content, and keeps the seen-set bounded', async () => {
    const outbox = createMemoryOutbox();
    const stateStore = createMemoryPollStateStore();
    const p = provider();
    const poller = createPoller({ runPoll: p.runPoll, stateStore, outbox, maxSeenIds: 3 });
    await poller.pollOnce(byId);
    p.set([{ id: 'a' }, { id: 'b' }, { id: 'c' }, { id: 'd' }, { name: 'no id' }]);
    await poller.pollOnce(byId);
    const keys = (await outbox.readAfter({ tenantId: 't1', limit: 10 })).map((e) => e.key);
    expect(keys.slice(0, 4)).toEqual(['id:a', 'id:b', 'id:c', 'id:d']);
    expect(keys[4]).toMatch(/^hash:[0-9a-f]{32}$/);
    expect((await stateStore.load('sub1'))?.seenIds).toHaveLength(3);
    // 'a' fell out of the bounded seen-set; the outbox still stores it once.
    p.set([{ id: 'a' }]);
    expect(await poller.pollOnce(byId)).toMatchObject({ emitted: 0 });
  });
});

describe('createPoller: timestamp dedupe', () => {
  it('emits items strictly newer than the high-water mark, and unseen items at exactly the mark', async () => {
    const { poller, provider: p, payloads, stateStore, clock, advance } = setup();
    // The items are dated in the past of the poller's clock (see the future-timestamp tests below for the others).
    advance(Date.parse('2024-02-01T00:00:00Z') - clock.now());
    p.set([{ n: 'old', updated_at: '2024-01-01T00:00:00Z' }, { n: 'edge1', updated_at: '2024-01-02T00:00:00Z' }]);
    await poller.pollOnce(byTime);
    expect((await stateStore.load('sub2'))?.highWater).toBe(Date.parse('2024-01-02T00:00:00Z'));
    p.set([
      { n: 'old', updated_at: '2024-01-01T00:00:00Z' },
      { n: 'edge1', updated_at: '2024-01-02T00:00:00Z' },
      { n: 'edge2', updated_at: '2024-01-02T00:00:00Z' },
      { n: 'no-ts' },
    ]);
    expect(await poller.pollOnce(byTime)).toMatchObject({ emitted: 1 });
    p.set([{ n: 'edge2', updated_at: '2024-01-02T00:00:00Z' }, { n: 'edge3', updated_at: '2024-01-02T00:00:00Z' }, { n: 'new', updated_at: '2024-01-03T00:00:00Z' }]);
    expect(await poller.pollOnce(byTime)).toMatchObject({ emitted: 2 });
    expect((await stateStore.load('sub2'))?.keysAtHighWater).toHaveLength(1);
    p.set([{ n: 'new', updated_at: '2024-01-03T00:00:00Z' }, { n: 'stale', updated_at: '2023-12-31T00:00:00Z' }]);
    expect(await poller.pollOnce(byTime)).toMatchObject({ emitted: 0 });
    expect((await payloads()).map((x) => (x as { n: string }).n)).toEqual(['edge2', 'edge3', 'new']);
  });

  it('treats everything as new after an empty baseline, with numeric timestamps', async () => {
    const { poller, provider: p, payloads } = setup();
    await poller.pollOnce(byTime);
    p.set([{ id: 1, updated_at: 1700000001 }, { id: 2, updated_at: 1700000002 }]);
    expect(await poller.pollOnce(byTime)).toMatchObject({ emitted: 2 });
    expect(await payloads()).toHaveLength(2);
  });
});

describe('createPoller: timestamps in the future', () => {
  const YEAR_MS = 365 * 86_400_000;
  // The same scenario with the kinds of timestamps a provider sends: ISO dates, epoch ms, Unix seconds, µs and ns.
  const units = [
    // `at`: how the item carries a time; `mark`: the number the engine reads from it.
    { unit: 'ISO dates', at: (ms: number): unknown => new Date(ms).toISOString(), mark: (ms: number) => ms },
    { unit: 'epoch ms', at: (ms: number): unknown => ms, mark: (ms: number) => ms },
    { unit: 'Unix seconds', at: (ms: number): unknown => Math.floor(ms / 1000), mark: (ms: number) => Math.floor(ms / 1000) },
    { unit: 'microseconds', at: (ms: number): unknown => ms * 1000, mark: (ms: number) => ms * 1000 },
    { unit: 'nanoseconds', at: (ms: number): unknown => ms * 1_000_000, mark: (ms: number) => ms * 1_000_000 },
  ];

  it.each(units)('emits an item dated years ahead once and keeps emitting the real items after it ($unit)', async ({ at, mark }) => {
    const { poller, provider: p, payloads, stateStore, clock, advance } = setup();
    const t0 = clock.now();
    const items: unknown[] = [{ n: 'old', updated_at: at(t0 - 60_000) }];
    p.set(items);
    expect(await poller.pollOnce(byTime)).toMatchObject({ status: 'baseline' });
    items.push({ n: 'scheduled', updated_at: at(t0 + 10 * YEAR_MS) });
    p.set(items);
    expect(await poller.pollOnce(byTime)).toMatchObject({ emitted: 1 });
    for (let i = 1; i <= 4; i += 1) {
      advance(1_000);
      items.push({ n: `real${i}`, updated_at: at(t0 + i * 1_000) });
      p.set(items);
      expect(await poller.pollOnce(byTime)).toMatchObject({ status: 'polled', emitted: 1 });
    }
    advance(1_000);
    expect(await poller.pollOnce(byTime)).toMatchObject({ emitted: 0 });
    expect((await payloads()).map((x) => (x as { n: string }).n)).toEqual(['scheduled', 'real1', 'real2', 'real3', 'real4']);
    const state = await stateStore.load('sub2');
    expect(state?.highWater).toBe(mark(t0 + 4_000));
    expect(state?.keysAhead).toHaveLength(1);
  });

  it.each(units)('does not put the baseline mark into the future, nor emit the future item it found ($unit)', async ({ at, mark }) => {
    const { poller, provider: p, payloads, stateStore, clock, advance } = setup();
    const t0 = clock.now();
    const items: unknown[] = [{ n: 'old', updated_at: at(t0 - 60_000) }, { n: 'typo', updated_at: at(t0 + 75 * YEAR_MS) }];
    p.set(items);
    await poller.pollOnce(byTime);
    expect((await stateStore.load('sub2'))?.highWater).toBe(mark(t0 - 60_000));
    advance(1_000);
    items.push({ n: 'real', updated_at: at(t0 + 1_000) });
    p.set(items);
    expect(await poller.pollOnce(byTime)).toMatchObject({ emitted: 1 });
    expect(await poller.pollOnce(byTime)).toMatchObject({ emitted: 0 });
    expect((await payloads()).map((x) => (x as { n: string }).n)).toEqual(['real']);
  });

  it('forgets a future item once the mark passed its time, without emitting it again', async () => {
    const { poller, provider: p, payloads, stateStore, clock, advance } = setup();
    const t0 = clock.now();
    await poller.pollOnce(byTime);
    const items: unknown[] = [{ n: 'next-week', updated_at: t0 + 7 * 86_400_000 }];
    p.set(items);
    expect(await poller.pollOnce(byTime)).toMatchObject({ emitted: 1 });
    // A week later the item is no longer ahead of the clock; it is still not new.
    advance(7 * 86_400_000);
    expect(await poller.pollOnce(byTime)).toMatchObject({ emitted: 0 });
    expect((await stateStore.load('sub2'))?.keysAhead).toHaveLength(1);
    advance(1_000);
    items.push({ n: 'later', updated_at: clock.now() });
    p.set(items);
    expect(await poller.pollOnce(byTime)).toMatchObject({ emitted: 1 });
    expect(await poller.pollOnce(byTime)).toMatchObject({ emitted: 0 });
    expect((await stateStore.load('sub2'))?.keysAhead).toEqual([]);
    expect((await payloads()).map((x) => (x as { n: string }).n)).toEqual(['next-week', 'later']);
  });

  it('lets items within the allowance move the mark (a provider clock slightly ahead of ours)', async () => {
    const { poller, provider: p, stateStore, clock } = setup();
    await poller.pollOnce(byTime);
    p.set([{ n: 'skewed', updated_at: clock.now() + 60_000 }]);
    expect(await poller.pollOnce(byTime)).toMatchObject({ emitted: 1 });
    expect((await stateStore.load('sub2'))?.highWater).toBe(clock.now() + 60_000);
    expect((await stateStore.load('sub2'))?.keysAhead).toEqual([]);
  });
});

describe('createPoller: failures', () => {
  it('does not advance the state when storing events fails, so the next poll re-emits them (at least once)', async () => {
    const real = createMemoryOutbox();
    let failAppend = true;
    const outbox: EventOutbox = { ...real, appendEvents: async (t, e) => { if (failAppend) throw new Error('db down'); return real.appendEvents(t, e); } };
    const { poller, provider: p, stateStore, advance } = setup({ outbox });
    await poller.pollOnce(byId);
    p.set([{ id: 7 }]);
    expect(await poller.pollOnce(byId)).toMatchObject({ status: 'failed', error: { code: 'INTERNAL' } });
    const after = await stateStore.load('sub1');
    expect(after?.seenIds).toEqual([]);
    expect(after?.cursor).toEqual({ page: 1 });
    failAppend = false;
    advance(3_600_000);
    expect(await poller.pollOnce(byId)).toMatchObject({ status: 'polled', emitted: 1 });
    expect((await real.readAfter({ tenantId: 't1', limit: 10 })).map((e) => e.payload)).toEqual([{ id: 7 }]);
  });

  it('re-polling after a crash between storing events and saving state stores each event once', async () => {
    const { poller, provider: p, stateStore, payloads } = setup();
    await poller.pollOnce(byId);
    const before = await stateStore.load('sub1');
    p.set([{ id: 1 }]);
    await poller.pollOnce(byId);
    // Simulate the crash: the events were stored, the state save never happened.
    if (before) await stateStore.save('sub1', before);
    expect(await poller.pollOnce(byId)).toMatchObject({ emitted: 0 });
    expect(await payloads()).toEqual([{ id: 1 }]);
  });

  it('backs off exponentially (capped), skipping polls while waiting, and resets after a success', async () => {
    let failing = true;
    const runPoll: RunPoll = async () => { if (failing) throw new ConnectorError('UPSTREAM_ERROR', 'HTTP 503'); return { items: [], state: null }; };
    const { poller, advance } = setup({ runPoll });
    const waits: number[] = [];
    for (let i = 0; i < 8; i += 1) {
      const out = await poller.pollOnce(byId);
      expect(out.status).toBe('failed');
      waits.push(out.nextRunAt - 1_700_000_000_000 - waits.reduce((a, b) => a + b, 0));
      expect(await poller.pollOnce(byId)).toMatchObject({ status: 'backoff' });
      advance(out.nextRunAt - (1_700_000_000_000 + waits.slice(0, -1).reduce((a, b) => a + b, 0)));
    }
    expect(waits).toEqual([120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000, 3_600_000, 3_600_000]);
    failing = false;
    expect(await poller.pollOnce(byId)).toMatchObject({ status: 'baseline' });
    expect((await poller.pollOnce(byId)).nextRunAt).toBe(1_700_000_000_000 + waits.reduce((a, b) => a + b, 0) + 60_000);
  });

  it('reports repeated auth failures once after N in a row; other errors reset the count', async () => {
    const errors: Error[] = [new AuthExpiredError(), new AuthExpiredError(), new ConnectorError('TIMEOUT', 't'), new AuthExpiredError(), new ConnectorError('AUTH_FAILED', 'revoked'), new AuthExpiredError(), new AuthExpiredError()];
    const runPoll: RunPoll = async () => { throw errors.shift() ?? new Error('done'); };
    const onAuthFailure = vi.fn();
    const { poller, advance } = setup({ runPoll, onAuthFailure });
    for (let i = 0; i < 7; i += 1) {
      await poller.pollOnce(byId);
      advance(10 * 3_600_000);
    }
    expect(onAuthFailure).toHaveBeenCalledOnce();
    // The third consecutive auth error is the sixth poll's (AUTH_EXPIRED, after AUTH_EXPIRED and AUTH_FAILED).
    expect(onAuthFailure).toHaveBeenCalledWith(byId, expect.objectContaining({ code: 'AUTH_EXPIRED' }), 3);
  });

  it('stores and saves nothing of a poll whose lock was lost while it ran', async () => {
    const { poller, provider: p, payloads, stateStore } = setup();
    p.set([{ id: 1 }]);
    await poller.pollOnce(byId);
    const before = (await stateStore.load(byId.id))!;
    p.set([{ id: 1 }, { id: 2 }]);
    const lost = new AbortController();
    p.runPoll.mockImplementationOnce(async () => {
      lost.abort();
      return { items: [{ id: 1 }, { id: 2 }], state: { page: 'stale' } };
    });
    expect(await poller.pollOnce(byId, { signal: lost.signal })).toMatchObject({ status: 'failed', emitted: 0, error: { code: 'CONFLICT' } });
    expect(await payloads()).toEqual([]);
    expect(await stateStore.load(byId.id)).toEqual(before);
    // A failure of such a poll is not recorded either: the state may be a newer poll's.
    p.runPoll.mockImplementationOnce(async () => { throw new ConnectorError('AUTH_FAILED', 'revoked'); });
    await poller.pollOnce(byId, { signal: lost.signal });
    expect(await stateStore.load(byId.id)).toEqual(before);
    // The next poll, with its lock, emits the new item once.
    expect(await poller.pollOnce(byId)).toMatchObject({ status: 'polled', emitted: 1 });
    expect(await payloads()).toEqual([{ id: 2 }]);
  });

  it('treats a malformed poll result as INVALID_OUTPUT and refuses non-polling triggers', async () => {
    const { poller } = setup({ runPoll: async () => ({ items: 'nope' }) as never });
    expect(await poller.pollOnce(byId)).toMatchObject({ status: 'failed', error: { code: 'INVALID_OUTPUT' } });
    await expect(poller.pollOnce({ ...byId, trigger: { name: 'hook' } })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});
