import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisLock } from '../polling/redis-lock.ts';
import { createRedisPollStateStore, type PollState } from '../polling/state-store.ts';
import { createRedisRateLimiter } from '../ratelimit/token-bucket.ts';
import { redisUrlForTests } from '../testing/redis-env.ts';
import { createRedisSeenEvents } from './seen-events.ts';

const url = redisUrlForTests('triggers: Redis dedupe, rate limit, state, lock');

describe.skipIf(!url)('triggers: Redis dedupe, rate limit, state, lock (real Redis; skipped without REDIS_URL)', () => {
  let a: Redis;
  let b: Redis;
  const prefix = `bos-test:triggers:${randomUUID()}:`;

  beforeAll(() => {
    a = new Redis(url!, { maxRetriesPerRequest: 1 });
    b = new Redis(url!, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    const keys = await a.keys(`${prefix}*`);
    if (keys.length) await a.del(...keys);
    a.disconnect();
    b.disconnect();
  });

  it('SeenEvents: exactly one of many concurrent markSeen calls across clients wins, with the TTL set; processed marks are shared', async () => {
    const seenA = createRedisSeenEvents({ redis: a, prefix: `${prefix}seen:` });
    const seenB = createRedisSeenEvents({ redis: b, prefix: `${prefix}seen:` });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? seenA : seenB).markSeen('ep1', 'evt_1', 120)));
    expect(results.filter(Boolean)).toHaveLength(1);
    const ttl = await a.ttl(`${prefix}seen:ep1:evt_1`);
    expect(ttl).toBeGreaterThan(100);
    expect(ttl).toBeLessThanOrEqual(120);
    expect(await seenA.markSeen('ep2', 'evt_1', 120)).toBe(true);
    expect(await seenB.isProcessed('ep1', 'evt_1')).toBe(false);
    await seenA.markProcessed('ep1', 'evt_1', 120);
    expect(await seenB.isProcessed('ep1', 'evt_1')).toBe(true);
    expect(await seenB.markSeen('ep1', 'evt_1', 120)).toBe(false);
    expect(await a.ttl(`${prefix}seen:ep1:evt_1`)).toBeGreaterThan(100);
    await seenB.forget('ep1', 'evt_1');
    expect(await seenA.isProcessed('ep1', 'evt_1')).toBe(false);
    expect(await seenA.markSeen('ep1', 'evt_1', 120)).toBe(true);
  });

  it('SeenEvents: an id is new again once its TTL expired', async () => {
    const seen = createRedisSeenEvents({ redis: a, prefix: `${prefix}seen-exp:` });
    expect(await seen.markSeen('ep', 'e', 1)).toBe(true);
    await a.pexpire(`${prefix}seen-exp:ep:e`, 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(await seen.markSeen('ep', 'e', 1)).toBe(true);
  });

  it('SeenEvents: a NUL-prefixed body mark (ingress, for header ids) is its own key, apart from a look-alike id', async () => {
    const seen = createRedisSeenEvents({ redis: a, prefix: `${prefix}seen-nul:` });
    expect(await seen.markSeen('ep', '\u0000body:abc', 60)).toBe(true);
    expect(await seen.markSeen('ep', 'body:abc', 60)).toBe(true);
    await seen.markProcessed('ep', '\u0000body:abc', 60);
    expect(await seen.isProcessed('ep', '\u0000body:abc')).toBe(true);
    expect(await seen.isProcessed('ep', 'body:abc')).toBe(false);
    await seen.forget('ep', '\u0000body:abc');
    expect(await seen.markSeen('ep', '\u0000body:abc', 60)).toBe(true);
  });

  it('rate limiter: a burst is shared by all clients, concurrent takes never exceed it, and it refills', async () => {
    const opts = { burst: 5, perSecond: 2, prefix: `${prefix}rate:` };
    const la = createRedisRateLimiter({ redis: a, ...opts });
    const lb = createRedisRateLimiter({ redis: b, ...opts });
    const now = 1_700_000_000_000;
    const decisions = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? la : lb).take('ep1', now)));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(5);
    expect(decisions.find((d) => !d.allowed)?.retryAfterSeconds).toBe(1);
    expect((await la.take('ep2', now)).allowed).toBe(true);
    expect((await lb.take('ep1', now + 500)).allowed).toBe(true);
    expect((await la.take('ep1', now + 500)).allowed).toBe(false);
    const pttl = await a.pttl(`${prefix}rate:ep1`);
    expect(pttl).toBeGreaterThan(0);
  });

  it('poll state store and lock round-trip through Redis', async () => {
    const store = createRedisPollStateStore({ redis: a, prefix: `${prefix}state:` });
    const state: PollState = { version: 1, cursor: { since: 5 }, baselined: true, seenIds: ['id:1'], keysAtHighWater: [], failures: 0, authFailures: 0 };
    await store.save('s1', state);
    expect(await createRedisPollStateStore({ redis: b, prefix: `${prefix}state:` }).load('s1')).toEqual(state);
    await store.delete('s1');
    expect(await store.load('s1')).toBeUndefined();

    const lockA = createRedisLock({ redis: a, prefix: `${prefix}lock:` });
    const lockB = createRedisLock({ redis: b, prefix: `${prefix}lock:` });
    const token = await lockA.acquire('sub1', 10_000);
    expect(token).toBeDefined();
    expect(await lockB.acquire('sub1', 10_000)).toBeUndefined();
    await lockB.release('sub1', 'not-the-token');
    expect(await lockB.acquire('sub1', 10_000)).toBeUndefined();
    await lockA.release('sub1', token!);
    expect(await lockB.acquire('sub1', 10_000)).toBeDefined();
  });
});
