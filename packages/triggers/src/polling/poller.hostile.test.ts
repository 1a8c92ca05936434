import { ConnectorError, RateLimitedError } from '@businessos/connector-sdk';
import { describe, expect, it } from 'vitest';
import { createMemoryOutbox } from '../outbox/memory-outbox.ts';
import { createPoller, type PollerOptions, type PollSubscription, type RunPoll } from './poller.ts';
import { createMemoryPollStateStore, type PollState, type PollStateStore } from './state-store.ts';

const byId: PollSubscription = { id: 'sub1', tenantId: 't1', trigger: { name: 'newOrder', polling: { intervalSeconds: 60, dedupe: { by: 'id', path: '/id' } } } };
const byTime: PollSubscription = { id: 'sub2', tenantId: 't1', trigger: { name: 'updatedRow', polling: { intervalSeconds: 60, dedupe: { by: 'timestamp', path: '/updated_at' } } } };

/** A store that keeps states as JSON text, as the PostgreSQL and Redis stores do. */
function jsonStore(): PollStateStore {
  const rows = new Map<string, string>();
  return {
    async load(id) {
      const raw = rows.get(id);
      return raw === undefined ? undefined : (JSON.parse(raw) as PollState);
    },
    async save(id, state) {
      rows.set(id, JSON.stringify(state));
    },
    async delete(id) {
      rows.delete(id);
    },
  };
}

/** {@link jsonStore} refusing what PostgreSQL's jsonb refuses: a NUL character or a lone surrogate, in a key or a string. */
function jsonbStore(): PollStateStore {
  const store = jsonStore();
  const unstorable = (text: unknown) => typeof text === 'string' && (text.includes('\u0000') || /\p{Surrogate}/u.test(text));
  return {
    ...store,
    async save(id, state) {
      JSON.stringify(state, (key, value: unknown) => {
        if (unstorable(key) || unstorable(value)) throw new Error('unsupported Unicode escape sequence');
        return value;
      });
      await store.save(id, state);
    },
  };
}

function setup(runPoll: RunPoll, extra: Partial<PollerOptions> = {}) {
  let now = 1_700_000_000_000;
  const clock = { now: () => now };
  const outbox = createMemoryOutbox({ clock });
  const stateStore = extra.stateStore ?? createMemoryPollStateStore();
  const poller = createPoller({ runPoll, stateStore, outbox, clock, ...extra });
  const events = async () => outbox.readAfter({ tenantId: 't1', limit: 1000 });
  return { poller, stateStore, events, advance: (ms: number) => { now += ms; }, now: () => now };
}

describe('createPoller against hostile APIs', () => {
  it('emits nothing old from a huge baseline page, and only the new item after it', async () => {
    const page = Array.from({ length: 5_000 }, (_, i) => ({ id: `o${i}` }));
    let items: unknown[] = page;
    const { poller, events } = setup(async () => ({ items, state: null }));
    expect(await poller.pollOnce(byId)).toMatchObject({ status: 'baseline' });
    items = [...page, { id: 'new' }];
    expect(await poller.pollOnce(byId)).toMatchObject({ status: 'polled', emitted: 1 });
    expect(await poller.pollOnce(byId)).toMatchObject({ emitted: 0 });
    expect((await events()).map((e) => e.key)).toEqual(['id:new']);
  });

  it('keeps remembering items the API still returns, however many newer ones arrived since', async () => {
    let items: unknown[] = [{ id: 'keep' }];
    const { poller, events } = setup(async () => ({ items, state: null }), { maxSeenIds: 3 });
    await poller.pollOnce(byId);
    for (let i = 0; i < 5; i += 1) {
      items = [{ id: 'keep' }, { id: `n${i}` }];
      await poller.pollOnce(byId);
    }
    // 'keep' came with the baseline, so it was never stored as an event: only the seen-set protects it.
    expect((await events()).map((e) => e.key)).toEqual(['id:n0', 'id:n1', 'id:n2', 'id:n3', 'id:n4']);
  });

  it('emits nothing old when more items than the bound share the high-water timestamp', async () => {
    const page = Array.from({ length: 50 }, (_, i) => ({ n: i, updated_at: '2024-01-02T00:00:00Z' }));
    const { poller, events } = setup(async () => ({ items: page, state: null }), { maxSeenIds: 10 });
    await poller.pollOnce(byTime);
    expect(await poller.pollOnce(byTime)).toMatchObject({ emitted: 0 });
    expect(await events()).toEqual([]);
  });

  it('recovers a saved state whose mark an older version raised into the future, and reads states without keysAhead', async () => {
    let items: unknown[] = [];
    const stateStore = jsonStore();
    const { poller, events, advance, now } = setup(async () => ({ items, state: null }), { stateStore });
    const year2099 = Date.parse('2099-01-01T00:00:00Z');
    const typo = { n: 'typo', updated_at: '2099-01-01T00:00:00Z' };
    // What the engine saved before it knew about dates ahead: the 2099 item was emitted and became the mark.
    const old: Omit<PollState, 'keysAhead'> = { version: 1, cursor: null, baselined: true, seenIds: [], highWater: year2099, keysAtHighWater: [], failures: 0, authFailures: 0 };
    await stateStore.save('sub2', old as PollState);
    advance(1_000);
    items = [typo, { n: 'real', updated_at: new Date(now()).toISOString() }];
    expect(await poller.pollOnce(byTime)).toMatchObject({ status: 'polled' });
    expect(await poller.pollOnce(byTime)).toMatchObject({ emitted: 0 });
    expect((await events()).map((e) => (e.payload as { n: string }).n)).toEqual(['typo', 'real']);
    expect(await stateStore.load('sub2')).toMatchObject({ highWater: now(), keysAhead: [expect.stringMatching(/^ts:4070908800000:/)] });
  });

  it('waits at least the Retry-After of a 429 before polling again (within the cap)', async () => {
    const { poller, now } = setup(async () => { throw new RateLimitedError(1_800); });
    const out = await poller.pollOnce(byId);
    expect(out).toMatchObject({ status: 'failed', error: { code: 'RATE_LIMITED', retryAfter: 1_800 } });
    expect(out.nextRunAt).toBe(now() + 1_800_000);
    const capped = setup(async () => { throw new RateLimitedError(10 ** 9); }, { maxBackoffMs: 7_200_000 });
    expect((await capped.poller.pollOnce(byId)).nextRunAt).toBe(capped.now() + 7_200_000);
  });

  it('fails a poll that outlasts its deadline with TIMEOUT and backs off, instead of hanging', async () => {
    const { poller, stateStore } = setup(() => new Promise(() => undefined), { pollTimeoutMs: 20 });
    expect(await poller.pollOnce(byId)).toMatchObject({ status: 'failed', error: { code: 'TIMEOUT' } });
    expect(await stateStore.load('sub1')).toMatchObject({ failures: 1, lastError: { code: 'TIMEOUT' } });
  });

  it('refuses a state that is not JSON as INVALID_OUTPUT, visibly, without emitting', async () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    let state: unknown = 1n;
    const { poller, stateStore, events } = setup(async () => ({ items: [{ id: 1 }], state }), { stateStore: jsonStore() });
    expect(await poller.pollOnce(byId)).toMatchObject({ status: 'failed', error: { code: 'INVALID_OUTPUT' } });
    state = circular;
    const { poller: p2 } = setup(async () => ({ items: [{ id: 1 }], state }), { stateStore: jsonStore() });
    expect(await p2.pollOnce(byId)).toMatchObject({ status: 'failed', error: { code: 'INVALID_OUTPUT' } });
    expect(await stateStore.load('sub1')).toMatchObject({ baselined: false, failures: 1, lastError: { code: 'INVALID_OUTPUT' } });
    expect(await events()).toEqual([]);
  });

  it('refuses a state larger than the limit as INVALID_OUTPUT', async () => {
    const { poller } = setup(async () => ({ items: [], state: { blob: 'x'.repeat(2_000) } }), { maxCursorBytes: 1_000 });
    expect(await poller.pollOnce(byId)).toMatchObject({ status: 'failed', error: { code: 'INVALID_OUTPUT' } });
  });

  it('stores the state as JSON, so every store passes the connector the same cursor back', async () => {
    const cursors: unknown[] = [];
    const { poller } = setup(async (_s, cursor) => {
      cursors.push(cursor);
      return { items: [], state: { since: new Date(0), gone: undefined } };
    });
    await poller.pollOnce(byId);
    await poller.pollOnce(byId);
    expect(cursors).toEqual([undefined, { since: '1970-01-01T00:00:00.000Z' }]);
  });

  it('treats a missing state as no cursor and still baselines once', async () => {
    let items: unknown[] = [{ id: 1 }];
    const { poller, events } = setup(async () => ({ items }) as never);
    expect(await poller.pollOnce(byId)).toMatchObject({ status: 'baseline' });
    items = [{ id: 2 }, { id: 1 }];
    expect(await poller.pollOnce(byId)).toMatchObject({ status: 'polled', emitted: 1 });
    expect((await events()).map((e) => e.key)).toEqual(['id:2']);
  });

  it('dedupes items re-sent out of order and duplicated within a page', async () => {
    let items: unknown[] = [{ id: 3 }, { id: 1 }];
    const { poller, events } = setup(async () => ({ items, state: null }));
    await poller.pollOnce(byId);
    items = [{ id: 5 }, { id: 1 }, { id: 4, v: 'a' }, { id: 4, v: 'b' }, { id: 3 }, { id: 5 }];
    expect(await poller.pollOnce(byId)).toMatchObject({ emitted: 2 });
    items = [{ id: 4 }, { id: 5 }, { id: 3 }];
    expect(await poller.pollOnce(byId)).toMatchObject({ emitted: 0 });
    expect((await events()).map((e) => e.key)).toEqual(['id:5', 'id:4']);
  });

  it('skips, with a warning, items no store can keep (a NUL, a lone surrogate) instead of failing every poll on them', async () => {
    const warnings: string[] = [];
    let items: unknown[] = [{ id: 'a' }];
    const { poller, events, stateStore } = setup(async () => ({ items, state: null }), { stateStore: jsonbStore(), log: (level, message) => void (level === 'warn' && warnings.push(message)) });
    await poller.pollOnce(byId);
    items = [{ id: 'a' }, { id: 'b\u0000' }, { id: 'c', name: 'Bob\u0000' }, { id: 'd', bio: '😀'.slice(0, 1) }, { id: 'e' }];
    expect(await poller.pollOnce(byId)).toMatchObject({ status: 'polled', emitted: 1 });
    expect(await poller.pollOnce(byId)).toMatchObject({ status: 'polled', emitted: 0 });
    expect((await events()).map((e) => e.key)).toEqual(['id:e']);
    expect(warnings.filter((w) => w.includes('cannot be stored'))).toHaveLength(6);
    expect(warnings.some((w) => w.includes('/name') && w.includes('NUL'))).toBe(true);
    expect(await stateStore.load('sub1')).toMatchObject({ failures: 0, seenIds: ['id:a', 'id:e'] });
  });

  it('refuses a state no store can keep (a NUL) as INVALID_OUTPUT before emitting, and records errors that quote one', async () => {
    const { poller, stateStore } = setup(async () => ({ items: [], state: { cursor: 'x\u0000' } }), { stateStore: jsonbStore() });
    expect(await poller.pollOnce(byId)).toMatchObject({ status: 'failed', error: { code: 'INVALID_OUTPUT', message: expect.stringContaining('NUL') } });
    const { poller: p2, stateStore: s2 } = setup(async () => { throw new ConnectorError('UPSTREAM_ERROR', 'bad row "a\u0000"'); }, { stateStore: jsonbStore() });
    expect(await p2.pollOnce(byId)).toMatchObject({ status: 'failed', error: { code: 'UPSTREAM_ERROR' } });
    expect(await s2.load('sub1')).toMatchObject({ failures: 1, lastError: { message: 'bad row "a\\u0000"' } });
    expect(await stateStore.load('sub1')).toMatchObject({ failures: 1, baselined: false });
  });

  it('appends a page of very many new items in parts, so no append exceeds what one transaction may store', async () => {
    let items: unknown[] = [];
    const sizes: number[] = [];
    const memory = createMemoryOutbox();
    const outbox: PollerOptions['outbox'] = { appendEvents: async (target, batch) => (sizes.push(batch.length), memory.appendEvents(target, batch)) };
    const { poller } = setup(async () => ({ items, state: null }), { outbox });
    await poller.pollOnce(byId);
    items = Array.from({ length: 25_001 }, (_, i) => ({ id: i }));
    expect(await poller.pollOnce(byId)).toMatchObject({ status: 'polled', emitted: 25_001 });
    expect(Math.max(...sizes)).toBeLessThanOrEqual(10_000);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(25_001);
  });

  it('does not fail the subscription when only the onAuthFailure hook misbehaves', async () => {
    const { poller } = setup(async () => { throw new ConnectorError('AUTH_FAILED', 'revoked'); }, {
      authFailureThreshold: 1,
      onAuthFailure: () => { throw new Error('db down'); },
    });
    expect(await poller.pollOnce(byId)).toMatchObject({ status: 'failed', error: { code: 'AUTH_FAILED' } });
  });

  it('reports the auth failures again after a hook that failed, and once only after it succeeded', async () => {
    // The hook marks the connection in the store; a store blip at the threshold must not leave a revoked key
    // polled (401 after 401, every max backoff) with the connection never marked.
    let hookFails = true;
    const calls: number[] = [];
    const { poller, advance } = setup(async () => { throw new ConnectorError('AUTH_FAILED', 'revoked'); }, {
      authFailureThreshold: 2,
      onAuthFailure: (_sub, _error, failures) => {
        calls.push(failures);
        if (hookFails) throw new Error('db down');
      },
    });
    for (let i = 0; i < 3; i += 1) {
      await poller.pollOnce(byId);
      advance(10 * 3_600_000);
      if (i === 1) hookFails = false;
    }
    expect(calls).toEqual([2, 3]);
    // Marked once: a hook that did its work is not called for each later failure of the same streak.
    for (let i = 0; i < 2; i += 1) {
      await poller.pollOnce(byId);
      advance(10 * 3_600_000);
    }
    expect(calls).toEqual([2, 3]);
  });
});
